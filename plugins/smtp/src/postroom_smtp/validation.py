"""Offline checks of an ``smtp`` account: contradictions, half-given logins, weak settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from postroom import Problem
from postroom_smtp.config import SmtpConfig
from postroom_smtp.transport.endpoint import POP3_PORTS, SMTP_PORTS, Endpoint


def _port_matches_security(server: Endpoint, ports: dict[str, int]) -> list[Problem]:
    """SSL on the STARTTLS port, or plain/STARTTLS on the SSL port."""
    security, port = server.setting("security"), server.setting("port")
    ssl_port = ports["ssl"]
    if server.security == "ssl" and server.port == ports["starttls"]:
        return [Problem.error(security, f'security = "ssl" on port {server.port}, the '
                              "port for plain text upgraded with STARTTLS",
                              f'set {security} = "starttls" for port {server.port}, or '
                              f"{port} = {ssl_port} to keep SSL")]
    if server.security != "ssl" and server.port == ssl_port:
        return [Problem.error(security, f'security = "{server.security}" on port '
                              f"{ssl_port}, which expects SSL from the first byte",
                              f'set {security} = "ssl" for port {ssl_port}, or {port} = '
                              f"{ports['starttls']} for STARTTLS")]
    return []


def _host_is_a_name(server: Endpoint) -> list[Problem]:
    """A server name only: no URL, no port (a lone colon; IPv6 addresses have several)."""
    host, field = server.host, server.setting("host")
    if not host.strip():
        return [Problem.error(field, "the server name is empty",
                              f"set {field} to the server's name, such as smtp.example.org")]
    if "/" in host or host.count(":") == 1:
        name = urlsplit(host if "://" in host else f"//{host}").hostname or ""
        return [Problem.error(field, f"{host!r} is not just a server name",
                              f'set {field} = "{name}" and put the port in '
                              f"{server.setting('port')}")]
    return []


def _login_complete(username: str | None, password: object, prefix: str = "") -> list[Problem]:
    if username and not password:
        return [Problem.error(prefix + "password", "a user name is set but no password",
                              f"set {prefix}password (for example {{ env = \"SMTP_PASSWORD\" }}),"
                              f" or remove {prefix}username if the server needs no login")]
    if password and not username:
        return [Problem.error(prefix + "username", "a password is set but no user name",
                              f"set {prefix}username, or remove {prefix}password")]
    return []


def _plaintext_password(server: Endpoint) -> list[Problem]:
    if server.security != "none":
        return []
    return [Problem.warning(server.setting("security"),
                            f"the password goes to {server.service.upper()} unencrypted "
                            'with security = "none"; anyone on the network can read it',
                            f'set {server.setting("security")} = "starttls" or "ssl" if the '
                            "server supports it")]


def tls_ca_file_problems(ca_file: Path | None) -> list[Problem]:
    """A ``tls_ca_file`` that is set but is not a file."""
    if ca_file is None or ca_file.is_file():
        return []
    return [Problem.error("tls_ca_file", f"{ca_file} is not a file",
                          "point tls_ca_file at the CA certificate (a PEM file); "
                          "relative paths start at the config file's folder")]


def problems(config: SmtpConfig) -> list[Problem]:
    """Every mistake in ``config`` that can be found without going online."""
    found = _host_is_a_name(config.server) + _port_matches_security(config.server, SMTP_PORTS)
    found += _login_complete(config.username, config.password)
    if config.username and config.password:
        found += _plaintext_password(config.server)
    if config.security != "none" and not config.tls_verify:
        found.append(Problem.warning(
            "tls_verify", "certificate checks are off: the connection is encrypted, but "
            "anyone in between can pose as the server and read the password and mail",
            "set tls_ca_file to the server's CA certificate instead and remove "
            "tls_verify = false"))
    found += tls_ca_file_problems(config.tls_ca_file)
    pop3_server = config.pop3_server
    if pop3_server is not None:
        found += _host_is_a_name(pop3_server) + _port_matches_security(pop3_server, POP3_PORTS)
        if not (config.pop3_username and config.pop3_password):
            found.append(Problem.error(
                "pop3", "POP-before-SMTP needs a user name and password",
                "set pop3.username and pop3.password, or username and password for the "
                "account (POP3 uses those when its own are not set)"))
        else:
            found += _plaintext_password(pop3_server)
    return found
