"""Regenerate the golden sweep that pins the GLT pipeline's behaviour (issue: one front door).

Run from the repository root: ``.venv/bin/python tests/gnn/golden/make_golden.py``. It writes
``tests/gnn/golden/sweep/{config.json,results.jsonl}``: a seeded sweep on the synthetic SBM
graph (GCN hidden 16, 5 epochs; TEDDY, UGS, random, IMP at levels 1-3; seeds 0 and 1; one
thread). ``tests/gnn/test_golden.py`` runs the same sweep and compares every row except the
timing fields. Regenerate only when a change of behaviour is intended, and say so in the commit.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "sweep"
SWEEP = {"dataset": "sbm", "model": "gcn", "hidden": 16, "epochs": 5,
         "methods": ["teddy", "ugs", "random", "imp"], "levels": [1, 2, 3], "seeds": [0, 1],
         "progress": False}


def run_golden_sweep(out_dir: Path) -> list[dict]:
    """The golden sweep in ``out_dir`` at one thread (the thread count is restored after)."""
    from graphsparse.gnn import run_sweep

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_sweep(out_dir, **SWEEP)
    finally:
        torch.set_num_threads(threads)


def main() -> int:
    tmp = HERE / ".sweep.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    run_golden_sweep(tmp)
    shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
    shutil.rmtree(GOLDEN_DIR, ignore_errors=True)
    tmp.rename(GOLDEN_DIR)
    print(f"wrote {GOLDEN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
