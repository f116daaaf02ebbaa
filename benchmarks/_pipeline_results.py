"""docs/results.md section of the metanetwork-pruning pipeline (``graphsparse metaprune pipeline``,
``benchmarks/metaprune_pipeline.py``): accuracy per arm and MAC speed-up, the paired comparison
of metanetwork + group norm against group norm, the goal, and how each checkpoint was chosen."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from graphsparse.fileio import read_jsonl

#: The issue's goal: metanet + group norm at least group norm at these speed-ups.
GOAL_SPEEDUPS = (4.0, 8.0)
ARM_ORDER = ("group_norm", "metanet+group_norm", "magnitude", "metanet+magnitude")


def is_pipeline_folder(folder: Path) -> bool:
    """Whether ``folder`` holds pipeline rows (they carry a ``config_id``)."""
    rows = read_jsonl(folder / "results.jsonl")
    return bool(rows) and "config_id" in rows[0]


def _pm(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def _configuration(folder: Path, config_id: str, rows: list[dict]) -> list[str]:
    cfg = json.loads((folder / config_id / "config.json").read_text())
    seeds = sorted({r["seed"] for r in rows})
    members = sorted({r["member"] for r in rows})
    archs = sorted({r["arch"] for r in rows})
    per_epoch = {a: statistics.median(r["finetune_seconds_per_epoch"] for r in rows
                                      if r["arch"] == a and r["finetune_seconds_per_epoch"])
                 for a in archs}
    planned = len(cfg["arms"]) * len(cfg["speedups"]) * cfg["held_out"]
    initial = ("none" if cfg["initial_speedup"] is None else
               f"{cfg['initial_speedup']}× + {cfg['initial_epochs']} epochs")
    return [
        f"Settings `{config_id}`: MAC speed-ups {cfg['speedups']}; {cfg['held_out']} held-out "
        f"networks per seed, {cfg['val_members']} meta-validation networks; fine-tuning "
        f"{cfg['after_metanet_epochs']} epochs before pruning (after the metanetwork, or extra in "
        f"the baseline arms) + {cfg['after_prune_epochs']} after (Adam, lr {cfg['finetune_lr']}); "
        f"initial pruning of the data models: {initial}; progressive pruning "
        f"(`GroupNormPruner`, `GroupMagnitudeImportance(p=2, mean, max)`, global, "
        f"{cfg['prune_steps']} steps); metanetwork {cfg['metanet']}, ≤ {cfg['meta_steps']} steps "
        f"or {cfg['meta_minutes']} min per seed, a checkpoint every {cfg['select_every']} steps "
        f"chosen by the meta-validation networks' accuracy on a validation split of the training "
        f"data ({cfg['validation_fraction']:.0%}) after pruning to {cfg['select_speedup']}× "
        "(test never read).",
        "",
        f"Rows: {len(rows)} of {planned * len(seeds)} planned for seeds {seeds} "
        f"({len(members)} networks: {', '.join(archs)}). Measured seconds per fine-tuning epoch "
        "(median, after pruning): " + ", ".join(f"{a} {s:.2f} s" for a, s in per_epoch.items())
        + ".", ""]


def _arm_table(rows: list[dict]) -> list[str]:
    lines = ["| speed-up | arm | realised | params ratio | acc before pruning | acc pruned | "
             "acc fine-tuned | n |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for speedup in sorted({r["speedup"] for r in rows}):
        for arm in ARM_ORDER:
            rs = [r for r in rows if r["speedup"] == speedup and r["arm"] == arm]
            if not rs:
                continue
            lines.append(
                f"| {speedup:g}× | {arm} | {statistics.mean(r['speedup_realised'] for r in rs):.2f}× | "
                f"{statistics.mean(r['params_ratio'] for r in rs):.3f} | "
                f"{_pm([r['acc_before_prune'] for r in rs])} | {_pm([r['acc_pruned'] for r in rs])} | "
                f"{_pm([r['acc_finetuned'] for r in rs])} | {len(rs)} |")
    return lines + [""]


def _pairs(rows: list[dict]) -> dict[float, list[tuple[dict, dict]]]:
    """``{speed-up: [(group_norm row, metanet+group_norm row), ...]}``: the two arms' rows of
    the same seed and network, for every speed-up with at least one pair."""
    by = {(r["seed"], r["member"], r["speedup"], r["arm"]): r for r in rows}
    out: dict[float, list[tuple[dict, dict]]] = {}
    for (seed, member, speedup, arm), row in sorted(by.items(), key=lambda kv: kv[0][:3]):
        other = by.get((seed, member, speedup, "metanet+group_norm"))
        if arm == "group_norm" and other is not None:
            out.setdefault(speedup, []).append((row, other))
    return dict(sorted(out.items()))


def _diffs(pairs: list[tuple[dict, dict]]) -> list[float]:
    """metanet+group_norm − group_norm, fine-tuned test accuracy in points."""
    return [100 * (metanet["acc_finetuned"] - base["acc_finetuned"]) for base, metanet in pairs]


def _sem(values: list[float]) -> float:
    return statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")


def _paired(rows: list[dict]) -> tuple[list[str], dict[float, float]]:
    """metanet+group_norm − group_norm per (seed, network) at each speed-up."""
    lines = ["Paired: metanet + group norm − group norm, test accuracy after fine-tuning (points; "
             "same network, seed and speed-up target; the realised speed-ups differ a little, "
             "channels being whole):", "",
             "| speed-up | mean difference ± std error | wins / ties / losses | pairs | realised "
             "(group norm / metanet + group norm) |", "|---:|---:|---:|---:|---:|"]
    means = {}
    for speedup, pairs in _pairs(rows).items():
        diffs = _diffs(pairs)
        means[speedup] = statistics.mean(diffs)
        wins, ties = sum(d > 0 for d in diffs), sum(d == 0 for d in diffs)
        realised = [statistics.mean(pair[i]["speedup_realised"] for pair in pairs)
                    for i in (0, 1)]
        lines.append(f"| {speedup:g}× | {means[speedup]:+.2f} ± {_sem(diffs):.2f} | {wins} / "
                     f"{ties} / {len(diffs) - wins - ties} | {len(diffs)} | {realised[0]:.2f}× / "
                     f"{realised[1]:.2f}× |")
    archs = sorted({r["arch"] for r in rows})
    if len(archs) > 1:
        per_arch = []
        for arch in archs:
            cells = _paired_means([r for r in rows if r["arch"] == arch])
            per_arch.append(f"{arch}: " + ", ".join(
                f"{s:g}× {m:+.2f} ± {e:.2f} ({n})" for s, (m, e, n) in cells.items()))
        lines += ["", "By architecture (mean ± std error, pairs): " + "; ".join(per_arch) + "."]
    return lines + [""], means


def _selection(folder: Path, config_id: str) -> list[str]:
    parts = []
    for seed_dir in sorted((folder / config_id).glob("seed*")):
        scores = read_jsonl(seed_dir / "selection.jsonl")
        if scores:
            best = max(sorted(scores, key=lambda r: r["step"]), key=lambda r: r["val_acc"])
            parts.append(f"{seed_dir.name}: step {best['step']} of {scores[-1]['step']} "
                         f"(validation {100 * best['val_acc']:.2f}; "
                         f"{scores[-1]['meta_seconds'] / 60:.1f} min of meta-training)")
    return ["Chosen metanetwork checkpoints: " + "; ".join(parts) + ".", ""] if parts else []


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _paired_means(rows: list[dict]) -> dict[float, tuple[float, float, int]]:
    """Per speed-up: mean and std error of metanet+group_norm − group_norm over the pairs in
    ``rows``, and the number of pairs."""
    return {speedup: (statistics.mean(diffs), _sem(diffs), len(diffs))
            for speedup, diffs in ((s, _diffs(p)) for s, p in _pairs(rows).items())}


def ablation_summary(folder: Path, all_rows: list[dict]) -> list[str]:
    """One row per ablation digest against the main run (the digest with the most rows) on the
    same seeds: what differs, the metanetwork's output accuracy before any fine-tuning, and the
    paired metanet + group norm − group norm difference at each speed-up."""
    ids = sorted({r["config_id"] for r in all_rows})
    if len(ids) < 2:
        return []
    main = _main_id(all_rows)
    configs = {c: _flat(json.loads((folder / c / "config.json").read_text())) for c in ids}
    speedups = sorted({r["speedup"] for r in all_rows})
    lines = ["Ablations against the main run on the same seeds (paired metanet + group norm − "
             f"group norm after fine-tuning, points, mean ± std error; main run `{main}`). "
             "\"metanet output\" is the test accuracy of the metanetwork's output before any "
             "fine-tuning, mean over held-out networks (the data models: "
             f"{_pm([r['acc_original'] for r in all_rows if r['config_id'] == main and r['arm'] == 'group_norm' and r['speedup'] == speedups[0]])}).",
             "", "| settings | differs from the main run | seeds | metanet output | "
             + " | ".join(f"{s:g}×" for s in speedups) + " |",
             "|---|---|---|---:|" + "---:|" * len(speedups)]
    for config_id in [main] + [c for c in ids if c != main]:
        rows = [r for r in all_rows if r["config_id"] == config_id]
        seeds = {r["seed"] for r in rows}
        diff = ", ".join(f"{k} = {configs[config_id][k]}" for k in sorted(configs[config_id])
                         if configs[config_id][k] != configs[main].get(k)) or "(main run)"
        runs = [(config_id, diff)] if config_id == main else \
            [(config_id, diff), (main, "main run, same seeds")]
        for cid, label in runs:
            sub = [r for r in all_rows if r["config_id"] == cid and r["seed"] in seeds]
            means = _paired_means(sub)
            output = [r["acc_input"] for r in sub if r["arm"] == "metanet+group_norm"
                      and r["speedup"] == speedups[0]]
            cells = [f"{means[s][0]:+.2f} ± {means[s][1]:.2f}" if s in means else "—"
                     for s in speedups]
            lines.append(f"| `{cid}` | {label} | {sorted(seeds)} | "
                         f"{_pm(output) if output else '—'} | " + " | ".join(cells) + " |")
    return lines + [""]


def _main_id(all_rows: list[dict]) -> str:
    """The main run: the settings digest with the most rows."""
    ids = sorted({r["config_id"] for r in all_rows})
    return max(ids, key=lambda c: sum(r["config_id"] == c for r in all_rows))


def _plot(rows: list[dict], path: Path) -> None:
    """Fine-tuned test accuracy per arm against the speed-up target, one panel per
    architecture (mean ± std error over networks × seeds), and the paired differences."""
    from graphsparse._plotting import pyplot, save_figure

    plt = pyplot()
    archs = sorted({r["arch"] for r in rows})
    speedups = sorted({r["speedup"] for r in rows})
    fig, axes = plt.subplots(1, len(archs) + 1, figsize=(4.6 * (len(archs) + 1), 4.2))
    for ax, arch in zip(axes, archs):
        for arm in ARM_ORDER:
            points = [[100 * r["acc_finetuned"] for r in rows
                       if r["arch"] == arch and r["arm"] == arm and r["speedup"] == s]
                      for s in speedups]
            if not all(points):
                continue
            means = [statistics.mean(p) for p in points]
            errors = [_sem(p) if len(p) > 1 else 0.0 for p in points]
            ax.errorbar(speedups, means, yerr=errors, marker="o", capsize=3, label=arm)
        ax.set_xscale("log", base=2)
        ax.set_xticks(speedups, [f"{s:g}×" for s in speedups])
        ax.set_xlabel("MAC speed-up target")
        ax.set_ylabel("test accuracy after fine-tuning (%)")
        ax.set_title(f"{arch} (held-out networks × seeds)")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    for arch, marker in zip(archs, "os^v"):
        xs, ys = [], []
        for speedup, pairs in _pairs([r for r in rows if r["arch"] == arch]).items():
            diffs = _diffs(pairs)
            xs += [speedup * (0.93 if arch == archs[0] else 1.07)] * len(diffs)
            ys += diffs
        ax.scatter(xs, ys, s=14, marker=marker, label=arch, alpha=0.7)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(speedups, [f"{s:g}×" for s in speedups])
    ax.set_xlabel("MAC speed-up target")
    ax.set_ylabel("metanet + group norm − group norm (points)")
    ax.set_title("paired, per network and seed")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def pipeline_section(folder: Path, figures: Path | None = None) -> list[str]:
    """One section per settings digest found in ``folder/results.jsonl``; with ``figures``, a
    plot of the main run there (``<folder name>.png``)."""
    all_rows = read_jsonl(folder / "results.jsonl")
    out = [f"## Metanetwork pruning, the paper's pipeline (`benchmarks/results/{folder.name}`)", "",
           "Liu, Wang, Zhang 2025 (arXiv 2506.12041) at CPU scale, `graphsparse metaprune "
           "pipeline` / `benchmarks/metaprune_pipeline.py`; test accuracy in %, mean ± sample std "
           "over held-out networks × seeds.", ""]
    if figures is not None and all_rows:
        main = _main_id(all_rows)
        _plot([r for r in all_rows if r["config_id"] == main], figures / f"{folder.name}.png")
        out += [f"Main run `{main}`: accuracy per arm and the paired differences.", "",
                f"![pipeline accuracy vs speed-up](figures/{folder.name}.png)", ""]
    out += ablation_summary(folder, all_rows)
    for config_id in sorted({r["config_id"] for r in all_rows}):
        rows = [r for r in all_rows if r["config_id"] == config_id]
        paired, means = _paired(rows)
        out += _configuration(folder, config_id, rows) + _arm_table(rows) + paired
        out += _selection(folder, config_id)
        reached = [s for s in GOAL_SPEEDUPS if s in means]
        cfg = json.loads((folder / config_id / "config.json").read_text())
        planned = 3 * len(cfg["arms"]) * len(cfg["speedups"]) * cfg["held_out"]  # 3 seeds
        partial = (f" — partial: {len(rows)} of {planned} rows (3 seeds), so far"
                   if len(rows) < planned else "")
        if len(reached) < len(GOAL_SPEEDUPS):
            verdict = "not yet measured at every goal speed-up (partial run)"
        elif all(means[s] >= 0 for s in GOAL_SPEEDUPS):
            verdict = "**met**"
        else:
            verdict = "**not met**"
        out += [f"Goal: metanet + group norm ≥ group norm at "
                f"{' and '.join(f'{s:g}×' for s in GOAL_SPEEDUPS)} (mean paired difference ≥ 0): "
                f"{verdict}" + (" (" + ", ".join(f"{s:g}×: {means[s]:+.2f}" for s in reached) + ")"
                                if reached else "") + partial + ".", ""]
    return out
