"""Command groups of the ``postroom`` CLI, one module each, registered in ``postroom.cli``."""
