"""``AsyncEngine``: the ``Engine`` API for asyncio apps (Starlette, FastAPI, Django async views).

::

    postroom = AsyncEngine.from_file("postroom.toml")

    @app.post("/book")
    async def book(request):
        ids = await postroom.send("office", to="ann@example.org", subject="Booked", text="...")

Each method is the ``Engine`` method of the same name, run in a worker
thread (``asyncio.to_thread``): ``send`` waits for its commit to disk, and
the event loop goes on serving other requests meanwhile. One ``Engine`` is
shared by all those threads, which it is made for (see ``Engine``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping

from postroom.credit_watch import LowCreditCallback
from postroom.engine import Engine


def _in_thread(method: Callable) -> Callable:
    @functools.wraps(method)
    async def call(self: AsyncEngine, *args, **kwargs):
        return await asyncio.to_thread(method, self.engine, *args, **kwargs)

    return call


class AsyncEngine:
    """Awaitable versions of ``Engine``'s methods over one shared ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_file(cls, path: str | os.PathLike | None = None, **kw) -> AsyncEngine:
        """As ``Engine.from_file``."""
        return cls(Engine.from_file(path, **kw))

    @classmethod
    def from_dict(cls, data: Mapping[str, object], **kw) -> AsyncEngine:
        """As ``Engine.from_dict``."""
        return cls(Engine.from_dict(data, **kw))

    send = _in_thread(Engine.send)
    notify = _in_thread(Engine.notify)
    preview = _in_thread(Engine.preview)
    validate = _in_thread(Engine.validate)
    test = _in_thread(Engine.test)
    credits = _in_thread(Engine.credits)
    estimate = _in_thread(Engine.estimate)
    queue = _in_thread(Engine.queue)
    log = _in_thread(Engine.log)
    cancel = _in_thread(Engine.cancel)
    requeue = _in_thread(Engine.requeue)
    record_report = _in_thread(Engine.record_report)
    run_worker = _in_thread(Engine.run_worker)
    flush = _in_thread(Engine.flush)
    disable = _in_thread(Engine.disable)
    enable = _in_thread(Engine.enable)
    reset_counter = _in_thread(Engine.reset_counter)
    sent_today = _in_thread(Engine.sent_today)
    status = _in_thread(Engine.status)
    close = _in_thread(Engine.close)

    def on_low_credit(self, callback: LowCreditCallback) -> LowCreditCallback:
        """``Engine.on_low_credit``: ``callback`` is called (not awaited) in the thread
        that read the balance."""
        return self.engine.on_low_credit(callback)

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


__all__ = ["AsyncEngine"]
