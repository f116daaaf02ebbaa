"""Generic crash-safe file helpers used across graphsparse: atomic writes and JSON-lines results.

* :func:`atomic_write` — write a file through a temporary file + rename, so it is never
  half-written (the graphsparse file format, :mod:`graphsparse.masks.io`, is written this way).
* :func:`append_jsonl` / :func:`read_jsonl` — resumable results files: one complete JSON row per
  single ``O_APPEND`` write, read back in order.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
>>> append_jsonl(path, {"seed": 0, "acc": 0.5})
>>> read_jsonl(path)
[{'acc': 0.5, 'seed': 0}]
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "append_jsonl", "read_jsonl"]


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
