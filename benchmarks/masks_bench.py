"""Global selection over 10^8 float32 scores split across 50 tensors, at 1 and 2 threads.

Arms, on the same scores (uniform [0, 1), seed 0; float32 has 2^24 values there, so a 10^8
selection has ties at its threshold and the tie rule is exercised):

* ``graphsparse``: :func:`graphsparse.masks.topk_masks` with ``scope="global"`` (exact masks,
  the library's tie rule: among equal scores the smaller global index is kept);
* ``topk``: ``torch.topk`` on ``torch.cat`` of the scores (indices only, ties unspecified);
* ``kthvalue``: ``torch.kthvalue`` on ``torch.cat`` of the scores (the threshold only).

Each baseline is reported on its own. Timing (the project's one method,
``benchmarks/_timing.py``): each thread count is a part, pinned by :func:`_timing.pin` (intra-op
threads change between parts; inter-op threads can be set only once per process, which ``pin``
records); per sparsity the arms are interleaved by :func:`_timing.compare` (``--warmup`` untimed
rounds, ``--repeats`` >= 5 rounds in rotating order); speed-ups are ``_timing.ratio(baseline,
graphsparse)``. After timing, the masks are checked: the kept count, the threshold against
``kthvalue`` and ``topk``, and the tie rule. Goal: graphsparse's time <= 0.7 of topk's and <= 1.0
of kthvalue's at 1 and 2 threads, exact masks, max/min <= 2 over every arm's repeats.

Results go to ``benchmarks/results/masks_bench.json`` with :func:`_timing.environment` at the
start and the end of each part; ``benchmarks/render_docs.py`` turns them into docs/benchmarks.md.

    .venv/bin/python benchmarks/masks_bench.py      # full: about 5 min, about 2 GB peak memory
    .venv/bin/python benchmarks/masks_bench.py --smoke --out /tmp/masks.json   # seconds
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from _timing import compare, environment, header_line, pin, ratio
from graphsparse.fileio import atomic_write
from graphsparse.masks import kept_count, topk_masks

RESULTS = Path(__file__).resolve().parent / "results" / "masks_bench.json"
#: graphsparse's time over each baseline's (min over min), at most.
GOAL = {"topk": 0.7, "kthvalue": 1.0}
#: max/min over the repeats of every arm, at most.
GOAL_SPREAD = 2.0


def make_scores(total: int, tensors: int) -> dict[str, torch.Tensor]:
    """``tensors`` float32 tensors of uniform [0, 1) scores (seed 0), ``total`` entries in all."""
    gen = torch.Generator().manual_seed(0)
    per = total // tensors
    sizes = [per] * (tensors - 1) + [total - per * (tensors - 1)]
    return {f"layer{i}": torch.rand(n, generator=gen) for i, n in enumerate(sizes)}


def arms(scores: dict[str, torch.Tensor], sparsity: float, k: int) -> dict:
    """The three timed callables; the baselines concatenate first, as a caller must."""
    chunks = list(scores.values())

    def kthvalue():
        flat = torch.cat(chunks)
        return flat.kthvalue(flat.numel() - k + 1).values

    def topk():
        return torch.cat(chunks).topk(k, sorted=False).values.min()

    return {"graphsparse": lambda: topk_masks(scores, sparsity, scope="global"),
            "topk": topk, "kthvalue": kthvalue}


def check_masks(scores: dict, masks: dict, k: int, threshold: float) -> dict:
    """``{"kept", "count_ok", "threshold_ok", "ties_ok"}``: exactly ``k`` kept; every kept score
    >= ``threshold`` >= every pruned score, and ``threshold`` kept; among scores equal to
    ``threshold`` the kept ones come first in the global order (the tie rule)."""
    kept = sum(int(m.count_nonzero()) for m in masks.values())
    above_ok, tie_flags = True, []
    for name, score in scores.items():
        mask = masks[name]
        above_ok &= bool((score[mask] >= threshold).all()) and bool((score[~mask] <= threshold).all())
        tie_flags.append(mask[score == threshold])
    ties = torch.cat(tie_flags)
    n_kept_ties = int(ties.count_nonzero())
    return {"kept": kept, "count_ok": kept == k, "threshold_ok": above_ok and n_kept_ties > 0,
            "ties_ok": bool(ties[:n_kept_ties].all()), "tied_entries": ties.numel(),
            "tied_kept": n_kept_ties}


def measure(scores: dict, sparsity: float, repeats: int, warmup: int) -> dict:
    """One row: timings of the three arms at one sparsity, speed-ups and the mask checks."""
    total = sum(t.numel() for t in scores.values())
    k = kept_count(total, sparsity)
    calls = arms(scores, sparsity, k)
    timings = compare(calls, repeats=repeats, warmup=warmup)
    kth, top = float(calls["kthvalue"]()), float(calls["topk"]())
    checks = check_masks(scores, calls["graphsparse"](), k, kth)
    row = {"sparsity": sparsity, "k": k, **checks, "baselines_agree": kth == top,
           "exact": checks["count_ok"] and checks["threshold_ok"] and checks["ties_ok"]
           and kth == top,
           "arms": {name: t.to_dict() for name, t in timings.items()}}
    for base in GOAL:
        row[f"speedup_vs_{base}"] = ratio(timings[base], timings["graphsparse"])
    print(f"  sparsity {sparsity}: graphsparse {timings['graphsparse'].min:.3f} s, "
          f"topk {timings['topk'].min:.3f} s, kthvalue {timings['kthvalue'].min:.3f} s (mins); "
          f"time vs topk {1 / row['speedup_vs_topk']:.2f}, vs kthvalue "
          f"{1 / row['speedup_vs_kthvalue']:.2f}; exact={row['exact']}", flush=True)
    return row


def run_part(scores: dict, threads: int, args: argparse.Namespace) -> dict:
    """All sparsities at ``threads`` threads, with the environment at the start and the end."""
    pinned = pin(threads=threads)
    start = environment()
    print(header_line(start), flush=True)
    rows = [measure(scores, s, args.repeats, args.warmup) for s in args.sparsity]
    return {"threads": threads, "pinned": pinned, "start": start, "rows": rows,
            "end": environment()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=float, default=1e8, help="number of scores (default 1e8)")
    parser.add_argument("--tensors", type=int, default=50, help="number of tensors (default 50)")
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.5, 0.9, 0.99])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds (default 1)")
    parser.add_argument("--smoke", action="store_true",
                        help="3e6 scores, 2 repeats: checks the script, times nothing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.smoke:
        args.total, args.repeats = 3e6, 2
    if int(args.total) < args.tensors or args.tensors < 1 or args.repeats < 1 \
            or args.warmup < 0 or min(args.threads) < 1:
        parser.error("need total >= tensors >= 1, repeats >= 1, warmup >= 0, threads >= 1")
    return args


def main() -> None:
    args = parse_args()
    scores = make_scores(int(args.total), args.tensors)
    parts = [run_part(scores, threads, args) for threads in args.threads]
    result = {
        "benchmark": "masks_bench",
        "config": {"total": int(args.total), "tensors": args.tensors, "dtype": "float32",
                   "distribution": "uniform [0,1), seed 0", "repeats": args.repeats,
                   "warmup": args.warmup, "smoke": args.smoke, "goal_time_fraction": GOAL,
                   "goal_max_over_min": GOAL_SPREAD},
        "parts": parts,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda f: json.dump(result, f, indent=2), binary=False)
    print(f"wrote {args.out}")
    assert all(r["exact"] for p in parts for r in p["rows"]), "selection was not exact"


if __name__ == "__main__":
    main()
