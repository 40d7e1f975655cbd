"""A fast SMTP sink: accepts every message, keeps none, counts them.

    python bench/smtp_sink.py [--port 0] [--delay SECONDS] [--times PATH]

The stand-in for Postfix's ``smtp-sink`` where that cannot be had. It runs in
its own process (a sink sharing the client's interpreter would share its GIL
and slow the client down), offers ESMTP PIPELINING, and answers all the
commands that arrived in one read with one write, as a real server does. It
prints ``port=N`` once it listens, then ``sess=S quit=Q mesg=M`` after each
session, as ``smtp-sink -c`` does, so the benchmark reads both the same way.
It stops when its standard input closes (when the benchmark ends).

``--delay`` makes it take that long over each message before it answers the
end of its content (a server that does work per message; other sessions go
on meanwhile); ``--times`` appends the moment it took each message (epoch
seconds, a line each) to a file, written after each session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from common import serve_until_stdin_closes

EHLO = (b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 104857600\r\n"
        b"250 ENHANCEDSTATUSCODES\r\n")
REPLIES = {
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"RSET": b"250 2.0.0 Ok\r\n",
    b"NOOP": b"250 2.0.0 Ok\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}
END_OF_DATA = b"\r\n.\r\n"


class Counts:
    """Sessions, QUITs and messages seen so far, printed after each session;
    with ``times``, the moments messages were taken, appended to that file."""

    def __init__(self, times: Path | None = None) -> None:
        self.sessions = self.quits = self.messages = 0
        self.times = times
        self.taken: list[float] = []

    def took(self) -> None:
        self.messages += 1
        if self.times is not None:
            self.taken.append(time.time())

    def report(self) -> None:
        if self.times is not None and self.taken:
            with self.times.open("a") as handle:
                handle.write("".join(f"{at:.6f}\n" for at in self.taken))
            self.taken.clear()
        sys.stdout.write(f"sess={self.sessions} quit={self.quits} mesg={self.messages}\n")
        sys.stdout.flush()


class SinkProtocol(asyncio.Protocol):
    """One SMTP session: commands line by line, message content up to the lone dot."""

    def __init__(self, counts: Counts, delay: float = 0.0) -> None:
        self.counts = counts
        self.delay = delay
        self.buffer = bytearray()
        self.in_data = False
        self.busy = False  # taking a message: what arrives meanwhile waits in the buffer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(b"220 sink ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.counts.sessions += 1
        self.counts.report()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self.answer()

    def taken(self) -> None:
        """The delay is over: confirm the message, go on with what arrived meanwhile."""
        self.busy = False
        self.counts.took()
        if not self.transport.is_closing():
            self.transport.write(b"250 2.0.0 Ok: queued\r\n")
            self.answer()

    def answer(self) -> None:
        """Answer the commands in the buffer, in one write, up to a message to take."""
        out = bytearray()
        while True:
            if self.in_data:
                # The content starts right after 354, so an empty message is ".\r\n".
                if self.buffer.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end = self.buffer.find(END_OF_DATA)
                    skip = 5
                if end < 0:
                    break
                del self.buffer[:end + skip]
                self.in_data = False
                if self.delay:
                    self.busy = True
                    asyncio.get_running_loop().call_later(self.delay, self.taken)
                    break
                self.counts.took()
                out += b"250 2.0.0 Ok: queued\r\n"
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            verb = bytes(self.buffer[:4]).upper()
            del self.buffer[:end + 2]
            if verb == b"EHLO":
                out += EHLO
            else:
                out += REPLIES.get(verb, b"502 5.5.2 Error: command not recognized\r\n")
            if verb == b"DATA":
                self.in_data = True
            elif verb == b"QUIT":
                self.counts.quits += 1
                self.transport.write(bytes(out))
                self.transport.close()
                return
        if out:
            self.transport.write(bytes(out))


async def serve(port: int, delay: float = 0.0, times: Path | None = None) -> None:
    counts = Counts(times)
    server = await asyncio.get_running_loop().create_server(
        lambda: SinkProtocol(counts, delay), "127.0.0.1", port, backlog=512)
    await serve_until_stdin_closes(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--times", type=Path)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.delay, args.times))


if __name__ == "__main__":
    main()
