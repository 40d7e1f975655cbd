"""Real servers on loopback for tests and benchmarks: SMTP, POP3, provider HTTP APIs.

Importable as ``loopback`` (pytest puts ``tests/`` on the path), so plugin
tests and benchmarks use the same servers.
"""
