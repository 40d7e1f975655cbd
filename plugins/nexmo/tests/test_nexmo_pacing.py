"""Request pacing under an API key's per-second limit, on a clock the test drives."""

from __future__ import annotations

import threading

import pytest

from postroom_nexmo.pacing import Pacer, pacer_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_starts_are_spaced_by_the_rate():
    clock = Clock()
    pacer = Pacer(10, clock, clock.sleep)
    for _ in range(4):
        pacer.wait()
    assert clock.slept == [0.1, 0.2, 0.3]  # the first goes at once


def test_time_that_passed_counts():
    clock = Clock()
    pacer = Pacer(2, clock, clock.sleep)
    pacer.wait()
    clock.now += 5
    pacer.wait()
    clock.now += 0.2
    pacer.wait()
    assert clock.slept == [0.3]


def test_threads_get_distinct_slots():
    clock = Clock()
    pacer = Pacer(100, clock, clock.sleep)
    threads = [threading.Thread(target=pacer.wait) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(clock.slept) == pytest.approx([n / 100 for n in range(1, 20)])


def test_one_pacer_per_key():
    assert pacer_for("https://h", "key", 30) is pacer_for("https://h", "key", 30)
    assert pacer_for("https://h", "key", 30) is not pacer_for("https://h", "other", 30)
