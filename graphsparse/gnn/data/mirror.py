"""Cache mirrors of the data root and the offline rule's refusals.

Processing never writes into the data root: each dataset's loader is pointed at a *mirror*
folder under :func:`graphsparse.paths.cache_root` whose entries are symlinks to the data root's
(:func:`mirror_base`, :func:`link_entries`), locked per mirror (:func:`mirror_lock`). When raw
files are missing and downloads are not allowed,
:class:`~graphsparse.gnn.data.DatasetNotFoundError` names every expected path
(:func:`missing_message`, :func:`refusing_download`). See
:mod:`graphsparse.gnn.data`, "Where files live" and "Missing raw files: the offline rule".
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

from graphsparse import paths
from graphsparse.gnn.data.dataset import DatasetNotFoundError

__all__ = [
    "link_entries",
    "missing_message",
    "mirror_base",
    "mirror_lock",
    "no_download_reason",
    "refusing_download",
]

# Serialises loader construction within a process: the download/input patches of the PyG and
# OGB loaders are attribute patches on shared classes and modules.
LOAD_LOCK = threading.RLock()


def mirror_base(root: Path) -> Path:
    """The cache folder mirroring data root ``root`` (keyed by a hash of its resolved path)."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return paths.cache_root() / "datasets" / f"{root.name or 'root'}-{digest}"


@contextmanager
def mirror_lock(mirror: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``mirror`` (thread lock plus, on POSIX, a file lock)."""
    mirror.mkdir(parents=True, exist_ok=True)
    with LOAD_LOCK, open(mirror / ".graphsparse.lock", "a") as handle:
        if fcntl is None:  # not POSIX: the in-process lock is all there is
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def link_entries(source: Path, mirror: Path) -> None:
    """Make ``mirror`` hold a symlink to every entry of ``source`` except ``processed`` (and
    names starting with ``.graphsparse``, which are the mirror's own files).

    Existing correct links are kept, links to entries ``source`` no longer has are removed, and
    each new link is created under a temporary name and renamed into place.
    """
    wanted = {entry.name: entry for entry in source.iterdir()
              if entry.name != "processed" and not entry.name.startswith(".graphsparse")}
    for entry in mirror.iterdir():
        if entry.is_symlink() and entry.name not in wanted:
            entry.unlink()
    for entry_name, target in wanted.items():
        link = mirror / entry_name
        if link.is_symlink():
            if Path(os.readlink(link)) == target:
                continue
        elif link.exists():
            raise RuntimeError(
                f"{link} in the cache mirror is a real file or folder, expected a symlink to "
                f"{target}; delete {mirror} to rebuild the mirror"
            )
        temporary = mirror / f".{entry_name}.{os.getpid()}.tmp"
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        os.replace(temporary, link)


def missing_message(key: str, root: Path, expected: list[Path], reason: str) -> str:
    """The :class:`~graphsparse.gnn.data.DatasetNotFoundError` message for missing raw files."""
    listed = "\n".join(f"  {path}" for path in expected)
    fixes = f"put the files there, or point {paths.ENV_DATA} (or root=) at a folder that has them"
    if paths.is_offline():
        fixes += f", or unset {paths.ENV_OFFLINE} to let the loader download them"
    return (
        f"dataset {key!r}: raw files not found under data root {root}.\nExpected:\n{listed}\n"
        f"{reason} To fix: {fixes} (layouts: graphsparse.gnn.data)."
    )


def no_download_reason(root: Path) -> str:
    """Why no download into ``root`` is attempted (for the error message)."""
    if paths.is_offline():
        return f"Downloads are off ({paths.ENV_OFFLINE} is set)."
    return f"Downloads into the shared folder {root} are never attempted."


def refusing_download(key: str, root: Path, source: Path, mirror: Path, reason: str):
    """A replacement ``download`` method that raises instead of fetching anything."""

    def download(self: Any) -> None:
        missing = [Path(p) for p in self.raw_paths if not os.path.exists(p)]
        expected = [source / p.relative_to(mirror) for p in missing]
        raise DatasetNotFoundError(missing_message(key, root, expected, reason))

    return download
