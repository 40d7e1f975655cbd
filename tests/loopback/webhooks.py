"""postroom's webhook app served on 127.0.0.1 for a test: by the WSGI server
``postroom webhooks serve`` uses, or by uvicorn as an ASGI app.

    with serve_webhooks(engine) as base:          # "http://127.0.0.1:PORT"
        requests.post(f"{base}/texts/", data=...)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from postroom import Engine
from postroom.webhooks import asgi_app, webhook_server


@contextmanager
def serve_webhooks(engine: Engine) -> Iterator[str]:
    """The WSGI app on the threaded stand-alone server; yields its base URL."""
    server = webhook_server(engine, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="webhooks", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_asgi(engine: Engine) -> Iterator[str]:
    """The ASGI app under uvicorn; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(asgi_app(engine), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="webhooks-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
