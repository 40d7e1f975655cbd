"""``manage.py postroom ...``: the ``postroom`` command on Django's configuration."""

from postroom.contrib.django.management.commands._cli import PassThrough


class Command(PassThrough):
    help = "The postroom command (queue, log, send, validate, ...) on this project's settings."
