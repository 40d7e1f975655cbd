"""An ASGI app served by uvicorn on a free loopback port, in a thread, for the ``with`` block,
and a client logged in to the admin page it serves.

::

    with serving(create_app(engine, password="pw")) as url:
        session = log_in(url, "pw")
        session.get(url + "/queue")
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
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


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def log_in(url: str, password: str, name: str = "Ann") -> requests.Session:
    """A requests session logged in to the admin page at ``url``."""
    session = requests.Session()
    token = csrf_of(session.get(f"{url}/login", timeout=10).text)
    answer = session.post(f"{url}/login", data={"csrf": token, "name": name,
                                                "password": password, "next": ""},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    return session
