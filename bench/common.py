"""What the peer benchmarks share: the recipients, the templates, running one
peer in a fresh process, and the table of medians and ratios.

Each peer runs in a process of its own, once per round, so that no peer
inherits another's imports, caches or garbage; rounds rotate the order of the
peers, so that drift in a noisy machine spreads over all of them.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from attrs import define, field

# One template for every peer: postroom reads it from a template folder, the
# peers compile the same text with plain Jinja (postroom's is sandboxed).
TEMPLATES = {
    "subject.txt": "{{ recipient.name }}, your {{ club }} membership renews on {{ renews }}",
    "text.txt": (
        "Dear {{ recipient.name }},\n\n"
        "Your membership of {{ club }} (number {{ number }}) renews on {{ renews }}.\n"
        "The fee of {{ fee }} will be taken from your account a week before.\n\n"
        "If anything has changed, reply to this message.\n\n"
        "The membership team\n"),
    "sms.txt": ("{{ recipient.name }}, your {{ club }} membership {{ number }} renews on "
                "{{ renews }}: {{ fee }}."),
}
SHARED = {"club": "Riverside Rowing Club", "renews": "1 March", "fee": "EUR 120"}
SENDER = "bench@example.org"
SENDER_NAME = "Riverside Rowing"
SMS_SENDER = "Riverside"
SMS_SENDER_NUMBER = "447700900000"  # Apprise's vonage:// wants a number as the sender
EHLO_NAME = "bench.example.org"  # so that no peer asks DNS for this machine's name


@define
class Person:
    """One recipient: a name, an address and a mobile number, and their own value."""

    name: str
    email: str
    phone: str
    number: str


def people(count: int) -> list[Person]:
    """``count`` distinct recipients (valid UK mobile numbers, which only ever reach the
    local fakes, and example.org addresses)."""
    return [Person(f"Member {i:05d}", f"member{i}@example.org", f"+447911{i % 1000000:06d}",
                   f"R{100000 + i}") for i in range(count)]


def write_templates(folder: Path, name: str = "renewal") -> Path:
    """The postroom template folder; returns the folder of all templates."""
    (folder / name).mkdir(parents=True, exist_ok=True)
    for part, text in TEMPLATES.items():
        (folder / name / part).write_text(text)
    return folder


def jinja_templates() -> dict[str, object]:
    """The same templates, compiled with plain Jinja as an application would."""
    import jinja2

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                                     keep_trailing_newline=True)
    return {part.split(".")[0]: environment.from_string(text)
            for part, text in TEMPLATES.items()}


def values(person: Person) -> dict[str, object]:
    """What the peers' templates see for ``person`` (postroom builds the same itself)."""
    return {**SHARED, "number": person.number,
            "recipient": {"name": person.name, "to": person.email}}


def timed(function: Callable[[], int], profile: Path | None = None) -> dict:
    """Run ``function`` (which returns how many messages it sent) and time it:
    wall-clock seconds, and the CPU seconds of this process (all its threads),
    which the other work of a shared machine disturbs less."""
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    sent = function()
    if profiler:
        profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        profiler.dump_stats(profile)
        stats = pstats.Stats(str(profile), stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
    return {"seconds": seconds, "cpu": cpu, "sent": sent}


async def serve_until_stdin_closes(server: asyncio.Server) -> None:
    """For a local server run by a benchmark: say its port on standard output,
    then serve until the benchmark that started it closes its standard input."""
    print(f"port={server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


def run_peer(script: Path, peer: str, arguments: Sequence[str], timeout: float,
             environment: Mapping[str, str] | None = None) -> dict:
    """Run one peer once in a fresh process (``environment`` added to ours); its JSON answer."""
    done = subprocess.run([sys.executable, str(script), "--peer", peer, *arguments],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(environment or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{peer} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Sink(Protocol):
    """A local server that counts what it received (``sinks.py``)."""

    def count(self, expected: int | None = None) -> int: ...


@define
class Results:
    """Times per peer over the rounds, and the sink's count for each run."""

    workload: str
    count: int
    # The peers postroom is compared with, each with how many times faster than
    # it postroom must be (None: compared, no target); the first is the headline.
    targets: dict[str, float | None]
    seconds: dict[str, list[float]] = field(factory=dict)
    cpu: dict[str, list[float]] = field(factory=dict)
    notes: list[str] = field(factory=list)

    def add(self, peer: str, seconds: float, cpu: float) -> None:
        self.seconds.setdefault(peer, []).append(seconds)
        self.cpu.setdefault(peer, []).append(cpu)

    def record(self, peer: str, round_number: int, answer: dict, share: int, received: int,
               counter: str, log: Callable[[str], None]) -> None:
        """Check a peer's run against what the sink counted, scale it to N, log it.

        ``share`` is how many the peer was asked to send (fewer than N for a
        slow peer); ``counter`` says who counted ``received`` ("the sink counted").
        """
        if answer["sent"] != share or received != share:
            raise RuntimeError(f"{peer} reported {answer['sent']} sent, {counter} {received}, "
                               f"of {share}")
        scale = self.count / share
        self.add(peer, answer["seconds"] * scale, answer["cpu"] * scale)
        log(f"  {self.workload.split(',')[0]} round {round_number + 1}: {peer:<9} "
            f"{answer['seconds'] * scale:6.2f} s"
            + (f" ({share} sent, scaled to {self.count})" if share != self.count else ""))

    def run_rounds(self, script: Path, peers: Sequence[str], rounds: int, sink: Sink,
                   arguments: Sequence[str], apprise_share: float, counter: str,
                   timeout: float, log: Callable[[str], None],
                   environment: Mapping[str, str] | None = None) -> None:
        """Every peer once per round, the order rotating, each run in a fresh
        process of ``script`` (with ``environment`` added to its own) and checked
        against what ``sink`` counted.

        Apprise sends ``apprise_share`` of N (a connection per message makes
        it slow) and its times are scaled up to N.
        """
        for round_number in range(rounds):
            for peer in rotated(peers, round_number):
                share = (max(1, round(self.count * apprise_share)) if peer == "apprise"
                         else self.count)
                before = sink.count()
                answer = run_peer(script, peer, [*arguments, "--count", str(share)], timeout,
                                  environment)
                self.record(peer, round_number, answer, share,
                            sink.count(before + share) - before, counter, log)
                time.sleep(0.2)  # let the sink settle between peers
        self.note_scaled(peers, apprise_share)

    def note_scaled(self, peers: Sequence[str], apprise_share: float) -> None:
        if "apprise" in peers and apprise_share < 1:
            self.notes.append(f"apprise sent {apprise_share:.0%} of N each round; its times "
                              "are scaled to N (a connection per message: linear)")

    def median(self, peer: str) -> float:
        return statistics.median(self.seconds[peer])

    def speedup(self, peer: str) -> float | None:
        """How many times faster postroom is than ``peer`` (medians)."""
        if "postroom" not in self.seconds or peer not in self.seconds:
            return None
        return self.median(peer) / self.median("postroom")

    def table(self) -> str:
        """A Markdown table: median, spread, rate and the ratio to postroom."""
        base = self.median("postroom") if "postroom" in self.seconds else None
        cpu_base = statistics.median(self.cpu["postroom"]) if base else None
        lines = [f"| {self.title()} | median s | min-max s | msg/s | time / postroom's "
                 "| client CPU s | CPU / postroom's |", "|---|---:|---:|---:|---:|---:|---:|"]
        for peer in self.seconds:
            times = self.seconds[peer]
            median = self.median(peer)
            cpu = statistics.median(self.cpu[peer])
            lines.append(f"| {peer} | {median:.2f} | {min(times):.2f}-{max(times):.2f} | "
                         f"{self.count / median:,.0f} | "
                         f"{f'{median / base:.2f}x' if base else '-'} | {cpu:.2f} | "
                         f"{f'{cpu / cpu_base:.2f}x' if cpu_base else '-'} |")
        return "\n".join([*lines, "", *self.verdicts(), *self.notes])

    def verdicts(self) -> list[str]:
        """``postroom is 2.10x as fast as django (target >= 2x): met`` (or ``MISSED``,
        or ``(no target)``), one line for each peer compared."""
        lines = []
        for peer, target in self.targets.items():
            speedup = self.speedup(peer)
            if speedup is None:
                continue
            verdict = ("(no target)" if target is None else f"(target >= {target:g}x): "
                       + ("met" if speedup >= target else "MISSED"))
            lines.append(f"postroom is {speedup:.2f}x as fast as {peer} {verdict}")
        return lines

    def title(self) -> str:
        return f"{self.workload}: N = {self.count:,}"

    def as_json(self) -> dict:
        return {"workload": self.workload, "count": self.count, "targets": self.targets,
                "seconds": self.seconds, "cpu": self.cpu,
                "medians": {peer: self.median(peer) for peer in self.seconds},
                "speedups": {peer: self.speedup(peer) for peer in self.targets},
                "notes": self.notes}


def rotated(peers: Sequence[str], round_number: int) -> list[str]:
    """The peers in this round's order: each round starts one further along."""
    shift = round_number % len(peers)
    return list(peers[shift:]) + list(peers[:shift])
