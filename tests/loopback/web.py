"""An ASGI app served by uvicorn on a free loopback port, in a thread, for the ``with`` block.

::

    with serving(create_app(engine, password="pw")) as url:
        requests.get(url + "/login")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

HOST = "127.0.0.1"


@contextmanager
def serving(app, start_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1; yield its base URL; stop it afterwards."""
    config = uvicorn.Config(app, host=HOST, port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test web server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
