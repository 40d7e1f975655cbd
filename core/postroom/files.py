"""Reading a file a person named: only a regular file, and only up to a size.

A config file, a secret file or an attachment may be named wrongly or with
ill will: a FIFO blocks ``open`` until someone writes to it, ``/dev/zero``
never ends, a folder cannot be read. ``read_regular_file`` opens without
blocking, checks what the path is, and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a named pipe (FIFO)",
         stat.S_IFCHR: "a device", stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


class UnreadableFile(Exception):
    """The file cannot be used; ``reason`` says why, worded to follow
    "cannot read FILE: " (``it is a folder, not a regular file``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def size_text(size: float) -> str:
    """A size as people read it: ``512 bytes``, ``64 KiB``, ``25 MiB``."""
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path``; raises ``UnreadableFile`` for anything
    else (a folder, pipe, device or socket), for a file larger than ``limit`` bytes,
    and for what the system refuses (no such file, no permission)."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or type(exc).__name__) from None
    except ValueError:  # a NUL in the name, which no file name holds
        raise UnreadableFile("no file name holds a NUL character") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(f"it is {KINDS.get(stat.S_IFMT(mode), 'not a regular file')}"
                                 ", not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)
    if size > limit:
        raise UnreadableFile(f"it is larger than {size_text(limit)}")
    return b"".join(chunks)


def file_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (``"a folder"``), else None;
    None too when nothing is there."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # nothing there, or a name no file can have
        return None
    return None if stat.S_ISREG(mode) else KINDS.get(stat.S_IFMT(mode), "not a regular file")
