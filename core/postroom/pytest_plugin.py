"""pytest plugin: the test mode for apps (filled in below)."""
