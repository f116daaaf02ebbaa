"""Exact selection of the ``k`` largest scores over a list of 1-D chunks, without sorting: the
engine behind :func:`graphsparse.masks.topk_masks` (its module docstring states the method and
the tie rule: among equal scores the smaller global index is kept)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["common_dtype", "select_largest"]

# Below this many candidates the k-th value is taken directly with torch.kthvalue.
_DIRECT_SELECT = 1 << 21
# Sample size used to bracket the k-th value on large inputs.
_SAMPLE = 1 << 16


def common_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) == 1 and next(iter(dtypes)).is_floating_point:
        return next(iter(dtypes))
    return torch.float64


def _kth_largest(chunks: list[torch.Tensor], k: int) -> torch.Tensor:
    """The k-th largest value (1-based) of the concatenation of 1-D ``chunks`` (one dtype)."""
    return _locate_kth(chunks, k)[0]


def _locate_kth(chunks: list[torch.Tensor], k: int) -> tuple[torch.Tensor, list[torch.Tensor], int]:
    """``(value, candidates, rank)``: the k-th largest value (1-based) of the concatenation of 1-D
    ``chunks`` (one dtype); ``candidates[i]`` = the entries of ``chunks[i]`` still bracketed at the
    end (they hold every entry equal to ``value``); ``value`` is the ``rank``-th largest candidate,
    so exactly ``k - rank`` entries outside the candidates are larger than ``value``.

    Exact. Each round draws a deterministic sample, picks bounds ``lo <= hi`` around the wanted
    rank, counts the entries above ``hi`` and at or above ``lo``, and keeps only the chunk entries
    that can still hold the answer. Every round removes at least one entry (see
    :func:`_bracket_round`), so it terminates.
    """
    gen = torch.Generator().manual_seed(0)
    while True:
        total = sum(c.numel() for c in chunks)
        if total <= _DIRECT_SELECT:
            flat = torch.cat(chunks) if len(chunks) > 1 else chunks[0]
            return flat.kthvalue(total - k + 1).values, chunks, k
        lo, hi = _sample_bounds(chunks, k, total, gen)
        value, chunks, k = _bracket_round(chunks, k, total, lo, hi)
        if value is not None:
            return value, chunks, k


def _sample_bounds(chunks: list[torch.Tensor], k: int, total: int,
                   gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds ``lo <= hi`` around rank ``k``: values of a deterministic sample proportional to the
    chunk sizes. A ``-inf`` lower bound is raised to the smallest finite sample value (the answer
    is finite: callers guarantee ``k`` finite entries), so excluded entries go in one round."""
    parts = []
    for c in chunks:
        if c.numel() == 0:
            continue
        m = min(c.numel(), max(1, math.ceil(_SAMPLE * c.numel() / total)))
        parts.append(c[torch.randint(c.numel(), (m,), generator=gen)])
    sample = torch.cat(parts).sort(descending=True).values
    size = sample.numel()
    q = k / total
    rank = q * size
    margin = 4.0 * math.sqrt(size * q * (1.0 - q)) + 8.0
    hi = sample[max(0, min(size - 1, int(rank - margin)))]
    lo = sample[max(0, min(size - 1, int(rank + margin)))]
    if bool(lo == -math.inf) and bool(hi > -math.inf):
        lo = sample[int(torch.count_nonzero(sample > -math.inf)) - 1]
    return lo, hi


def _bracket_round(chunks: list[torch.Tensor], k: int, total: int, lo: torch.Tensor,
                   hi: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor], int]:
    """One counting round: ``(value or None, the entries left, the rank k among them)``. ``lo``
    and ``hi`` are entries, so keeping ``c > hi`` or ``c < lo`` removes at least one entry;
    when ``[lo, hi]`` would keep every entry (heavy ties, e.g. two distinct values) the round
    splits at ``hi`` instead (:func:`_split_at`), which removes the entries equal to ``hi``.
    """
    above_hi = at_or_above_lo = 0
    flags = []
    for c in chunks:  # the bool flags double as the filters of the round
        ge_lo, gt_hi = c >= lo, c > hi
        above_hi += int(torch.count_nonzero(gt_hi))
        at_or_above_lo += int(torch.count_nonzero(ge_lo))
        flags.append((ge_lo, gt_hi))
    if above_hi < k <= at_or_above_lo:
        if bool(lo == hi):
            return lo, chunks, k
        if above_hi == 0 and at_or_above_lo == total:
            return _split_at(chunks, k, hi)
        # lo <= hi, so gt_hi implies ge_lo and the XOR is lo <= c <= hi
        return None, [c[ge_lo ^ gt_hi] for c, (ge_lo, gt_hi) in zip(chunks, flags)], k - above_hi
    if k <= above_hi:
        return None, [c[gt_hi] for c, (_, gt_hi) in zip(chunks, flags)], k
    return None, [c[~ge_lo] for c, (ge_lo, _) in zip(chunks, flags)], k - at_or_above_lo


def _split_at(chunks: list[torch.Tensor], k: int, hi: torch.Tensor) -> tuple:
    """All entries are ``<= hi``: ``hi`` if at least ``k`` equal it, else look below it."""
    at_hi = [c >= hi for c in chunks]
    n = sum(int(torch.count_nonzero(m)) for m in at_hi)
    if k <= n:
        return hi, chunks, k
    return None, [c[~m] for c, m in zip(chunks, at_hi)], k - n


def select_largest(chunks: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """Boolean masks (one per 1-D chunk) keeping exactly the ``k`` largest entries overall.

    Ties at the threshold are kept in global index order (smaller index first). Entries equal to
    ``-inf`` mark excluded positions; the caller guarantees that at least ``k`` entries are finite.

    Large inputs take :func:`_banded_masks` (one counting pass that also builds the masks); when
    its sampled bracket misses the k-th value (rare) or holds too many entries (heavy ties), or
    the input is small, :func:`_threshold_masks` (locate the value, then one comparison pass).
    """
    if k <= 0:
        return [torch.zeros(c.numel(), dtype=torch.bool) for c in chunks]
    total = sum(c.numel() for c in chunks)
    if k >= total:
        return [torch.ones(c.numel(), dtype=torch.bool) for c in chunks]
    if total > _DIRECT_SELECT:
        lo, hi = _sample_bounds(chunks, k, total, torch.Generator().manual_seed(0))
        masks = _banded_masks(chunks, k, total, lo, hi)
        if masks is not None:
            return masks
    return _threshold_masks(chunks, k)


def _banded_masks(chunks: list[torch.Tensor], k: int, total: int, lo: torch.Tensor,
                  hi: torch.Tensor) -> list[torch.Tensor] | None:
    """The masks from one pass over the scores, or None when ``[lo, hi]`` does not hold the k-th
    largest value or holds more than ``total // 16`` entries.

    Per chunk: ``c > hi`` becomes the chunk's mask (those entries are kept: fewer than ``k`` lie
    above ``hi``), ``c >= lo`` goes into one reused scratch buffer, XOR-ed with the mask into
    the band ``lo <= c <= hi`` whose indices (ascending) are kept. No full-size temporary but the
    masks themselves; the k-th value is then located among the band's values only, and the band
    entries above it, plus the first ties in global order, are set in the masks.
    """
    limit = max(total // 16, _DIRECT_SELECT)
    scratch = torch.empty(max(c.numel() for c in chunks), dtype=torch.bool)
    masks, bands, above, in_band = [], [], 0, 0
    for c in chunks:
        mask = c > hi
        band = torch.ge(c, lo, out=scratch[:c.numel()])
        band ^= mask  # lo <= hi, so c > hi implies c >= lo
        index = band.nonzero().flatten()
        above += int(torch.count_nonzero(mask))
        in_band += index.numel()
        if in_band > limit:
            return None
        masks.append(mask)
        bands.append(index)
    if not above < k <= above + in_band:
        return None
    values = [c[index] for c, index in zip(chunks, bands)]
    value = _kth_largest(values, k - above)
    missing = k - above
    for mask, index, vals in zip(masks, bands, values):
        larger = index[vals > value]
        mask[larger] = True
        missing -= larger.numel()
    for mask, index, vals in zip(masks, bands, values):  # ties: smaller global index first
        ties = index[vals == value][:missing]
        mask[ties] = True
        missing -= ties.numel()
    return masks


def _threshold_masks(chunks: list[torch.Tensor], k: int) -> list[torch.Tensor]:
    """The masks from the located k-th value (:func:`_locate_kth`): ``c > value`` per chunk, then
    the ties, counted on the (small) candidates and taken in global index order."""
    value, candidates, rank = _locate_kth(chunks, k)
    masks = [c > value for c in chunks]
    # only chunks whose candidates hold the value are searched for ties
    missing = rank - sum(int(torch.count_nonzero(c > value)) for c in candidates)
    for c, cand, m in zip(chunks, candidates, masks):
        if missing == 0:
            break
        if cand is not c and not bool((cand == value).any()):
            continue
        ties = (c == value).nonzero().flatten()
        take = ties[:missing]
        m[take] = True
        missing -= take.numel()
    return masks
