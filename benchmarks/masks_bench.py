"""Global selection over 10^8 float32 scores split across 50 tensors.

Compares, in the same run, :func:`graphsparse.masks.topk_masks` (exact masks with the library's
tie rule) with the faster of ``torch.topk`` and ``torch.kthvalue`` on the concatenation (which
give only the indices / the threshold, not masks, and ignore ties). Each arm runs ``--repeats``
times, interleaved; medians and the per-pair ratio are reported. Results go to
``benchmarks/results/masks_bench.json``; ``benchmarks/render_docs.py`` turns them into
docs/benchmarks.md.

    .venv/bin/python benchmarks/masks_bench.py            # full size (about 3 GB peak memory)
    .venv/bin/python benchmarks/masks_bench.py --total 1e6 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import time
from pathlib import Path

import torch

from _machine import cpu_model

from graphsparse.masks import kept_count, topk_masks
from graphsparse.fileio import atomic_write

RESULTS = Path(__file__).resolve().parent / "results" / "masks_bench.json"


def machine() -> str:
    return (f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def baseline_kthvalue(chunks, k):
    flat = torch.cat(chunks)
    return flat.kthvalue(flat.numel() - k + 1).values


def baseline_topk(chunks, k):
    flat = torch.cat(chunks)
    return flat.topk(k, sorted=False).values.min()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=float, default=1e8, help="number of scores (default 1e8)")
    parser.add_argument("--tensors", type=int, default=50, help="number of tensors (default 50)")
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    total = int(args.total)
    if total < args.tensors or args.tensors < 1 or args.repeats < 1:
        parser.error("need total >= tensors >= 1 and repeats >= 1")

    gen = torch.Generator().manual_seed(0)
    per = total // args.tensors
    sizes = [per] * (args.tensors - 1) + [total - per * (args.tensors - 1)]
    scores = {f"layer{i}": torch.rand(n, generator=gen) for i, n in enumerate(sizes)}
    chunks = list(scores.values())
    rows = []
    for s in args.sparsity:
        k = kept_count(total, s)
        ours, kth, top = [], [], []
        for _ in range(args.repeats):
            t, masks = timed(lambda: topk_masks(scores, s, scope="global"))
            ours.append(t)
            t, v_kth = timed(lambda: baseline_kthvalue(chunks, k))
            kth.append(t)
            t, v_top = timed(lambda: baseline_topk(chunks, k))
            top.append(t)
        kept = sum(int(m.sum()) for m in masks.values())
        min_kept = min(float(scores[n][masks[n]].min()) for n in masks if masks[n].any())
        max_pruned = max(float(scores[n][~masks[n]].max()) for n in masks if (~masks[n]).any())
        exact = kept == k and min_kept == float(v_kth) == float(v_top) and max_pruned <= min_kept
        base = [min(a, b) for a, b in zip(kth, top)]
        ratios = [o / b for o, b in zip(ours, base)]
        rows.append({
            "sparsity": s, "kept": kept, "expected_kept": k, "exact": exact,
            "ours_s": statistics.median(ours), "kthvalue_s": statistics.median(kth),
            "topk_s": statistics.median(top), "baseline_s": statistics.median(base),
            "ratio_median": statistics.median(ratios), "ratio_max": max(ratios),
        })
        r = rows[-1]
        print(f"sparsity {s}: ours {r['ours_s']:.2f} s, kthvalue {r['kthvalue_s']:.2f} s, "
              f"topk {r['topk_s']:.2f} s -> ratio ours/baseline {r['ratio_median']:.2f} "
              f"(exact={exact})")
        del masks
    result = {
        "benchmark": "masks_bench",
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "config": {"total": total, "tensors": args.tensors, "dtype": "float32",
                   "distribution": "uniform [0,1), seed 0", "repeats": args.repeats,
                   "baseline": "min(torch.topk, torch.kthvalue) on torch.cat of all scores"},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"wrote {args.out}")
    assert all(r["exact"] for r in rows), "selection was not exact"
    assert math.isfinite(rows[0]["ratio_median"])


if __name__ == "__main__":
    main()
