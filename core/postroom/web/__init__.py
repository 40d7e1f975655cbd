"""The admin page: accounts, queue, delivery log, estimates and templates in a browser.

``create_app(engine)`` is an ASGI app (Starlette) to mount in any ASGI site or
serve alone with ``postroom web``. Needs the extra: ``pip install "postroom[web]"``.
"""

from postroom.web.app import create_app

__all__ = ["create_app"]
