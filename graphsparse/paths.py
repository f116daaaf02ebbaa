"""Where graphsparse reads data from and writes derived files to: the one place that decides.

Every part of the library that needs a dataset or a scratch location asks this module, so
that one environment variable moves all of them.

Environment variables
---------------------
``GRAPHSPARSE_DATA``
    The **data root**: the folder that holds raw dataset files, laid out as the standard loaders
    expect (``<root>/Planetoid/Cora/raw/...``, ``<root>/ogb/ogbl_ddi/...``). It may be read-only.
    Default: the ``shared/data`` folder beside the repository checkout (``<repo>/../shared/data``,
    found relative to this file) if that folder exists, else ``~/.graphsparse/data`` (where the
    loaders download to on a networked machine).
``GRAPHSPARSE_CACHE``
    The writable **cache root** for processed files and other derived data. Default
    ``~/.cache/graphsparse``. Nothing derived is ever written into the data root.
``GRAPHSPARSE_OFFLINE``
    ``1``/``true``/``yes``/``on`` (any case) forbids downloads: a dataset whose raw files are
    missing fails fast with a clear error instead of reaching for the network. ``0``/``false``/
    ``no``/``off`` or unset allows downloads (except into the shared folder, see
    :func:`downloads_allowed`).

All functions read the environment on every call (no caching), so tests can monkeypatch it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ENV_CACHE",
    "ENV_DATA",
    "ENV_OFFLINE",
    "cache_root",
    "data_root",
    "downloads_allowed",
    "is_offline",
    "shared_data_dir",
]

ENV_DATA = "GRAPHSPARSE_DATA"
ENV_CACHE = "GRAPHSPARSE_CACHE"
ENV_OFFLINE = "GRAPHSPARSE_OFFLINE"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def shared_data_dir() -> Path:
    """The ``shared/data`` folder beside the repository checkout, whether or not it exists.

    This file lives at ``<repo>/graphsparse/paths.py``; the shared folder is
    ``<repo>/../shared/data``. For an installed (non-checkout) package the path usually does not
    exist, and :func:`data_root` then falls back to ``~/.graphsparse/data``.

    Returns:
        An absolute path (symlinks resolved).

    Example:
        >>> shared_data_dir().parts[-2:]
        ('shared', 'data')
    """
    repo = Path(__file__).resolve().parent.parent
    return (repo.parent / "shared" / "data").resolve()


def data_root() -> Path:
    """The data root: ``$GRAPHSPARSE_DATA``, else the shared folder, else ``~/.graphsparse/data``.

    ``~`` in ``GRAPHSPARSE_DATA`` is expanded; an empty value counts as unset. The folder is not
    created here (the loaders create what they download into).

    Returns:
        An absolute path.

    Example:
        >>> import os
        >>> os.environ["GRAPHSPARSE_DATA"] = "/data/graphs"
        >>> str(data_root())
        '/data/graphs'
        >>> del os.environ["GRAPHSPARSE_DATA"]
    """
    configured = os.environ.get(ENV_DATA, "")
    if configured:
        return Path(configured).expanduser().absolute()
    shared = shared_data_dir()
    if shared.is_dir():
        return shared
    return Path.home() / ".graphsparse" / "data"


def cache_root() -> Path:
    """The writable cache root: ``$GRAPHSPARSE_CACHE``, else ``~/.cache/graphsparse``.

    Processed dataset files and other derived data go here, never into the data root. The folder
    is not created here; writers create the sub-folders they need.

    Returns:
        An absolute path.

    Example:
        >>> import os
        >>> os.environ["GRAPHSPARSE_CACHE"] = "/tmp/gs-cache"
        >>> str(cache_root())
        '/tmp/gs-cache'
        >>> del os.environ["GRAPHSPARSE_CACHE"]
    """
    configured = os.environ.get(ENV_CACHE, "")
    if configured:
        return Path(configured).expanduser().absolute()
    return Path.home() / ".cache" / "graphsparse"


def is_offline() -> bool:
    """Whether ``GRAPHSPARSE_OFFLINE`` forbids downloads.

    Returns:
        True for ``1``/``true``/``yes``/``on`` (any case, surrounding spaces ignored), False for
        ``0``/``false``/``no``/``off``, an empty value or an unset variable.

    Raises:
        ValueError: for any other value, naming the variable and the allowed values.

    Example:
        >>> import os
        >>> os.environ["GRAPHSPARSE_OFFLINE"] = "1"
        >>> is_offline()
        True
        >>> del os.environ["GRAPHSPARSE_OFFLINE"]
    """
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{ENV_OFFLINE}={os.environ[ENV_OFFLINE]!r} is not understood; use one of "
        f"{sorted(_TRUE)} to forbid downloads or one of {sorted(_FALSE - {''})} (or unset) "
        "to allow them"
    )


def downloads_allowed(root: str | os.PathLike[str]) -> bool:
    """Whether a loader may download missing raw files into ``root``.

    The rule: downloads are refused when ``GRAPHSPARSE_OFFLINE`` is set (see :func:`is_offline`)
    or when ``root`` is the shared folder (:func:`shared_data_dir`), which is a curated,
    possibly read-only copy that must never be written to. Otherwise they are allowed, and a
    missing file is fetched by the dataset's own loader.

    Args:
        root: a data root (need not exist).

    Returns:
        True if a download may be attempted.

    Example:
        >>> downloads_allowed(shared_data_dir())
        False
    """
    if is_offline():
        return False
    return Path(root).expanduser().resolve() != shared_data_dir()
