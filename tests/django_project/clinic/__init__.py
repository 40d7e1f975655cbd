"""A small clinic site: bookings confirmed by email, invitations, reminders by SMS."""
