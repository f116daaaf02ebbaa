"""The data root itself and downloads into it: a missing root is refused where downloads are not
allowed, and a failed download leaves no folders or partial files behind.

* :func:`check_data_root` — before anything is created: a data root that is not a folder, or
  that does not exist while downloads are not allowed (the offline rule,
  :func:`graphsparse.paths.downloads_allowed`), raises
  :class:`~graphsparse.gnn.data.DatasetNotFoundError` naming the path.
* :func:`make_folders` / :func:`remove_folders` — create a folder and its missing parents,
  remembering which were created, and remove exactly those again (deepest first, only while
  empty, so a folder someone else started using is kept).
* :func:`reporting_download` — wraps a PyG loader's ``download``: if it fails, the files it
  added to ``raw/`` and the folders graphsparse created for it are removed and
  :class:`~graphsparse.gnn.data.DatasetNotFoundError` says what failed and where to place the
  raw files (:func:`download_failed`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphsparse import paths
from graphsparse.gnn.data.dataset import DatasetNotFoundError
from graphsparse.gnn.data.mirror import missing_message, no_download_reason

__all__ = [
    "check_data_root",
    "download_failed",
    "make_folders",
    "remove_folders",
    "reporting_download",
]


def check_data_root(key: str, root: Path) -> None:
    """Refuse a data root that cannot serve ``key``, before anything is created.

    Raises:
        DatasetNotFoundError: ``root`` exists but is not a folder; or it does not exist and
            downloads into it are not allowed (the message names the path and the rule).
    """
    if root.is_dir():
        return
    if root.exists():
        raise DatasetNotFoundError(
            f"dataset {key!r}: the data root {root} is not a folder; point {paths.ENV_DATA} "
            "(or root=, --data-root) at the folder that holds the raw dataset files"
        )
    if not paths.downloads_allowed(root):
        fixes = f"point {paths.ENV_DATA} (or root=, --data-root) at the folder that holds them"
        if paths.is_offline():
            fixes += f", or unset {paths.ENV_OFFLINE} to let the loader download them there"
        raise DatasetNotFoundError(
            f"dataset {key!r}: the data root {root} does not exist. {no_download_reason(root)} "
            f"Nothing was created. To fix: create it and put the raw files there, or {fixes} "
            "(layouts: graphsparse.gnn.data)."
        )


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first.

    If creating one fails (permissions, a file in the way), those already created are removed
    again before the error propagates.
    """
    created = [candidate for candidate in (*reversed(folder.parents), folder)
               if not candidate.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        remove_folders(created)
        raise
    return created


def remove_folders(created: list[Path]) -> None:
    """Remove the folders :func:`make_folders` created, deepest first, each only if empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:  # not empty (another loader uses it) or already gone
            pass


def download_failed(key: str, root: Path, expected: list[Path], what: str,
                    error: BaseException) -> DatasetNotFoundError:
    """The error for a failed download of ``key``'s raw files (``what``: what was fetched)."""
    reason = (f"Downloading {what} failed ({type(error).__name__}: {error}); what it had "
              "created under the data root was removed.")
    return DatasetNotFoundError(missing_message(key, root, expected, reason))


def _remove_new_entries(folder: Path, before: set[str]) -> None:
    """Remove the entries of ``folder`` whose names are not in ``before`` (partial downloads)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def reporting_download(download: Callable[[Any], None], key: str, root: Path, source: Path,
                       mirror: Path, created: list[Path]) -> Callable[[Any], None]:
    """A replacement for a PyG loader's ``download`` method that cleans up when it fails.

    ``download`` is the loader's own method, ``source`` the data root's dataset folder (its
    ``raw/`` is what the mirror's ``raw`` link points to) and ``created`` the folders made for
    the download (:func:`make_folders`). On an exception the files the download added to
    ``source/raw`` are removed, then the folders in ``created``, and
    :class:`~graphsparse.gnn.data.DatasetNotFoundError` is raised from the original error,
    naming each raw file still missing under the data root.
    """

    def download_or_clean_up(self: Any) -> None:
        raw = source / "raw"
        before = set(os.listdir(raw)) if raw.is_dir() else set()
        missing = [Path(p) for p in self.raw_paths if not os.path.exists(p)]
        try:
            download(self)
        except BaseException as error:
            _remove_new_entries(raw, before)
            remove_folders(created)
            if not isinstance(error, Exception):
                raise
            expected = [source / p.relative_to(mirror) for p in missing] or [raw]
            raise download_failed(key, root, expected, "the raw files", error) from error

    return download_or_clean_up
