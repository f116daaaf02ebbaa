"""Summaries and plots of a sweep folder written by :func:`graphsparse.gnn.experiment.sweep.run_sweep`
(``graphsparse glt report DIR``).

:func:`summarise` groups the rows of ``results.jsonl`` by (method, p_graph, p_weight, level,
rounds, targets) and gives mean ± sample std (``ddof=1``; 0 for one seed) over seeds of the
realised graph and weight sparsity and of the test and validation metric. The **extreme ticket**
of a method is its group with the highest joint sparsity (largest ``graph_sparsity +
weight_sparsity``, ties to the higher graph sparsity; on the geometric grid, the highest level)
whose mean **test** metric is at least the dense mean minus ``epsilon`` (at most plus
``epsilon`` for error metrics such as RMSE). ``epsilon`` is in the metric's own units: the
default 0.01 is 1 percentage point of accuracy / ROC-AUC / Hits@K, which the rows store as
fractions. For those tickets the mean isolated-node count and edge homophily of the kept graph
are reported when the rows store them. :func:`plot` draws test metric vs graph and vs weight
sparsity with the dense line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphsparse.gnn.experiment.sweep import CONFIG_FILE, read_rows

__all__ = ["LOWER_IS_BETTER", "Summary", "mean_std_text", "plot", "summarise"]

#: Metrics where smaller is better (the extreme-ticket rule flips for them).
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
_GROUP = ("method", "p_graph", "p_weight", "level", "rounds", "graph_target", "weight_target")


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def mean_std_text(group: dict[str, Any], scale: float = 1.0, digits: int = 2) -> str:
    """A group's mean test metric as text: ``"81.67 ± 0.42"`` over several seeds, ``"81.67"``
    for one seed (a single run has no spread to show).

    >>> mean_std_text({"test_mean": 0.8167, "test_std": 0.0042, "n": 3}, 100)
    '81.67 ± 0.42'
    >>> mean_std_text({"test_mean": 0.8167, "test_std": 0.0, "n": 1}, 100)
    '81.67'
    """
    mean = f"{scale * group['test_mean']:.{digits}f}"
    if group.get("n", 1) > 1 and group.get("test_std") is not None:
        return f"{mean} ± {scale * group['test_std']:.{digits}f}"
    return mean


def _optional_mean(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass
class Summary:
    """What :func:`summarise` returns.

    Attributes:
        out_dir: the sweep folder.
        config: its ``config.json`` (``{}`` if missing).
        metric: the metric's name (``"acc"``, ``"rocauc"`` …), None without rows.
        epsilon: tolerance of the extreme-ticket rule, in the metric's units (fractions).
        dense: the dense group (level 0) or None.
        groups: one dict per ticket group, sorted by method then joint sparsity, with the
            identity fields, ``n`` (seeds), ``seeds``, ``graph_sparsity``/``weight_sparsity``
            (means), ``test_mean``/``test_std``/``val_mean``/``val_std``, ``search_epochs``
            (mean), ``search_seconds``/``inference_seconds`` (means, s), ``isolated_nodes``/
            ``homophily`` (means or None).
        extremes: ``{method: group or None}`` (see the module documentation).
    """

    out_dir: str
    config: dict[str, Any]
    metric: str | None
    epsilon: float
    dense: dict[str, Any] | None
    groups: list[dict[str, Any]] = field(default_factory=list)
    extremes: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def __str__(self) -> str:
        cfg = self.config
        lines = [f"sweep {self.out_dir}: {cfg.get('dataset')} ({cfg.get('split_name')}), "
                 f"{cfg.get('model')} depth {cfg.get('num_layers')} width {cfg.get('hidden')}, "
                 f"{cfg.get('epochs')} epochs, lr {cfg.get('lr')}, weight decay "
                 f"{cfg.get('weight_decay')}, weight scope {cfg.get('weight_scope')}"]
        if self.metric is None:
            return "\n".join(lines + ["no rows yet"])
        unit = "%" if self.metric not in LOWER_IS_BETTER else ""
        scale = 100.0 if unit else 1.0
        lines.append(f"test {self.metric} (mean ± std over seeds{', in %' if unit else ''}); "
                     "sparsities realised, in %")
        header = (f"  {'method':<12} {'level':>5} {'s_graph':>8} {'s_weight':>8} "
                  f"{'test':>15} {'seeds':>5} {'epochs':>7} {'search s':>9} "
                  f"{'isolated':>8} {'homoph.':>7}")
        lines.append(header)
        for g in ([self.dense] if self.dense else []) + self.groups:
            level = "-" if g["level"] is None else str(g["level"])
            iso = "-" if g["isolated_nodes"] is None else f"{g['isolated_nodes']:.1f}"
            hom = "-" if g["homophily"] is None else f"{g['homophily']:.3f}"
            lines.append(f"  {g['method']:<12} {level:>5} {100 * g['graph_sparsity']:>8.2f} "
                         f"{100 * g['weight_sparsity']:>8.2f} "
                         f"{mean_std_text(g, scale):>15} "
                         f"{g['n']:>5} {g['search_epochs']:>7.0f} "
                         f"{g['search_seconds']:>9.2f} {iso:>8} {hom:>7}")
        eps = (f"{100 * self.epsilon:g} percentage point(s)" if unit
               else f"{self.epsilon:g} ({self.metric} units)")
        rule = "≤ dense + ε" if self.metric in LOWER_IS_BETTER else "≥ dense − ε"
        lines.append(f"extreme tickets (highest s_graph + s_weight with mean test {rule}, "
                     f"ε = {eps}):")
        if self.dense is None:
            lines.append("  no dense baseline in this sweep")
        for method in self.extremes:
            lines.append(f"  {method:<12} {self.describe_extreme(method)}")
        return "\n".join(lines)

    def describe_extreme(self, method: str) -> str:
        """One line on ``method``'s extreme ticket: level, realised sparsities, test metric vs
        dense, isolated nodes and kept-graph homophily where the rows have them."""
        g = self.extremes.get(method)
        if g is None or self.dense is None:
            return "none within ε of dense"
        unit = "%" if self.metric not in LOWER_IS_BETTER else ""
        scale = 100.0 if unit else 1.0
        extra = ""
        if g["isolated_nodes"] is not None:
            extra = f", isolated nodes {g['isolated_nodes']:.1f}"
        if g["homophily"] is not None:
            extra += f", kept-graph edge homophily {g['homophily']:.3f}"
        return (f"level {g['level']} (p_weight {g['p_weight']}): s_graph "
                f"{100 * g['graph_sparsity']:.2f}%, s_weight {100 * g['weight_sparsity']:.2f}% "
                f"({g['weight_scope']}), test {mean_std_text(g, scale)}{unit} vs dense "
                f"{scale * self.dense['test_mean']:.2f}{unit}{extra}")


def _group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]
    test = _mean_std([r["test"] for r in rows])
    val = _mean_std([r["val"] for r in rows])
    return {**{k: first.get(k) for k in _GROUP}, "weight_scope": first.get("weight_scope"),
            "n": len(rows), "seeds": sorted(r["seed"] for r in rows),
            "graph_sparsity": _mean_std([r["graph_sparsity"] for r in rows])[0],
            "weight_sparsity": _mean_std([r["weight_sparsity"] for r in rows])[0],
            "test_mean": test[0], "test_std": test[1], "val_mean": val[0], "val_std": val[1],
            "search_epochs": _mean_std([r["search_epochs"] for r in rows])[0],
            "search_seconds": _mean_std([r["search_seconds"] for r in rows])[0],
            "inference_seconds": _optional_mean([r.get("inference_seconds") for r in rows]),
            "isolated_nodes": _optional_mean([r.get("isolated_nodes") for r in rows]),
            "homophily": _optional_mean([r.get("homophily") for r in rows])}


def summarise(out_dir: str | os.PathLike, epsilon: float = 0.01) -> Summary:
    """Mean ± std per method and level and the extreme tickets of a sweep folder.

    Args:
        out_dir: a folder written by :func:`~graphsparse.gnn.experiment.sweep.run_sweep`.
        epsilon: tolerance (>= 0) in the metric's units; 0.01 = 1 percentage point of accuracy.

    Raises:
        FileNotFoundError: ``out_dir`` has neither ``config.json`` nor ``results.jsonl``.
        ValueError: a bad ``epsilon`` or an incomplete row line.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
        raise ValueError(f"epsilon must be a number >= 0, got {epsilon!r}")
    out = Path(out_dir)
    config_path = out / CONFIG_FILE
    rows = read_rows(out)
    if not config_path.exists() and not rows:
        raise FileNotFoundError(f"{str(out)!r} holds no sweep (no {CONFIG_FILE} or "
                                "results.jsonl); run `graphsparse glt run --out DIR` first")
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    buckets: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        buckets.setdefault(tuple(row.get(k) for k in _GROUP), []).append(row)
    groups = [_group(b) for b in buckets.values()]
    dense = next((g for g in groups if g["method"] == "dense"), None)
    tickets = sorted((g for g in groups if g["method"] != "dense"),
                     key=lambda g: (g["method"], g["graph_sparsity"] + g["weight_sparsity"],
                                    g["graph_sparsity"]))
    metric = rows[0]["metric"] if rows else None
    extremes: dict[str, dict[str, Any] | None] = {}
    for g in tickets:
        extremes.setdefault(g["method"], None)
        if dense is None:
            continue
        ok = (g["test_mean"] <= dense["test_mean"] + epsilon if metric in LOWER_IS_BETTER
              else g["test_mean"] >= dense["test_mean"] - epsilon)
        if ok:  # tickets are sorted by joint sparsity: the last qualifying one wins
            extremes[g["method"]] = g
    return Summary(out_dir=str(out), config=config, metric=metric, epsilon=float(epsilon),
                   dense=dense, groups=tickets, extremes=extremes)


def plot(out_dir: str | os.PathLike, path: str | os.PathLike,
         summary: Summary | None = None) -> Path:
    """Save a PNG of mean test metric (± std over seeds) vs graph sparsity and vs weight
    sparsity (two panels, realised sparsities in %), one line per method and p_weight, with
    the dense mean as a horizontal line. Written atomically (headless Agg backend).

    Returns:
        The path written.
    """
    from graphsparse._plotting import pyplot, save_figure

    summary = summarise(out_dir) if summary is None else summary
    if summary.metric is None:
        raise ValueError(f"{str(out_dir)!r} has no rows to plot")
    plt = pyplot()
    scale = 1.0 if summary.metric in LOWER_IS_BETTER else 100.0
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    try:
        lines: dict[tuple, list[dict[str, Any]]] = {}
        for g in summary.groups:
            lines.setdefault((g["method"], g["p_weight"]), []).append(g)
        for ax, key, label in ((axes[0], "graph_sparsity", "graph sparsity (%)"),
                               (axes[1], "weight_sparsity", "weight sparsity (%)")):
            for (method, p_weight), groups in lines.items():
                groups = sorted(groups, key=lambda g: g[key])
                name = method if p_weight is None else f"{method} (p_w {p_weight:g})"
                ax.errorbar([100 * g[key] for g in groups],
                            [scale * g["test_mean"] for g in groups],
                            yerr=[scale * g["test_std"] for g in groups], marker="o",
                            markersize=3, capsize=2, label=name)
            if summary.dense is not None:
                ax.axhline(scale * summary.dense["test_mean"], color="black", linestyle="--",
                           label="dense")
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
        unit = " (%)" if scale == 100.0 else ""
        axes[0].set_ylabel(f"test {summary.metric}{unit}")
        axes[1].legend(fontsize=8)
        cfg = summary.config
        fig.suptitle(f"{cfg.get('dataset')} · {cfg.get('model')} width {cfg.get('hidden')} · "
                     f"{cfg.get('epochs')} epochs")
        return save_figure(fig, path)
    finally:
        plt.close(fig)
