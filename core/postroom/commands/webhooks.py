"""``postroom webhooks serve``: the webhook app as a process of its own."""

from __future__ import annotations

import logging
import signal
import sys

import click

from postroom.cli import Context, emit, fail, json_option, listen_address, pass_context
from postroom.webhooks import webhook_server


@click.group()
def webhooks() -> None:
    """Take delivery reports, replies and STOP from providers' webhooks."""


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, callback=listen_address,
              help="Address to listen on; 0.0.0.0 for every interface.")
@click.option("--port", type=click.IntRange(0, 65535), default=8025, show_default=True,
              help="Port to listen on (0: any free one, shown at start).")
@json_option
@pass_context
def serve(obj: Context, host: str, port: int, as_json: bool) -> None:
    """Serve /ACCOUNT/... for every account until SIGTERM or Ctrl-C.

    Give each provider the address https://YOUR-HOST/ACCOUNT/ (through a
    proxy that terminates TLS). Refused calls are logged on standard error.
    """
    engine = obj.engine(as_json)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = webhook_server(engine, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1, as_json)
    signal.signal(signal.SIGTERM, _stop)
    url = f"http://{host}:{server.server_port}/ACCOUNT/"
    accounts = list(engine.config.accounts)
    emit(as_json, {"url": url, "accounts": accounts},
         f"serving webhooks on {url} for {', '.join(accounts) or 'no accounts'} "
         "(SIGTERM or Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.close()
