"""Safe, atomic, checksummed files — the one format for every file graphsparse writes.

A graphsparse file is a ``torch.save``-d dict that ``torch.load(path, weights_only=True)`` reads::

    {"format": "graphsparse/<kind>/<version>",   # kind: masks, model, ticket, metanet, ...
     "sha256": "<hex digest of the payload>",
     "payload": {...}}                            # tensors, str, int, float, bool, None,
                                                  # and lists/tuples/dicts of them

No pickled modules or classes (they cannot be loaded safely; ``torch.save(model)`` also fails on
parametrized modules): a model file holds an architecture config plus a plain state_dict.
Files are written to a temporary file in the target folder and renamed into place, so a crash
never leaves a half-written file; the checksum is verified on load, so a corrupted or truncated
file raises :class:`CorruptFileError`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from graphsparse.checks import check_mask_dict, check_not_meta, refuses_meta
from graphsparse.fileio import atomic_write

__all__ = [
    "CorruptFileError",
    "save_file",
    "load_file",
    "save_masks",
    "load_masks",
    "save_model",
    "load_model",
]


class CorruptFileError(ValueError):
    """A file is not a readable graphsparse file: truncated, corrupted, or of another kind."""


def _library_version() -> str:
    from graphsparse import __version__

    return __version__


def _hash_into(h, obj, where: str) -> None:
    """Feed a canonical, type-tagged encoding of ``obj`` into the hash ``h``."""
    if isinstance(obj, torch.Tensor):
        t = check_not_meta(obj, where).detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes()
                     if t.dtype != torch.bool else t.numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(f"D{len(obj)}".encode())
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: dict keys must be str, got {k!r}")
            h.update(json.dumps(k).encode())
            _hash_into(h, v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        h.update(f"{'L' if isinstance(obj, list) else 'U'}{len(obj)}".encode())
        for i, v in enumerate(obj):
            _hash_into(h, v, f"{where}[{i}]")
    elif obj is None or isinstance(obj, (bool, int, str)):
        h.update(f"P{type(obj).__name__}:{obj!r}".encode())
    elif isinstance(obj, float):
        h.update(f"F{obj.hex() if math.isfinite(obj) else repr(obj)}".encode())
    else:
        raise TypeError(f"{where}: {type(obj).__name__} cannot be stored in a graphsparse file "
                        "(allowed: tensors, str, int, float, bool, None, and lists/tuples/dicts)")


def _digest(payload) -> str:
    h = hashlib.sha256()
    _hash_into(h, payload, "payload")
    return h.hexdigest()


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not kind or "/" in kind:
        raise ValueError(f"kind must be a non-empty name without '/', got {kind!r}")


def save_file(path: str | os.PathLike, kind: str, payload: Mapping, version: int = 1) -> Path:
    """Write ``payload`` as a graphsparse file of ``kind`` atomically (temp file + rename).

    Returns the path. Raises ``TypeError`` (before writing anything) if the payload holds a value
    that cannot be loaded with ``weights_only=True``, ``ValueError`` if it holds a tensor on the
    meta device (no data to write).
    """
    _check_kind(kind)
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    payload = dict(payload)
    record = {"format": f"graphsparse/{kind}/{int(version)}", "sha256": _digest(payload),
              "payload": payload}
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} for path does not exist")
    return atomic_write(path, lambda f: torch.save(record, f))


def load_file(path: str | os.PathLike, kind: str | None = None) -> tuple[dict, int]:
    """Load a graphsparse file safely (``weights_only=True``), verify its checksum and kind.

    Returns ``(payload, version)``. Raises ``FileNotFoundError`` for a missing file and
    :class:`CorruptFileError` for a truncated/corrupted file, a checksum mismatch, or a file of
    another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises RuntimeError/UnpicklingError/EOFError on damage
        raise CorruptFileError(f"{str(path)!r} is not a readable graphsparse file (truncated or "
                               f"corrupted?): {type(e).__name__}: {e}") from e
    if not isinstance(record, dict) or not isinstance(record.get("format"), str):
        raise CorruptFileError(f"{str(path)!r} is not a graphsparse file (no 'format' tag)")
    parts = record["format"].split("/")
    if len(parts) != 3 or parts[0] != "graphsparse" or not parts[2].isdigit():
        raise CorruptFileError(f"{str(path)!r} has an unknown format tag {record['format']!r}")
    if kind is not None and parts[1] != kind:
        raise CorruptFileError(f"{str(path)!r} holds a {parts[1]!r} file, expected {kind!r}")
    payload = record.get("payload")
    if not isinstance(payload, dict) or record.get("sha256") != _digest(payload):
        raise CorruptFileError(f"{str(path)!r} failed its checksum: the file is corrupted")
    return payload, int(parts[2])


MASKS_VERSION = 1


def save_masks(path: str | os.PathLike, masks: Mapping[str, torch.Tensor], **meta) -> Path:
    """Save a mask set with metadata (atomic, checksummed, ``weights_only``-loadable).

    Recorded automatically: names, shapes, per-tensor and overall sparsity, library version and
    UTC time. Pass e.g. ``method="magnitude", seed=0`` (str/int/float/bool/None, lists/dicts of
    them) as ``meta``. Edge masks (1-D over edge ids) are saved the same way.

    >>> import torch, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.pt")
    >>> _ = save_masks(p, {"w": torch.tensor([True, False])}, method="random", seed=0)
    >>> masks, meta = load_masks(p)
    >>> masks["w"].tolist(), meta["sparsity"]["w"], meta["method"]
    ([True, False], 0.5, 'random')
    """
    masks = check_mask_dict(masks, "masks")
    reserved = {"names", "shapes", "sparsity", "overall_sparsity", "library_version", "created"}
    clash = reserved & set(meta)
    if clash:
        raise ValueError(f"meta keys {sorted(clash)} are recorded automatically; rename them")
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    info = {
        "names": list(masks),
        "shapes": {n: list(m.shape) for n, m in masks.items()},
        "sparsity": {n: (1.0 - int(m.sum()) / m.numel()) if m.numel() else 0.0
                     for n, m in masks.items()},
        "overall_sparsity": 1.0 - kept / total if total else 0.0,
        "library_version": _library_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **meta,
    }
    payload = {"masks": {n: m.detach().cpu().clone() for n, m in masks.items()}, "meta": info}
    return save_file(path, "masks", payload, MASKS_VERSION)


def load_masks(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Load a mask file written by :func:`save_masks`: returns ``(masks, meta)``."""
    payload, _ = load_file(path, "masks")
    masks, meta = payload.get("masks"), payload.get("meta")
    if not isinstance(masks, dict) or not isinstance(meta, dict):
        raise CorruptFileError(f"{str(path)!r}: a masks file needs 'masks' and 'meta' entries")
    return masks, meta


MODEL_VERSION = 1


@refuses_meta("model")
def save_model(path: str | os.PathLike, model: nn.Module | Mapping[str, torch.Tensor],
               config: Mapping, **meta) -> Path:
    """Save an architecture ``config`` plus a plain state_dict (masked models keep their mask
    entries; restore them with :func:`graphsparse.masks.load_masked`).

    ``config`` holds whatever the model class needs to be rebuilt (e.g. layer widths).
    """
    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    payload = {"config": dict(config),
               "state_dict": {k: v.detach().cpu() for k, v in state.items()},
               "meta": {"library_version": _library_version(), **meta}}
    return save_file(path, "model", payload, MODEL_VERSION)


def load_model(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """Load a model file: returns ``(config, state_dict, meta)``."""
    payload, _ = load_file(path, "model")
    try:
        return payload["config"], payload["state_dict"], payload["meta"]
    except KeyError as e:
        raise CorruptFileError(f"{str(path)!r}: a model file needs entry {e}") from None
