"""``manage.py postroom_worker [--once] [-a ACCOUNT]``: ``postroom worker`` on Django's settings.

SIGTERM or Ctrl-C finish the batch in hand, then stop, as with the CLI.
"""

from postroom.contrib.django.management.commands._cli import PassThrough


class Command(PassThrough):
    help = "Send queued messages within each account's schedule (postroom worker)."
    prefix = ("worker",)
