"""Writing a scenario's outputs: results.csv, sweep.csv, a markdown table shaped like the papers'
stitching tables, and accuracy-vs-anchors plots (interactive HTML and static PNG)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from latent_core.encoders import short_name
from latent_core.experiments.alignment import summarize as summarize_alignment
from latent_core.experiments.run import ATLAS, SPACE_LETTERS, ExperimentResults
from latent_core.translate import TRANSLATORS

FIXED_COLUMNS = {  # method -> column of the papers' tables; the translators' columns come from TRANSLATORS
    "absolute": "absolute",
    "relative:cosine": "relative",
    "relative:cosine+center": "relative (centred)",
    "relative:angular": "angular",  # the single projections and the products of invariances follow the translators
    "relative:euclidean": "euclidean",
    "relative:l1": "L1",
    "relative:linf": "L-inf",
    "relative:product": "product",
    "relative:product-mean": "product-mean",
    "relative:product-select": "product-select",
}
PAPER_COLUMNS = 3  # the first FIXED_COLUMNS, then the translators', then the rest of FIXED_COLUMNS


def table_columns() -> dict[str, str]:
    """Method -> column of the stitching table, in column order: the first :data:`PAPER_COLUMNS` of
    :data:`FIXED_COLUMNS` (absolute, relative, relative centred), one per registered translator (its ``column``
    metadata: procrustes -> ortho, lortho -> l-ortho...), read now, then the rest of :data:`FIXED_COLUMNS` (the other
    single projections and the products of invariances). The alias ``inverse_relative`` shares
    ``translate:inverse_relative``'s column."""
    fixed = list(FIXED_COLUMNS.items())
    columns = dict(fixed[:PAPER_COLUMNS])
    for name in TRANSLATORS:
        columns[f"translate:{name}"] = TRANSLATORS.meta(name)["column"]
    if "inverse_relative" in TRANSLATORS:
        columns["inverse_relative"] = columns["translate:inverse_relative"]
    columns.update(fixed[PAPER_COLUMNS:])
    return columns


FAILED_HEAD_GAP = 0.10  # a method's own no-stitch this far below the absolute no-stitch: its head did not train
FAILED_HEAD_NOTE = (f"(A: x) is the method's own no-stitch: its head on A's own test samples, in the method's space. "
                    f"⚠ marks a cell whose own no-stitch is more than {FAILED_HEAD_GAP:.2f} below the absolute "
                    f"no-stitch: the head did not learn A, so that cell says nothing about stitching.")


def _cell(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=0):.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def _method_cell(chosen: pd.DataFrame, no_stitch: float) -> str:
    """Stitched accuracy (mean ± std over seeds), then the method's own no-stitch, flagged when its head failed."""
    own = float(chosen.groupby("seed").a_accuracy.first().mean())
    flag = " ⚠" if own < no_stitch - FAILED_HEAD_GAP else ""
    return f"{_cell(chosen.accuracy)} (A: {own:.3f}{flag})"


def stitching_table(results: pd.DataFrame) -> pd.DataFrame:
    """Rows: dataset and encoder pair (B's transform in brackets when the rows carry ``b_transform``); columns:
    no-stitch, then one per method: its stitched accuracy (mean ± std over seeds) and, in brackets, its own no-stitch
    (see :data:`FAILED_HEAD_NOTE`)."""
    columns, rows = table_columns(), []
    for (dataset, spec_a, spec_b), group in results.groupby(["dataset", "encoder_a", "encoder_b"], sort=False):
        transform = group.b_transform.iloc[0] if "b_transform" in group else None
        suffix = f" ({transform})" if isinstance(transform, str) and transform else ""
        row = {"dataset": dataset, "A → B": f"{short_name(spec_a)} → {short_name(spec_b)}{suffix}"}
        absolute = group[group.method == "absolute"]
        reference = (absolute if len(absolute) else group).groupby("seed").a_accuracy.first()
        row["no-stitch"] = _cell(reference)
        named = [(column, method) for method, column in columns.items()]
        named += [(method, method) for method in group.method.unique() if method not in columns]
        for column, method in named:
            chosen = group[group.method == method]
            if len(chosen):
                row[column] = _method_cell(chosen, float(reference.mean()))
        row["chance"] = f"{group.chance.mean():.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def atlas_projection_label(projection: str) -> str:
    """``"cosine+center"`` -> ``"cosine (centred)"``."""
    return f"{projection.removesuffix('+center')} (centred)" if projection.endswith("+center") else projection


def atlas_table(atlas: pd.DataFrame) -> pd.DataFrame:
    """Rows: encoder group, projection and the space a head was trained on (the atlas, then each space alone);
    columns: ``tested on A``, ``tested on B``, ... (mean ± std over seeds of the accuracy on that space's relative
    test vectors alone), then ``chance``."""
    letters = [c for c in SPACE_LETTERS if c in set(atlas.tested_on)]
    rows = []
    for (_, projection), group in atlas.groupby(["group", "projection"], sort=False):
        first = group.iloc[0]
        specs, transformed = first.encoders.split(" | "), str(first.get("transformed", "") or "")
        suffix = f" ({first.b_transform})" if first.get("b_transform") else ""
        spaces = ", ".join(f"{SPACE_LETTERS[i]} = {short_name(spec)}{suffix if SPACE_LETTERS[i] in transformed else ''}"
                           for i, spec in enumerate(specs))
        own = SPACE_LETTERS[:len(specs)]
        for trained_on in [ATLAS, *own]:
            label = f"atlas ({'+'.join(own)})" if trained_on == ATLAS else f"{trained_on} alone"
            row = {"dataset": first.dataset, "spaces": spaces, "projection": atlas_projection_label(projection),
                   "head trained on": label}
            for letter in letters:
                chosen = group[(group.trained_on == trained_on) & (group.tested_on == letter)]
                row[f"tested on {letter}"] = _cell(chosen.accuracy) if len(chosen) else ""
            row["chance"] = f"{group.chance.mean():.3f}"
            rows.append(row)
    return pd.DataFrame(rows)


def atlas_intro(scenario) -> str:
    return (f"Charts to Atlas, {scenario.name}: each space's relative representation against the same "
            f"{scenario.n_anchors} anchors (the projection's column), averaged over the spaces into an atlas. One "
            f"{scenario.head} head is trained on the atlas of the training samples, one on each space alone; each is "
            f"tested on every space's relative test vectors alone (rows: what the head was trained on; columns: the "
            f"space it reads; a single-space head on its own space is that space's own head). The seeds, splits and "
            f"anchors of the stitching table; accuracy, mean ± std over seeds {scenario.seeds}.")


def write_atlas(experiment: ExperimentResults, out: str | Path) -> dict[str, Path]:
    """``atlas.csv`` (the tidy rows) and ``atlas.md`` (:func:`atlas_table`) when the run has an atlas comparison."""
    if not len(experiment.atlas):
        return {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"atlas_results": out / "atlas.csv", "atlas": out / "atlas.md"}
    experiment.atlas.to_csv(paths["atlas_results"], index=False)
    paths["atlas"].write_text(f"{atlas_intro(experiment.scenario)}\n\n{_markdown(atlas_table(experiment.atlas))}\n")
    return paths


def crossmodal_table(results: pd.DataFrame, sweep: pd.DataFrame) -> pd.DataFrame:
    frame = sweep if len(sweep) else results
    table = frame.groupby(["n_anchors", "method"], sort=True).accuracy.agg(["mean", "std"]).reset_index()
    wide = table.pivot(index="n_anchors", columns="method", values="mean").reset_index()
    wide.columns.name = None
    chance = frame.groupby("n_anchors").chance.mean().reset_index(drop=True)
    return wide.assign(chance=chance.values).rename(columns={"n_anchors": "pairs"})


SIDES_LABELS = {"same": "same samples, order hidden", "different": "different samples"}


def _number(value: float, fmt: str = ".3f") -> str:
    return "" if pd.isna(value) else format(value, fmt)


def _alignment_row(sides: str, anchors: str, row: dict) -> dict:
    return {"samples on the two sides": sides, "anchors": anchors, "accuracy": _number(row.get("accuracy")),
            "× true anchors": _number(row.get("ratio_true")), "× no-stitch": _number(row.get("ratio_no_stitch")),
            "exact %": _number(100 * row.get("exact", float("nan")), ".0f"), "purity": _number(row.get("purity")),
            "top-1": _number(row.get("top1")), "mean rank": _number(row.get("mean_rank"), ".1f"),
            "mean cos": _number(row.get("mean_cosine")), "s": _number(row.get("seconds"), ".1f")}


def alignment_table(results: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds and both directions: the two baselines (no-stitch, the true anchors with Procrustes),
    then one row per (sides, mode) (:func:`latent_core.experiments.alignment.summarize`)."""
    true_count = int(results.n_true_anchors.iloc[0])
    baselines = results.drop_duplicates(["seed", "direction"])
    rows = [
        _alignment_row("", "none: no-stitch (A's head on A)", {
            "accuracy": baselines.no_stitch.mean(),
            "ratio_true": (baselines.no_stitch / baselines.true_accuracy).mean(), "ratio_no_stitch": 1.0}),
        _alignment_row("", f"{true_count} true pairs, Procrustes", {
            "accuracy": baselines.true_accuracy.mean(), "ratio_true": 1.0,
            "ratio_no_stitch": (baselines.true_accuracy / baselines.no_stitch).mean(),
            "top1": baselines.true_top1.mean(), "mean_rank": baselines.true_mean_rank.mean(),
            "mean_cosine": baselines.true_mean_cosine.mean()}),
    ]
    for row in summarize_alignment(results, by=("sides", "mode")).to_dict("records"):
        seeds = int(results[(results.sides == row["sides"]) & (results["mode"] == row["mode"])].n_seed_pairs.max())
        anchors = f"{seeds} known pairs + bootstrap" if row["mode"] == "bootstrap" else "none (unsupervised)"
        rows.append(_alignment_row(SIDES_LABELS.get(row["sides"], row["sides"]), anchors, row))
    return pd.DataFrame(rows)


def alignment_directions_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per direction (A → B: head on A, B translated into A), sides and mode: means over seeds and the worst seed."""
    frame = results.assign(**{"A → B": [f"{short_name(a)} → {short_name(b)}"
                                        for a, b in zip(results.encoder_a, results.encoder_b)]})
    summary = summarize_alignment(frame, by=("A → B", "sides", "mode"))
    return pd.DataFrame({
        "A → B": summary["A → B"], "sides": summary.sides, "mode": summary["mode"],
        "no-stitch": summary.no_stitch.map(_number), "true anchors": summary.true_accuracy.map(_number),
        "accuracy": summary.accuracy.map(_number), "× true anchors": summary.ratio_true.map(_number),
        "× no-stitch": summary.ratio_no_stitch.map(_number),
        "worst × no-stitch": summary.min_ratio_no_stitch.map(_number),
        "exact %": (100 * summary.exact).map(lambda v: _number(v, ".0f")),
        "s": summary.seconds.map(lambda v: _number(v, ".1f")), "runs": summary.runs})


def _markdown(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    divider = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, divider]
    for row in frame.itertuples(index=False):  # keeps each column's dtype (iterrows would make ints floats)
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_sweep(sweep: pd.DataFrame, title: str, html_path: Path, png_path: Path) -> None:
    """Accuracy against the number of anchors: one panel per anchor strategy, one line per method."""
    import plotly.express as px

    mean = sweep.groupby(["strategy", "method", "n_anchors"], sort=False).accuracy.mean().reset_index()
    if "n_train" in sweep:  # the sweep's training set is fixed: what is left after the test set and anchor pool
        title = f"{title} (train {int(sweep.n_train.iloc[0])}, test {int(sweep.n_test.iloc[0])})"
    figure = px.line(mean, x="n_anchors", y="accuracy", color="method", facet_col="strategy", markers=True,
                     log_x=True, title=title, range_y=[0, 1])
    no_stitch = None
    if "a_accuracy" in sweep:  # the absolute head on A's own test set
        absolute = sweep[sweep.method == "absolute"]
        no_stitch = (absolute if len(absolute) else sweep).a_accuracy.mean()
    if no_stitch is not None and pd.notna(no_stitch):
        figure.add_hline(y=float(no_stitch), line_dash="dot", annotation_text="no-stitch (A on A)")
    figure.write_html(str(html_path), include_plotlyjs="cdn")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    strategies = list(mean.strategy.unique())
    fig, axes = plt.subplots(1, len(strategies), figsize=(4.5 * len(strategies), 3.8), sharey=True, squeeze=False)
    for axis, strategy in zip(axes[0], strategies):
        part = mean[mean.strategy == strategy]
        for method in part.method.unique():
            line = part[part.method == method]
            axis.plot(line.n_anchors, line.accuracy, marker="o", label=method)
        if no_stitch is not None and pd.notna(no_stitch):
            axis.axhline(float(no_stitch), linestyle=":", color="grey", label="no-stitch")
        axis.set_xscale("log")
        axis.set_xticks(sorted(part.n_anchors.unique()))
        axis.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_ylim(0, 1)
        axis.set_title(strategy)
        axis.set_xlabel("anchors")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def alignment_markdown(experiment: ExperimentResults) -> str:
    """The alignment report: per pair, the means table, then the same by direction."""
    scenario, results, parts = experiment.scenario, experiment.results, []
    for (dataset, pair), group in results.groupby(["dataset", "pair"], sort=False):
        first = group.iloc[0]
        parts.append(
            f"Few and zero anchors, {scenario.name}: {dataset}, {pair}. {scenario.head} head trained on the target "
            f"side's {int(first.n_pool)} pool samples, tested on {int(first.n_test)} samples never used for matching; "
            f"means over seeds {sorted(set(group.seed))} and both directions. × true anchors: accuracy over that of "
            f"{int(first.n_true_anchors)} true pairs with Procrustes; exact: pairs joining a sample to itself; "
            f"purity: pairs of one class; top-1 / mean rank / mean cos: translated test vectors retrieving their "
            f"true counterparts (vec2vec's metrics); s: seconds per alignment.\n\n"
            f"{_markdown(alignment_table(group))}\n\nBy direction (A → B: head on A, B translated into A):\n\n"
            f"{_markdown(alignment_directions_table(group))}\n")
    return "\n".join(parts)


def write_report(experiment: ExperimentResults, out: str | Path) -> dict[str, Path]:
    """Write every output file of a run into ``out``; returns their paths by name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenario = experiment.scenario
    paths = {"results": out / "results.csv", "table": out / "table.md"}
    experiment.results.to_csv(paths["results"], index=False)
    if scenario.kind == "stitching":
        table = stitching_table(experiment.results)
        intro = (f"Zero-shot stitching accuracy, {scenario.name}: head trained on A, tested on B "
                 f"({scenario.n_anchors} anchors, {scenario.head} head, mean ± std over seeds {scenario.seeds}). "
                 f"{scenario.describe_b_transform() + ' ' if scenario.b_transform else ''}{FAILED_HEAD_NOTE}")
    elif scenario.kind == "asif":
        table = crossmodal_table(experiment.results, experiment.sweep)
        intro = (f"Zero-shot image classification from captions (ASIF, top-{scenario.topk}, power {scenario.power}) "
                 f"vs a k-NN on the anchor images' labels, by number of image/caption pairs; mean over seeds "
                 f"{scenario.seeds}.")
    elif scenario.kind == "alignment":
        paths["table"].write_text(alignment_markdown(experiment))
        return paths
    else:
        table = experiment.results.groupby("method").accuracy.mean().reset_index()
        intro = f"CLIP zero-shot, {scenario.name}."
    paths["table"].write_text(f"{intro}\n\n{_markdown(table)}\n")
    paths.update(write_atlas(experiment, out))
    if len(experiment.sweep):
        paths["sweep"] = out / "sweep.csv"
        experiment.sweep.to_csv(paths["sweep"], index=False)
        groups = (experiment.sweep.groupby(["encoder_a", "encoder_b"], sort=False) if scenario.kind == "stitching"
                  else [((scenario.image_encoder, scenario.text_encoder), experiment.sweep.assign(strategy="random"))])
        for number, ((spec_a, spec_b), part) in enumerate(groups):
            stem = f"accuracy_vs_anchors_{number}"
            paths[f"{stem}.html"], paths[f"{stem}.png"] = out / f"{stem}.html", out / f"{stem}.png"
            plot_sweep(part, f"{scenario.name}: {short_name(spec_a)} → {short_name(spec_b)}", paths[f"{stem}.html"],
                       paths[f"{stem}.png"])
    return paths
