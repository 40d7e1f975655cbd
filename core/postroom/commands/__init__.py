"""``postroom`` subcommands that live in modules of their own, registered in ``postroom.cli``."""
