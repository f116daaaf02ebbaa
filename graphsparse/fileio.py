"""Generic crash-safe file helpers used across graphsparse: atomic writes and JSON-lines results.

* :func:`atomic_write` — write a file through a temporary file + rename, so it is never
  half-written (the graphsparse file format, :mod:`graphsparse.masks.io`, is written this way).
* :func:`append_jsonl` / :func:`read_jsonl` — resumable results files: one complete JSON row per
  single ``O_APPEND`` write, read back in order.
* :func:`exclusive_lock` — one writer per folder: an ``fcntl.flock`` held for a block, the
  holder's pid written into the lock file.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
>>> append_jsonl(path, {"seed": 0, "acc": 0.5})
>>> read_jsonl(path)
[{'acc': 0.5, 'seed': 0}]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FolderLockedError", "atomic_write", "append_jsonl", "exclusive_lock", "read_jsonl"]


def atomic_write(path: str | os.PathLike, write, *, binary: bool = True) -> Path:
    """Write ``path`` so that it is never half-written: ``write(f)`` fills a temporary file in
    the same folder, which is flushed, fsynced and renamed over ``path`` (the temporary file is
    removed if anything fails). ``binary``: open the temporary file in ``"wb"`` or ``"w"`` mode."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """Append ``row`` to a results file as one JSON line: a single ``O_APPEND`` write of the
    complete line, then ``fsync`` — an interrupted run never leaves half a row, and several
    processes may append to one file."""
    line = (json.dumps(row, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {str(path)!r} ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The rows of a file written by :func:`append_jsonl`, in order (``[]`` if it does not exist).

    Raises ``ValueError`` naming the line if a line is not a complete JSON object or the file does
    not end with a newline (a hand-truncated file)."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise ValueError(f"{str(path)!r} line {number} is not a complete JSON row; remove "
                             "it (an interrupted run never leaves one: rows are single writes)")
    if text and not text.endswith("\n"):
        raise ValueError(f"{str(path)!r} does not end with a newline (its last line is "
                         "incomplete); remove the partial line before resuming")
    return rows


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock (the message names its pid)."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, what: str = "folder") -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if missing) for the block, with this
    process's pid written into it after acquiring; a second holder fails at once with
    :class:`FolderLockedError` naming the first one's pid. The kernel releases the lock when its
    holder dies, so a lock left by a killed process never blocks.

    >>> import tempfile
    >>> lock = os.path.join(tempfile.mkdtemp(), ".lock")
    >>> with exclusive_lock(lock):
    ...     with exclusive_lock(lock):
    ...         pass
    Traceback (most recent call last):
    ...
    graphsparse.fileio.FolderLockedError: ...
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise FolderLockedError(
                f"{str(path.parent)!r} is in use by another process (pid {holder}, lock "
                f"{path.name}); wait for it to finish or use another {what}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
