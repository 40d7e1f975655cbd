"""The render time budget: a watchdog thread stops a render at its deadline, in
the thread that renders, and leaves nothing pending once a render has ended."""

from __future__ import annotations

import threading
import time

import pytest

from postroom.templating.budget import RenderTimeout, time_budget

pytestmark = pytest.mark.timeout(60)


def spin(seconds: float) -> int:
    """Busy work in Python code for about ``seconds``."""
    end, count = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        count += 1
    return count


def test_a_render_past_its_budget_is_stopped():
    started = time.monotonic()
    with pytest.raises(RenderTimeout), time_budget(0.2):
        spin(30)
    assert time.monotonic() - started < 5


def test_a_render_within_its_budget_leaves_nothing_behind():
    for _ in range(50):
        with time_budget(0.05):
            spin(0.001)
    spin(0.3)  # a stray timeout would land here


def test_a_timeout_swallowed_by_the_code_inside_comes_again():
    swallowed = []

    def careless() -> None:
        try:
            spin(30)
        except Exception as exc:  # as a filter catching too much might
            swallowed.append(exc)
        spin(30)

    with pytest.raises(RenderTimeout), time_budget(0.1):
        careless()
    assert len(swallowed) == 1 and isinstance(swallowed[0], RenderTimeout)


def test_renders_in_several_threads_each_get_their_own_deadline():
    outcomes: dict[str, str] = {}

    def render(name: str, budget: float, work: float) -> None:
        try:
            with time_budget(budget):
                spin(work)
            outcomes[name] = "done"
        except RenderTimeout:
            outcomes[name] = "stopped"

    threads = [threading.Thread(target=render, args=("quick", 5.0, 0.05)),
               threading.Thread(target=render, args=("slow", 0.2, 30)),
               threading.Thread(target=render, args=("fine", 5.0, 0.3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == {"quick": "done", "slow": "stopped", "fine": "done"}
