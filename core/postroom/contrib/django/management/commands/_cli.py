"""Running the ``postroom`` command inside ``manage.py``, on Django's configuration."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from django.core.management.base import BaseCommand, CommandError

from postroom.cli import Context, cli
from postroom.contrib.django.engine import engine


def run_cli(args: Sequence[str], prog_name: str) -> None:
    """Run ``postroom ARGS`` with the engine of Django's settings; exits with its code."""
    cli.main(args=list(args), prog_name=prog_name, obj=Context(None, engine))


class PassThrough(BaseCommand):
    """A management command whose arguments all go to the ``postroom`` command.

    ``--help``, ``--json`` and exit codes are the CLI's own (2 for a usage or
    configuration error, 1 for a failed check or send).
    """

    #: what comes before the arguments: () for ``postroom``, ("worker",) for ``postroom_worker``
    prefix: tuple[str, ...] = ()

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER)

    def prog_name(self) -> str:
        return f"manage.py {self.__module__.rpartition('.')[2]}"

    def run_from_argv(self, argv: list[str]) -> None:
        # Django's own parser would take --help and the CLI's options for its own.
        run_cli([*self.prefix, *argv[2:]], self.prog_name())

    def handle(self, *args: str, **options) -> None:
        """For ``call_command``: a failing command raises ``CommandError`` with its code."""
        try:
            run_cli([*self.prefix, *args], self.prog_name())
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise CommandError(f"{self.prog_name()} {' '.join(args)} failed",
                                   returncode=exc.code if isinstance(exc.code, int) else 1
                                   ) from None
