"""``[delivery] concurrency``: one worker sending several batches at once, each on its
own connection, on each store; the store's limits hold across its lanes as across
workers, and every message goes once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from loopback.smtp import EveryCommand, Stall, running_smtp
from loopback.workers import smtp_config

from postroom import ConfigError, EmailMessage, Engine

pytestmark = pytest.mark.timeout(90)


def most_sessions_at_once(received) -> int:
    """The most connections that were between their first and last message at one moment."""
    spans: dict[int, list[float]] = {}
    for message in received:
        first, last = spans.setdefault(message.connection, [message.at, message.at])
        spans[message.connection] = [min(first, message.at), max(last, message.at)]
    return max(sum(1 for first, last in spans.values() if first <= at <= last)
               for at in (message.at for message in received))


def queue(engine: Engine, count: int) -> list[str]:
    return engine.send("mail", *[EmailMessage(to=f"p{i}@example.org", subject=f"n{i}",
                                              text="x") for i in range(count)])


@pytest.mark.parametrize("lanes", [1, 3])
def test_lanes_send_their_batches_at_once_and_each_message_once(tmp_path, store_settings,
                                                                 lanes):
    # The server takes 30 ms over each message: batches of 5 from one lane follow one
    # another, and three lanes keep three sessions open together.
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.03))]) as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             delivery={"batch_size": 5, "concurrency": lanes},
                             store=store_settings)
        with Engine.from_file(config) as engine:
            ids = queue(engine, 30)
            report = engine.run_worker(once=True, wait=0)
            assert (report.sent, report.dead, report.left, report.batches) == (30, 0, 0, 6)
            assert Counter(e.message_id for e in engine.log(outcome="accepted", limit=100)) \
                == Counter(ids)
        received = list(server.received)
    assert Counter(m.postroom_id for m in received) == Counter(ids)  # none twice
    assert len({m.connection for m in received}) == 6  # a session a batch
    if lanes == 1:
        assert most_sessions_at_once(received) == 1
    else:
        assert most_sessions_at_once(received) >= 2


def test_a_limit_holds_across_the_lanes_of_a_worker(tmp_path, store_settings):
    with running_smtp() as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             delivery={"batch_size": 2, "concurrency": 4},
                             accounts={"mail": {"per_minute": 7}}, store=store_settings)
        with Engine.from_file(config) as engine:
            queue(engine, 20)
            report = engine.run_worker(once=True, wait=0)
            (row,) = engine.queue()
        assert (report.sent, report.left) == (7, 13)
        assert (row.sent, row.waiting, row.in_flight) == (7, 13, 0)
        assert len(server.received) == 7


def test_a_lane_waiting_while_another_sends_looks_again_when_that_batch_ends(
        tmp_path, store_settings):
    # One lane takes the whole batch; the other finds it in flight and waits for its
    # lease (two minutes, within the run's wait of ten). Woken when the batch ends,
    # it finds nothing left and the run ends; had it slept on, the run would outlast
    # the lease.
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.2))]) as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             delivery={"batch_size": 10, "concurrency": 2, "lease": 120,
                                       "poll": 3600}, store=store_settings)
        with Engine.from_file(config) as engine:
            queue(engine, 3)
            reports, stop = [], threading.Event()
            run = threading.Thread(target=lambda: reports.append(
                engine.run_worker(once=True, wait=600, stop=stop)), daemon=True)
            run.start()
            run.join(60)
            stalled = run.is_alive()
            stop.set()
            run.join(10)
    assert not stalled, "the idle lane slept through the end of the other lane's batch"
    assert (reports[0].sent, reports[0].batches) == (3, 1)


def test_concurrency_given_to_run_worker_wins_over_the_config(tmp_path):
    with running_smtp(faults=[EveryCommand("DATA", Stall(0.03))]) as server:
        config = smtp_config(tmp_path / "postroom.toml", server.port,
                             delivery={"batch_size": 4, "concurrency": 1})
        with Engine.from_file(config) as engine:
            queue(engine, 16)
            assert engine.run_worker(once=True, wait=0, concurrency=4).sent == 16
        assert most_sessions_at_once(server.received) >= 2


@pytest.mark.parametrize("value", [0, 65, 2.5, "2"])
def test_a_concurrency_out_of_range_is_refused_naming_the_setting(tmp_path, value):
    config = smtp_config(tmp_path / "postroom.toml", 2525, delivery={"concurrency": value})
    with pytest.raises(ConfigError) as caught:
        Engine.from_file(config)
    assert "delivery.concurrency" in str(caught.value)
    assert "a whole number from 1 to 64" in str(caught.value)
