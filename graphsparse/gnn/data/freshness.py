"""Processed files that follow their raw files: a cache mirror's ``processed/`` folder is rebuilt
when the data root's raw files change.

Next to each mirror's ``processed/`` folder, :func:`fresh_processed` keeps a small JSON
manifest, ``.graphsparse-processed.json``, recording the size and modification time (ns) of every
file under the data root's ``raw/`` folder as they were when ``processed/`` was built. On the
next load, if ``processed/`` exists but the raw files' sizes or mtimes differ from the record (a
file replaced, added or removed) or there is no readable record (a cache made by an older
graphsparse, or processing that never finished), ``processed/`` is removed with a one-line
:class:`UserWarning` naming the first difference, and the loader processes the raw files again.
The manifest is written atomically (:func:`graphsparse.fileio.atomic_write`) only after the
loader succeeded, so an interrupted processing run is always redone; what a failed load left in
``processed/`` is removed at once.

A file replaced by one with the same size and the same mtime (``cp -p`` of a same-sized
file) is not noticed; delete the mirror folder to force reprocessing.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graphsparse.fileio import atomic_write

__all__ = ["MANIFEST_NAME", "fresh_processed", "raw_state"]

MANIFEST_NAME = ".graphsparse-processed.json"
_FORMAT = 1


def raw_state(source: Path) -> dict[str, list[int]]:
    """``{path relative to source: [size, mtime_ns]}`` for every file under ``source/raw``.

    Symlinks are followed (a data root may link to another copy); ``{}`` if there is no
    ``raw`` folder.
    """
    raw = source / "raw"
    state: dict[str, list[int]] = {}
    for directory, _, filenames in os.walk(raw, followlinks=True):
        for name in filenames:
            path = Path(directory) / name
            try:
                info = path.stat()
            except FileNotFoundError:  # a dangling link: recorded as missing
                continue
            state[path.relative_to(source).as_posix()] = [info.st_size, info.st_mtime_ns]
    return dict(sorted(state.items()))


def _recorded_state(manifest: Path) -> dict[str, list[int]] | None:
    """The raw state a manifest records, None if it is missing, unreadable or of another format."""
    try:
        record = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        return None
    raw = record.get("raw")
    return raw if isinstance(raw, dict) else None


def _first_difference(recorded: dict[str, list[int]] | None, state: dict[str, list[int]]) -> str:
    """A short phrase naming why ``recorded`` does not describe ``state``."""
    if recorded is None:
        return "no record of the raw files it was built from"
    for name in sorted(set(recorded) | set(state)):
        if name not in state:
            return f"raw file {name} was removed"
        if name not in recorded:
            return f"raw file {name} was added"
        if list(recorded[name]) != state[name]:
            return f"raw file {name} has a new size or modification time"
    return "the record differs"  # not reached: the dicts differ in some entry


def _remove_processed(processed: Path) -> None:
    """Remove ``processed`` by first renaming it aside, so no half-deleted folder is ever read."""
    aside = processed.with_name(f".{processed.name}.stale-{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(processed, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _write_manifest(manifest: Path, source: Path, state: dict[str, list[int]]) -> None:
    """Record ``state`` (the raw files of ``source``) in ``manifest``, atomically."""
    record = {"format": _FORMAT, "source": str(source), "raw": state}
    atomic_write(manifest, lambda handle: handle.write(json.dumps(record, indent=1) + "\n"),
                 binary=False)


@contextmanager
def fresh_processed(key: str, source: Path, mirror: Path) -> Iterator[None]:
    """Make the loader run in the block find ``mirror/processed`` only if it matches the raw files.

    Call it while holding the mirror's lock. Before the block: if ``mirror/processed`` exists
    and the raw files under ``source`` (the data root's copy) differ in size or mtime from the
    manifest (or there is no manifest), warn once and remove ``processed``. After the block
    succeeds: record the raw files' current sizes and mtimes in the manifest. Whenever
    ``processed`` is absent before the block the manifest is removed first, and if the block
    raises, ``processed`` and the manifest are removed (quietly), so a manifest exists only
    beside a ``processed`` folder that a successful load built or read.
    """
    manifest = mirror / MANIFEST_NAME
    processed = mirror / "processed"
    recorded = _recorded_state(manifest)
    before = raw_state(source)
    if processed.exists() and recorded != before:
        warnings.warn(
            f"dataset {key!r}: the cached copy {processed} is out of date "
            f"({_first_difference(recorded, before)}); reprocessing the raw files under "
            f"{source / 'raw'}",
            UserWarning, stacklevel=5)  # points at the caller of load_dataset
        _remove_processed(processed)
    if not processed.exists():  # processing will run: no record until it has succeeded
        manifest.unlink(missing_ok=True)
        recorded = None
    try:
        yield
    except Exception:  # what the failed load left in processed/ is not to be trusted
        manifest.unlink(missing_ok=True)
        if processed.exists():
            _remove_processed(processed)
        raise
    state = raw_state(source)  # after the load: a download may just have fetched the raw files
    if recorded != state:
        _write_manifest(manifest, source, state)
