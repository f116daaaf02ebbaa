"""The graph-lottery-ticket reproduction of issue 4, as one resumable plan of sweeps.

Each step is a :func:`graphsparse.gnn.run_sweep` call into a folder under
``benchmarks/results/``; a sweep appends one row per finished run and skips finished runs when
restarted, so killing this script and starting it again loses at most the run in progress.
Steps run in the order below (cheapest useful evidence first); ``--only`` picks steps by name.

1. ``cora-teddy-random``: Cora GCN (hidden 512, 200 epochs, lr 0.01, wd 5e-4), TEDDY and random
   at p_graph 0.05, p_weight 0.1, levels 1–20, seeds 0–2 (+ dense per seed).
2. ``cora-random-p02``: random at p_weight 0.2, levels 1–20, seeds 0–2.
3. ``cora-ugs``: UGS at p_weight 0.2 (p_graph 0.05), levels 1–20, seeds 0–2.
4. ``cora-extra-seeds`` (+ ``-p02``): TEDDY (p_weight 0.1) and random (p_weight 0.1 and 0.2) at levels 10
   and 20, seeds 3 and 4 (5 seeds there in all).
5. ``cora-structural``: one-shot Jaccard and Adamic–Adar edge scores with random weights
   (p_weight 0.1) at levels 10 and 20, seeds 0–2 — the same arm as random except for the edge
   score, so TEDDY's degree score is also compared with similarity-based structure.
6. ``molbace``: ogbg-molbace, GIN hidden 300 (OGB's width), 5 layers, 100 epochs, lr 0.001,
   1 seed: dense vs TEDDY level 10 (~11 s per epoch on one core here).
7. ``ddi``: ogbl-ddi, GCN hidden 64, 2 layers, 20 epochs, lr 0.005, 1 seed: dense, TEDDY and
   random at levels 5, 10, 20 (p_graph 0.05, p_weight 0.2) — a reduced budget (one epoch is 17
   full-graph steps over 2.1M message edges, ~1 min at width 128 on one core here), not
   comparable to the OGB leaderboard (OGB's recipe: width 256, 200 epochs).
8. ``ddi-p01``: the same at TEDDY's own weight grid p_weight 0.1 (87.8% at level 20 instead of
   98.9%), added after p_weight 0.2 left both methods at Hits@20 ≈ 0 from level 10 on.

Issue 14 (fidelity; each its own folder, one weight scope per table):

9. ``ugs-raw-features``: UGS with ``--preset ugs-paper`` as first written (hidden 512, lr
   0.008, wd 8e-5, s1 = s2 = 1e-2, 200 + 200 epochs) but features as loaded (0/1 bag of
   words), Cora GCN, levels 1–12, seeds 0–4 -> ``glt_ugs_rawfeatures_cora``: 3 points under
   UGS's figure, which started the ablation.
10. ``ugs-paper``: the same with row-normalised features, as UGS's ``load_data`` (now part of
    the preset) -> ``glt_ugs_paper_cora``.
11. ``ugs-weight-mode``: meant as the other candidate detail (``ugs.mode = weight``: the
    search's soft edge mask as GCN edge weights, so the normalisation D^-1/2 (A ⊙ m + I) D^-1/2
    sees it), levels 4 and 9, seeds 0–2 -> ``glt_ugs_weightmode_cora``. For a GCN the default
    message mode already does this (rule "weight"), so its rows repeat ``ugs-paper``'s.
11b. ``ugs-untied``: the next detail of UGS's code, with row-normalised features: one
    edge-mask entry per direction (``ugs.tie_directions = false``: UGS's dense ``N×N`` mask,
    graph sparsity counted over directed edges as UGS's ``print_sparsity``), levels 4 and 9,
    seeds 0–2 -> ``glt_ugs_untied_cora``. It lowered accuracy, so the two details below are
    each tried alone on the preset (tied directions):
11b'. ``ugs-untied-out``: the untied mask with UGS's own normalisation of it
    (``gcn_degree = out``: ``D^-1/2 Âᵀ D^-1/2`` with out-degrees, as UGS's
    ``torch_normalize_adj``; 11b normalised the untied mask by in-degrees, PyG's rule), levels
    4 and 9, seeds 0–4 (the preset run's five) -> ``glt_ugs_untiedout_cora``.
11c. ``ugs-noise``: UGS's ``all_one`` mask-init noise (``ugs.init_noise = 1e-5``), which breaks
    the exact ties between masks that get no task gradient -> ``glt_ugs_noise_cora``;
    ``ugs-torch-init``: UGS's initial weights (its GCN's ``nn.Linear`` layers: kaiming-uniform,
    bound 1/√fan_in, about half PyG's glorot bound here; ``weight_init = torch``) ->
    ``glt_ugs_torchinit_cora``; both levels 4 and 9, seeds 0–2.
11d. ``ugs-noise-torch-init``: the two details that each closed part of the gap, together (mask
    noise and ``nn.Linear`` initial weights, tied directions) -> ``glt_ugs_noisetorch_cora``;
    levels 4 and 9, seeds 0–2.
11e. ``ugs-reference``: every detail of UGS's reference GCN code at once — untied mask with
    out-degree normalisation, mask-init noise, ``nn.Linear`` initial weights — levels 4 and 9,
    seeds 0–2 -> ``glt_ugs_reference_cora``.
12. ``teddy-paper``: TEDDY with ``--preset teddy-paper`` (λ = 10, p_g 0.05, p_θ 0.1, scope
    all, row-normalised features), Cora GCN, levels 5/10/15/20, seeds 0–4 ->
    ``glt_teddy_paper_cora``.
13. ``new-methods``: FastGLT and AdaGLT on the same preset and grid, seeds 0–2, same folder.
    ``teddy-tuned``: TEDDY with the settings ``graphsparse glt tune --method teddy --preset
    teddy-paper --level 20 --trials 20 --seed 0`` chose on validation (λ, lr, weight decay,
    dropout; study in ``glt_tune_teddy_cora/``), levels 5/10/15/20, seeds 0–4 ->
    ``glt_teddy_tuned_cora``.
14. ``ddi-linear``: ogbl-ddi at the reduced budget above, dense + TEDDY + random with weight
    scope ``linear`` for every arm (scope ``all`` prunes the node embedding, the model's only
    input), p_weight 0.1, levels 10 and 20, seeds 0–2 -> ``glt_ddi_gcn_linear``.
15. ``molbace-linear``: ogbg-molbace GIN as above, dense + TEDDY + random, scope ``linear``,
    levels 5 and 10, seeds 0–2 -> ``glt_molbace_gin_linear``.

Several copies may run at once on disjoint steps (``--only``); two copies must not share a folder.

All Cora steps share ``glt_cora_gcn`` (rows are keyed by method, p, level and seed). Render with
``benchmarks/render_results.py``.

    OMP_NUM_THREADS=1 nohup .venv/bin/python benchmarks/glt_reproduction.py --no-progress &
    .venv/bin/python benchmarks/glt_reproduction.py --list
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from graphsparse.gnn import run_sweep
from graphsparse.gnn.experiment.presets import apply_preset

RESULTS = Path(__file__).resolve().parent / "results"
CORA = {"dataset": "cora", "model": "gcn", "hidden": 512, "num_layers": 2, "epochs": 200,
        "lr": 0.01, "weight_decay": 5e-4}
LEVELS = list(range(1, 21))

STEPS = [
    ("cora-teddy-random", "glt_cora_gcn",
     {**CORA, "methods": ["teddy", "random"], "levels": LEVELS, "p_graph": 0.05,
      "p_weight": 0.1, "seeds": [0, 1, 2]}),
    ("cora-random-p02", "glt_cora_gcn",
     {**CORA, "methods": ["random"], "levels": LEVELS, "p_graph": 0.05, "p_weight": 0.2,
      "seeds": [0, 1, 2]}),
    ("cora-ugs", "glt_cora_gcn",
     {**CORA, "methods": ["ugs"], "levels": LEVELS, "p_graph": 0.05, "p_weight": 0.2,
      "seeds": [0, 1, 2]}),
    ("cora-extra-seeds", "glt_cora_gcn",
     {**CORA, "methods": ["teddy", "random"], "levels": [10, 20], "p_graph": 0.05,
      "p_weight": 0.1, "seeds": [3, 4]}),
    ("cora-extra-seeds-p02", "glt_cora_gcn",
     {**CORA, "methods": ["random"], "levels": [10, 20], "p_graph": 0.05, "p_weight": 0.2,
      "seeds": [3, 4]}),
    ("cora-structural", "glt_cora_gcn",
     {**CORA, "methods": ["jaccard", "adamic_adar"], "levels": [10, 20], "p_graph": 0.05,
      "p_weight": 0.1, "seeds": [0, 1, 2]}),
    ("molbace", "glt_molbace_gin",
     {"dataset": "ogbg-molbace", "model": "gin", "hidden": 300, "num_layers": 5,
      "epochs": 100, "lr": 0.001, "weight_decay": 0.0, "methods": ["teddy"], "levels": [10],
      "p_graph": 0.05, "p_weight": 0.2, "seeds": [0]}),
    ("ddi", "glt_ddi_gcn",
     {"dataset": "ogbl-ddi", "model": "gcn", "hidden": 64, "num_layers": 2, "epochs": 20,
      "lr": 0.005, "weight_decay": 0.0, "methods": ["teddy", "random"], "levels": [5, 10, 20],
      "p_graph": 0.05, "p_weight": 0.2, "seeds": [0]}),
    ("ddi-p01", "glt_ddi_gcn",
     {"dataset": "ogbl-ddi", "model": "gcn", "hidden": 64, "num_layers": 2, "epochs": 20,
      "lr": 0.005, "weight_decay": 0.0, "methods": ["teddy", "random"], "levels": [5, 10, 20],
      "p_graph": 0.05, "p_weight": 0.1, "seeds": [0]}),
    ("ugs-raw-features", "glt_ugs_rawfeatures_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"],
                  levels=list(range(1, 13)), seeds=[0, 1, 2, 3, 4],
                  dataset_options={"normalize_features": False})),
    ("ugs-paper", "glt_ugs_paper_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"],
                  levels=list(range(1, 13)), seeds=[0, 1, 2, 3, 4])),
    ("ugs-weight-mode", "glt_ugs_weightmode_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], method_options={"ugs": {"mode": "weight"}})),
    ("ugs-untied", "glt_ugs_untied_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], method_options={"ugs": {"tie_directions": False}})),
    ("ugs-untied-out", "glt_ugs_untiedout_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2, 3, 4], method_options={"ugs": {"tie_directions": False}},
                  model_options={"gcn_degree": "out"})),
    ("ugs-noise", "glt_ugs_noise_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], method_options={"ugs": {"init_noise": 1e-5}})),
    ("ugs-torch-init", "glt_ugs_torchinit_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], model_options={"weight_init": "torch"})),
    ("ugs-noise-torch-init", "glt_ugs_noisetorch_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], method_options={"ugs": {"init_noise": 1e-5}},
                  model_options={"weight_init": "torch"})),
    ("ugs-reference", "glt_ugs_reference_cora",
     apply_preset("ugs-paper", dataset="cora", model="gcn", methods=["ugs"], levels=[4, 9],
                  seeds=[0, 1, 2], method_options={"ugs": {"tie_directions": False,
                                                           "init_noise": 1e-5}},
                  model_options={"gcn_degree": "out", "weight_init": "torch"})),
    ("teddy-paper", "glt_teddy_paper_cora",
     apply_preset("teddy-paper", dataset="cora", model="gcn", methods=["teddy"],
                  levels=[5, 10, 15, 20], seeds=[0, 1, 2, 3, 4])),
    ("new-methods", "glt_teddy_paper_cora",
     apply_preset("teddy-paper", dataset="cora", model="gcn",
                  methods=["teddy", "fastglt", "adaglt"], levels=[5, 10, 15, 20],
                  seeds=[0, 1, 2])),
    ("teddy-tuned", "glt_teddy_tuned_cora",
     lambda: apply_preset(RESULTS / "glt_tune_teddy_cora" / "preset.json", dataset="cora",
                          model="gcn", methods=["teddy"], levels=[5, 10, 15, 20],
                          seeds=[0, 1, 2, 3, 4])),  # the tuned preset exists after the study
    ("ddi-linear", "glt_ddi_gcn_linear",
     {"dataset": "ogbl-ddi", "model": "gcn", "hidden": 64, "num_layers": 2, "epochs": 20,
      "lr": 0.005, "weight_decay": 0.0, "methods": ["teddy", "random"], "levels": [10, 20],
      "p_graph": 0.05, "p_weight": 0.1, "weight_scope": "linear", "seeds": [0, 1, 2]}),
    ("molbace-linear", "glt_molbace_gin_linear",
     {"dataset": "ogbg-molbace", "model": "gin", "hidden": 300, "num_layers": 5,
      "epochs": 100, "lr": 0.001, "weight_decay": 0.0, "methods": ["teddy", "random"],
      "levels": [5, 10], "p_graph": 0.05, "p_weight": 0.2, "weight_scope": "linear",
      "seeds": [0, 1, 2]}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None,
                        help="comma list of step names (default: all, in order)")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    names = [name for name, _, _ in STEPS]
    if args.list:
        for name, folder, kwargs in STEPS:
            shown = "(settings from a study's preset file)" if callable(kwargs) else kwargs
            print(f"{name:22s} -> results/{folder}: {shown}")
        return
    chosen = names if args.only is None else args.only.split(",")
    unknown = [c for c in chosen if c not in names]
    if unknown:
        parser.error(f"unknown steps {unknown}; valid steps: {names}")
    for name, folder, kwargs in STEPS:
        if name not in chosen:
            continue
        start = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] step {name} -> {folder}", flush=True)
        if callable(kwargs):
            kwargs = kwargs()
        rows = run_sweep(RESULTS / folder, data_root=args.data_root,
                         progress=not args.no_progress, **kwargs)
        print(f"[{time.strftime('%H:%M:%S')}] step {name}: {len(rows)} rows in the folder, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
