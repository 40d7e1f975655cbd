"""Command groups of the ``postroom`` CLI that live in modules of their own."""
