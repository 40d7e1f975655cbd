"""AsyncEngine in a real ASGI app served by uvicorn on loopback, and one Engine shared
by many threads."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import uvicorn
from loopback.smtp import running_smtp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postroom import AsyncEngine, Engine, MessageError


def smtp_config(server, tmp_path) -> dict:
    return {"store": {"path": str(tmp_path / "outbox.db")},
            "region": "GB",
            "accounts": {"office": {"provider": "smtp", "host": server.host,
                                    "port": server.port, "security": "none",
                                    "sender_email": "desk@clinic.example"},
                         "texts": {"provider": "sms_file", "path": str(tmp_path / "sms.jsonl")}}}


def booking_app(postroom: AsyncEngine) -> Starlette:
    async def book(request: Request) -> JSONResponse:
        form = await request.json()
        try:
            ids = await postroom.send("office", to=form["email"], subject="Booked",
                                      text=f"Booking {form['n']} confirmed.")
        except MessageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ids": ids})

    async def queue(request: Request) -> JSONResponse:
        rows = await postroom.queue()
        return JSONResponse({row.account: row.waiting for row in rows})

    return Starlette(routes=[Route("/book", book, methods=["POST"]),
                             Route("/queue", queue)])


class Served:
    """uvicorn serving an app on 127.0.0.1 in a thread, on a port the OS picks."""

    def __init__(self, app) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def test_an_asgi_app_sends_through_the_async_api(tmp_path):
    with running_smtp() as smtp:
        postroom = AsyncEngine.from_dict(smtp_config(smtp, tmp_path))
        with Served(booking_app(postroom)) as url, requests.Session() as http, \
                ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda n: http.post(f"{url}/book", json={"email": f"p{n}@example.org", "n": n},
                                    timeout=30), range(40)))
            assert [a.status_code for a in answers] == [200] * 40
            ids = [a.json()["ids"][0] for a in answers]
            assert len(set(ids)) == 40
            assert http.get(f"{url}/queue", timeout=30).json() == {"office": 40}
            refused = http.post(f"{url}/book", json={"email": "nobody", "n": 0}, timeout=30)
            assert refused.status_code == 400 and "to:" in refused.json()["error"]
        report = asyncio.run(postroom.run_worker(once=True, wait=0))
        asyncio.run(postroom.close())
        assert report.sent == 40
        assert sorted(r.recipients[0] for r in smtp.received) == sorted(
            f"p{n}@example.org" for n in range(40))


def test_async_calls_let_the_event_loop_run_meanwhile(tmp_path):
    postroom = AsyncEngine.from_dict({"store": {"path": str(tmp_path / "o.db")}, "region": "GB",
                                      "accounts": {"texts": {"provider": "sms_file",
                                                             "path": str(tmp_path / "s.jsonl")}}})

    async def main() -> tuple[list[list[str]], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        beat = asyncio.create_task(ticker())
        sent = await asyncio.gather(*(postroom.send("texts", to=f"07700 9001{n:02d}", text="hi")
                                      for n in range(30)))
        beat.cancel()
        return sent, ticks

    sent, ticks = asyncio.run(main())
    assert len({i for ids in sent for i in ids}) == 30
    assert ticks > 0  # the loop went on turning while the sends waited for the disk
    assert postroom.send.__doc__ == Engine.send.__doc__
    with pytest.raises(MessageError, match="to"):
        asyncio.run(postroom.send("texts", to="12", text="hi"))


def test_one_engine_is_shared_safely_by_many_threads(tmp_path, echo_settings, registry):
    engine = Engine.from_dict({"store": {"path": str(tmp_path / "o.db")},
                               "accounts": {"desk": echo_settings}},
                              registry=registry, environ={"ECHO_SECRET": "s"})

    def sender(thread: int) -> list[str]:
        return [engine.send("desk", to=f"t{thread}-{n}@example.org", subject="s", text=".")[0]
                for n in range(100)]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(sender, range(8)) for i in batch]
    assert len(set(ids)) == 800
    [row] = engine.queue()
    assert row.waiting == 800
    workers = [threading.Thread(target=lambda: engine.run_worker(once=True, wait=0))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(entry.message_id for entry in engine.log(outcome="accepted", limit=1000)) \
        == sorted(ids)
