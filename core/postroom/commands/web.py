"""``postroom web``: serve the admin page with uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import click

from postroom.cli import EXIT_USAGE, Context, fail, listen_address, pass_context
from postroom.errors import ConfigError


@click.command()
@click.option("--host", callback=listen_address,
              help="Address to listen on (default: [web] host, else 127.0.0.1). "
                   "Anything but loopback lets other machines reach the page.")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Port to listen on (default: [web] port, else 8025).")
@pass_context
def web(obj: Context, host: str | None, port: int | None) -> None:
    """Serve the admin page: accounts, queue, delivery log, estimates, templates.

    Everyone logs in with [web] password; stop it with Ctrl-C.
    """
    try:
        import uvicorn

        from postroom.web import create_app
    except ImportError as exc:
        fail(f"the admin page needs its extra ({exc.name} is missing): "
             'pip install "postroom[web]"', EXIT_USAGE)
    engine = obj.engine(False)
    settings = engine.config.web
    try:
        app = create_app(engine)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    host = host or settings.host
    port = port or settings.port
    click.echo(f"postroom admin page on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
