"""An SMTP server that records how a client's bytes arrive: one entry per read.

::

    with running_read_recorder(tls_context=ctx) as server:
        ...                  # send through server.port with STARTTLS
        server.reads         # [b"EHLO ...", ..., b"...\\r\\n.\\r\\nMAIL FROM:<...>..."]

Over TLS each read returns what one TLS record carried (OpenSSL never
returns data from two records at once), so ``reads`` shows which bytes the
client wrote together. It offers PIPELINING and STARTTLS, accepts every
message, and answers each read's complete commands in one write, as Postfix
does. Blocking sockets, a thread per connection: nothing is merged behind
the test's back, as an event loop's buffering could.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"
_EHLO = (b"250-recorder\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n"
         b"250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n")
_REPLIES = {b"MAIL": b"250 2.1.0 Ok\r\n", b"RCPT": b"250 2.1.5 Ok\r\n",
            b"RSET": b"250 2.0.0 Ok\r\n", b"NOOP": b"250 2.0.0 Ok\r\n"}


class _Session(socketserver.BaseRequestHandler):
    server: _RecordingServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        sock.sendall(b"220 recorder ESMTP\r\n")
        pending, in_data = b"", False
        while chunk := sock.recv(65536):
            self.server.record(chunk)
            pending += chunk
            out = b""
            while True:
                if in_data:
                    # The content starts right after 354: an empty message is ".\r\n".
                    if pending.startswith(b".\r\n"):
                        cut = 3
                    elif (end := pending.find(b"\r\n.\r\n")) >= 0:
                        cut = end + 5
                    else:
                        break
                    pending = pending[cut:]
                    in_data = False
                    self.server.count_message()
                    out += b"250 2.0.0 Ok: queued\r\n"
                    continue
                line, found, rest = pending.partition(b"\r\n")
                if not found:
                    break
                pending, verb = rest, line.split(b" ", 1)[0].upper()
                if verb == b"EHLO":
                    out += _EHLO
                elif verb == b"DATA":
                    out += b"354 End data with <CR><LF>.<CR><LF>\r\n"
                    in_data = True
                elif verb == b"STARTTLS":
                    sock.sendall(out + b"220 2.0.0 Ready to start TLS\r\n")
                    sock = self.server.tls_context.wrap_socket(sock, server_side=True)
                    out, pending = b"", b""
                elif verb == b"QUIT":
                    sock.sendall(out + b"221 2.0.0 Bye\r\n")
                    return
                else:
                    out += _REPLIES.get(verb, b"502 5.5.2 Error: command not recognized\r\n")
            if out:
                sock.sendall(out)


class _RecordingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    host = HOST

    def __init__(self, tls_context: ssl.SSLContext) -> None:
        super().__init__((HOST, 0), _Session)
        self.tls_context = tls_context
        self.reads: list[bytes] = []
        self.messages = 0
        self._lock = threading.Lock()

    def record(self, chunk: bytes) -> None:
        with self._lock:
            self.reads.append(chunk)

    def count_message(self) -> None:
        with self._lock:
            self.messages += 1

    @property
    def port(self) -> int:
        return self.server_address[1]


@contextmanager
def running_read_recorder(tls_context: ssl.SSLContext) -> Iterator[_RecordingServer]:
    """Run the recorder on a free loopback port until the block ends."""
    server = _RecordingServer(tls_context)
    thread = threading.Thread(target=server.serve_forever, name="smtp read recorder",
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
