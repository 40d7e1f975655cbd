"""Integrations with application frameworks, each an optional extra."""
