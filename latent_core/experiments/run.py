"""Running a scenario end to end: embed (through the cache), evaluate, return tidy DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from latent_core.atlas import ATLAS_HEAD, OWN_HEAD, STITCHED_HEAD, atlas_comparison
from latent_core.crossmodal import asif_accuracy_sweep, class_prompts, clip_scores, stitched_clip_scores
from latent_core.data import Dataset, load_dataset
from latent_core.embed import embed_dataset
from latent_core.encoders import get_encoder, short_name
from latent_core.errors import ConfigError
from latent_core.experiments.alignment import alignment_benchmark
from latent_core.experiments.scenarios import ExperimentScenario
from latent_core.modality import check_modality, encoder_modality
from latent_core.stitching import (
    anchor_sweep,
    chance_rate,
    draw_anchors,
    max_anchor_count,
    split_indices,
    stitch_benchmark,
    test_count,
)

SWEEP_LADDER = (10, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000)


@dataclass
class ExperimentResults:
    scenario: ExperimentScenario
    results: pd.DataFrame
    sweep: pd.DataFrame = field(default_factory=pd.DataFrame)
    atlas: pd.DataFrame = field(default_factory=pd.DataFrame)  # stitching: atlas_cross rows of every group


def _bar(description: str, verbose: bool):
    state = {"bar": None}

    def update(done: int, total: int) -> None:
        if not verbose:
            return
        if state["bar"] is None:
            state["bar"] = tqdm(total=total, desc=description, leave=False)
        state["bar"].n = done
        state["bar"].refresh()
        if done >= total:
            state["bar"].close()

    return update


def embed(spec: str, dataset: Dataset, captions: bool = False, verbose: bool = True) -> torch.Tensor:
    encoder = get_encoder(spec, device=None)
    label = f"embed {spec.split('/')[-1]}{' captions' if captions else ''}"
    return embed_dataset(encoder, dataset, captions=captions, progress=_bar(label, verbose)).cpu()


def check_encoders(specs: list[tuple[str, str]], dataset: Dataset, dataset_spec: str) -> None:
    """Every ``(encoder spec, what it reads: "items" or "captions")`` against the dataset, before any encoding
    (:func:`latent_core.modality.check_modality`). An encoder whose modality the catalogue and its spec do not
    tell is loaded (not run) to ask it."""
    for spec, reads in specs:
        if reads == "captions" and dataset.captions is None:
            raise ConfigError(f"{spec} embeds captions, but the dataset {dataset_spec!r} has none: use an "
                              "image+caption dataset such as 'captions'.")
        if spec.startswith("file:"):
            continue  # uploaded embeddings are aligned to their dataset by rows instead
        modality = encoder_modality(spec) or get_encoder(spec, device=None).modality
        check_modality(spec, modality, dataset_spec, "text" if reads == "captions" else dataset.modality)


def sweep_counts(scenario: ExperimentScenario, n_samples: int) -> list[int]:
    if scenario.sweep_counts:
        return sorted(scenario.sweep_counts)
    limit = max_anchor_count(n_samples, scenario.test_size)
    counts = [c for c in SWEEP_LADDER if c <= limit]
    return counts + ([limit] if limit > 1.25 * counts[-1] else [])  # the data's maximum, unless crowded


def shift_scale(space: torch.Tensor, seed: int, log_scale: float, shift: float) -> torch.Tensor:
    """``space * s + t`` with, per dimension j, ``s_j = exp(log_scale * z_j)`` and ``t_j = shift * std_j * w_j``
    (``z, w ~ N(0, 1)`` drawn in that order from ``numpy.random.default_rng(seed)``; ``std_j``: the population std
    of ``space``'s column j). ``space: [N, D]`` -> ``[N, D]`` float32, computed in float64."""
    x = space.detach().cpu().double().numpy()
    rng = np.random.default_rng(seed)
    scale = np.exp(log_scale * rng.standard_normal(x.shape[1]))
    translation = shift * x.std(axis=0) * rng.standard_normal(x.shape[1])
    return torch.from_numpy(x * scale + translation).float()


def transform_space(space: torch.Tensor, scenario: ExperimentScenario) -> torch.Tensor:
    """A pair's B space under the scenario's ``b_transform`` (:data:`latent_core.experiments.scenarios.B_TRANSFORMS`;
    None: ``space`` itself). ``[N, D]`` -> ``[N, D]``."""
    if scenario.b_transform is None:
        return space
    if scenario.b_transform == "shift-scale":
        return shift_scale(space, scenario.b_transform_seed, scenario.b_log_scale, scenario.b_shift)
    raise ConfigError(f"Scenario {scenario.name!r}: unknown b_transform {scenario.b_transform!r}.")


SPACE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ATLAS = "atlas"  # the trained_on of the atlas head's rows


def atlas_cross(spaces: list[torch.Tensor], labels, *, n_anchors: int, strategy: str, test_size: int | float,
                seeds, head: str, projection: str = "cosine") -> pd.DataFrame:
    """Charts to Atlas on every seed, with the full cross table: per seed, the split and anchors of
    :func:`latent_core.atlas.atlas_benchmark` (and of :func:`latent_core.stitching.stitch_benchmark`: the stitching
    table's), then :func:`latent_core.atlas.atlas_comparison` once with each space first, so that every single-space
    head is read on every space (its "stitched from A" rows) and the atlas head on each.

    Args:
        spaces: ``[N, D_i]`` embeddings of the same N samples, at least 2; named A, B, C... in this order.

    Returns:
        One row per (seed, trained_on, tested_on): ``trained_on`` is ``"atlas"`` or a space letter (that space's
        own head), ``tested_on`` a space letter (its relative test vectors alone); ``accuracy``, ``macro_f1``,
        ``chance``, ``n_anchors``, ``n_train``, ``n_test``, ``projection``.
    """
    y = np.asarray(labels)
    names = SPACE_LETTERS[:len(spaces)]
    position = {name: i for i, name in enumerate([ATLAS, *names])}
    rows = []
    for seed in seeds:
        pool, train, test = split_indices(y, n_anchors=n_anchors, test_size=test_size, seed=seed)
        anchors = draw_anchors(spaces[0], y, pool, n_anchors, strategy, seed)
        found = []
        for first in range(len(spaces)):
            order = [first, *(i for i in range(len(spaces)) if i != first)]
            frame = atlas_comparison([spaces[i] for i in order], y, anchor_idx=anchors, train_idx=train,
                                     test_idx=test, head=head, projection=projection, seed=seed,
                                     names=[names[i] for i in order])
            for row in frame.to_dict("records"):
                if row["method"] == STITCHED_HEAD and row["space"] != names[first]:
                    trained_on = names[first]  # the first space's head read on another space
                elif row["method"] in (ATLAS_HEAD, OWN_HEAD) and first == 0:
                    trained_on = ATLAS if row["method"] == ATLAS_HEAD else row["space"]
                else:
                    continue  # the same heads again (the atlas head and the own heads are kept from one order)
                found.append({"seed": seed, "trained_on": trained_on, "tested_on": row.pop("space"),
                              **{k: v for k, v in row.items() if k != "method"}, "projection": projection})
        rows += sorted(found, key=lambda r: (position[r["trained_on"]], position[r["tested_on"]]))
    return pd.DataFrame(rows)


def atlas_groups(scenario: ExperimentScenario) -> list[tuple[list[str], list[bool]]]:
    """The encoder groups of the scenario's atlas comparison, each with which of its spaces are transformed:
    ``atlas_groups`` as given (no transform), or else every pair as the stitching table reads it (A as embedded,
    B under ``b_transform``), each unordered pair once (A → B and B → A share one atlas); then, with
    ``atlas_all_encoders``, one group of every encoder of the pairs (in order of first appearance, as embedded)
    when they are 3 or more."""
    groups = [(list(group), [False] * len(group)) for group in scenario.atlas_groups]
    if not groups:
        transformed, seen = scenario.b_transform is not None, set()
        for spec_a, spec_b in scenario.pairs:
            key = frozenset({(spec_a, False), (spec_b, transformed)})
            if key not in seen and (spec_a, False) != (spec_b, transformed):
                seen.add(key)
                groups.append(([spec_a, spec_b], [False, transformed]))
    everyone = list(dict.fromkeys(spec for pair in scenario.pairs for spec in pair))
    if scenario.atlas_all_encoders and len(everyone) >= 3:
        groups.append((everyone, [False] * len(everyone)))
    return groups


def run_atlas(scenario: ExperimentScenario, verbose: bool = True, dataset: Dataset | None = None,
              spaces: dict[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """:func:`atlas_cross` for every group of :func:`atlas_groups` and every ``atlas_projections`` entry, on the
    scenario's seeds, anchors, split and head; ``dataset`` and ``spaces`` (spec -> embeddings) are loaded and
    embedded when not given. Rows carry ``dataset``, ``encoders`` (the group's specs, " | "-joined, in letter
    order), ``group`` (its number), ``trained_on_encoder`` / ``tested_on_encoder`` and ``b_transform``."""
    groups = atlas_groups(scenario)
    if not groups or not scenario.atlas_projections:
        return pd.DataFrame()
    if dataset is None:
        dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.sample_seed)
    needed = sorted({spec for group, _ in groups for spec in group})
    if spaces is None:
        check_encoders([(spec, "items") for spec in needed], dataset, scenario.dataset)
        spaces = {}
    spaces = {**spaces, **{spec: embed(spec, dataset, verbose=verbose) for spec in needed if spec not in spaces}}
    frames, tick = [], _bar("atlas", verbose)
    total = len(groups) * len(scenario.atlas_projections)
    for number, (specs, transform) in enumerate(groups):
        matrices = [transform_space(spaces[s], scenario) if t else spaces[s] for s, t in zip(specs, transform)]
        letters = {SPACE_LETTERS[i]: spec for i, spec in enumerate(specs)} | {ATLAS: ATLAS}
        for projection in scenario.atlas_projections:
            frame = atlas_cross(matrices, dataset.labels, n_anchors=scenario.n_anchors, strategy=scenario.strategy,
                                test_size=scenario.test_size, seeds=scenario.seeds, head=scenario.head,
                                projection=projection)
            frames.append(frame.assign(
                dataset=dataset.name, group=number, encoders=" | ".join(specs),
                transformed="".join(SPACE_LETTERS[i] for i, t in enumerate(transform) if t),
                trained_on_encoder=frame.trained_on.map(letters), tested_on_encoder=frame.tested_on.map(letters),
                b_transform=scenario.b_transform or ""))
            tick(len(frames), total)
    return pd.concat(frames, ignore_index=True)


def run_stitching(scenario: ExperimentScenario, verbose: bool = True) -> ExperimentResults:
    """Every pair's table (and the first ``sweep_pairs`` pairs' anchor sweeps); B is transformed first when the
    scenario says so (:func:`transform_space`: the rows then carry ``b_transform``)."""
    dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.sample_seed)
    check_encoders([(spec, "items") for spec in scenario.encoders()], dataset, scenario.dataset)
    spaces = {spec: embed(spec, dataset, verbose=verbose) for spec in scenario.encoders()}
    transformed = {spec: transform_space(spaces[spec], scenario) for spec in {b for _, b in scenario.pairs}}
    frames, sweeps = [], []
    for number, (spec_a, spec_b) in enumerate(scenario.pairs):
        frame = stitch_benchmark(spaces[spec_a], transformed[spec_b], dataset.labels, methods=scenario.methods,
                                 n_anchors=scenario.n_anchors, strategy=scenario.strategy,
                                 test_size=scenario.test_size, seeds=scenario.seeds, head=scenario.head,
                                 progress=_bar(f"stitch {number + 1}/{len(scenario.pairs)}", verbose))
        frame = frame.assign(dataset=dataset.name, encoder_a=spec_a, encoder_b=spec_b)
        frames.append(frame.assign(b_transform=scenario.b_transform) if scenario.b_transform else frame)
        if number < scenario.sweep_pairs:
            sweep = anchor_sweep(spaces[spec_a], transformed[spec_b], dataset.labels,
                                 counts=sweep_counts(scenario, len(dataset)), methods=scenario.sweep_methods,
                                 strategies=scenario.sweep_strategies, test_size=scenario.test_size,
                                 seeds=scenario.sweep_seeds, head=scenario.head,
                                 progress=_bar(f"sweep {number + 1}", verbose))
            sweeps.append(sweep.assign(dataset=dataset.name, encoder_a=spec_a, encoder_b=spec_b))
    atlas = run_atlas(scenario, verbose=verbose, dataset=dataset, spaces=spaces)
    return ExperimentResults(scenario, pd.concat(frames, ignore_index=True),
                             pd.concat(sweeps, ignore_index=True) if sweeps else pd.DataFrame(), atlas)


def _prompts(scenario: ExperimentScenario, dataset: Dataset) -> torch.Tensor:
    texts = class_prompts(dataset.label_names, scenario.prompt_template)
    return get_encoder(scenario.text_encoder).encode(texts).cpu()


def run_asif(scenario: ExperimentScenario, verbose: bool = True) -> ExperimentResults:
    """ASIF accuracy (and the anchor-label k-NN baseline) against the number of image/caption pairs."""
    dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.sample_seed)
    check_encoders([(scenario.image_encoder, "items"), (scenario.text_encoder, "captions")], dataset,
                   scenario.dataset)
    images = embed(scenario.image_encoder, dataset, verbose=verbose)
    captions = embed(scenario.text_encoder, dataset, captions=True, verbose=verbose)
    prompts = _prompts(scenario, dataset)
    room = len(dataset) - test_count(scenario.test_size, len(dataset)) - 2  # pairs must leave the test set alone
    counts = [c for c in sorted(set(sweep_counts(scenario, len(dataset))) | {scenario.n_anchors}) if c <= room]
    if scenario.n_anchors not in counts:
        raise ConfigError(f"{len(dataset)} samples leave room for at most {room} anchor pairs beside the test set; "
                          f"n_anchors={scenario.n_anchors} does not fit.")
    frames = []
    for seed in scenario.seeds:
        pool, _, test = split_indices(dataset.labels, n_anchors=max(counts), test_size=scenario.test_size, seed=seed)
        pool = np.random.default_rng(seed).permutation(pool)  # the first c of a fixed order: nested anchor sets
        sweep = asif_accuracy_sweep(images, captions, prompts, dataset.labels, counts, anchor_order=pool, test=test,
                                    topk=scenario.topk, power=scenario.power, knn_k=scenario.knn_k)
        frames.append(sweep.assign(seed=seed, dataset=dataset.name, encoder_a=scenario.image_encoder,
                                   encoder_b=scenario.text_encoder))
    columns = ["seed", "n_anchors", "n_test", "chance", "dataset", "encoder_a", "encoder_b", "method", "accuracy"]
    frame = pd.concat(frames, ignore_index=True)[columns]
    return ExperimentResults(scenario, frame[frame.n_anchors == scenario.n_anchors].reset_index(drop=True), frame)


def run_clip(scenario: ExperimentScenario, verbose: bool = True) -> ExperimentResults:
    """CLIP zero-shot on a labelled image set, and another image encoder stitched into CLIP's image space."""
    dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.sample_seed)
    image_specs = [scenario.image_encoder]
    if scenario.stitched_image_encoder:
        image_specs.append(scenario.stitched_image_encoder)
    check_encoders([(spec, "items") for spec in image_specs], dataset, scenario.dataset)
    prompts_read = encoder_modality(scenario.text_encoder) or get_encoder(scenario.text_encoder).modality
    check_modality(scenario.text_encoder, prompts_read, "class prompts", "text")
    clip_images = embed(scenario.image_encoder, dataset, verbose=verbose)
    prompts = _prompts(scenario, dataset)
    other = None
    if scenario.stitched_image_encoder:
        other = embed(scenario.stitched_image_encoder, dataset, verbose=verbose)
    rows = []
    for seed in scenario.seeds:
        pool, _, test = split_indices(dataset.labels, n_anchors=scenario.n_anchors, test_size=scenario.test_size,
                                      seed=seed)
        y_test = dataset.labels[test]
        common = {"seed": seed, "n_anchors": scenario.n_anchors, "n_test": len(test), "dataset": dataset.name,
                  "chance": chance_rate(dataset.labels[pool]), "encoder_a": scenario.image_encoder}
        direct = clip_scores(clip_images[test], prompts).argmax(1).numpy()
        rows.append({**common, "method": "clip-zero-shot", "encoder_b": scenario.text_encoder,
                     "accuracy": float((direct == y_test).mean())})
        if other is not None:
            stitched = stitched_clip_scores(other[test], other[pool], clip_images[pool], prompts,
                                            translator=scenario.translator).argmax(1).numpy()
            rows.append({**common, "method": f"stitched-{scenario.translator}",
                         "encoder_b": scenario.stitched_image_encoder, "accuracy": float((stitched == y_test).mean())})
    return ExperimentResults(scenario, pd.DataFrame(rows))


def run_alignment(scenario: ExperimentScenario, verbose: bool = True) -> ExperimentResults:
    """Few and zero anchors (:func:`latent_core.experiments.alignment.alignment_benchmark`) for every pair, both
    directions; ``encoder_a`` is the target side (its head), ``encoder_b`` the side translated into it."""
    dataset = load_dataset(scenario.dataset, n=scenario.n_samples, seed=scenario.sample_seed)
    check_encoders([(spec, "items") for spec in scenario.encoders()], dataset, scenario.dataset)
    spaces = {spec: embed(spec, dataset, verbose=verbose) for spec in scenario.encoders()}
    frames = []
    for number, (spec_a, spec_b) in enumerate(scenario.pairs):
        frame = alignment_benchmark(spaces[spec_a], spaces[spec_b], dataset.labels, modes=scenario.modes,
                                    sides=scenario.sides, n_seed_pairs=scenario.n_seed_pairs,
                                    test_size=scenario.test_size, true_anchors=scenario.n_anchors,
                                    seeds=scenario.seeds, head=scenario.head,
                                    unpaired_kwargs={"method": scenario.unpaired_method},
                                    progress=_bar(f"align {number + 1}/{len(scenario.pairs)}", verbose))
        forward = frame.direction == "forward"
        frames.append(frame.assign(dataset=dataset.name, pair=f"{short_name(spec_a)} ↔ {short_name(spec_b)}",
                                   encoder_a=np.where(forward, spec_a, spec_b),
                                   encoder_b=np.where(forward, spec_b, spec_a)))
    return ExperimentResults(scenario, pd.concat(frames, ignore_index=True))


RUNNERS = {"stitching": run_stitching, "asif": run_asif, "clip": run_clip, "alignment": run_alignment}


def run(scenario: ExperimentScenario, verbose: bool = True, atlas_only: bool = False) -> ExperimentResults:
    """Run a scenario; ``atlas_only`` (stitching scenarios): only its atlas comparison (:func:`run_atlas`), with
    empty ``results``."""
    scenario = scenario.validate()
    if atlas_only:
        if scenario.kind != "stitching":
            raise ConfigError(f"Scenario {scenario.name!r}: the atlas comparison runs in stitching scenarios only, "
                              f"not {scenario.kind!r}.")
        atlas = run_atlas(scenario, verbose=verbose)
        if not len(atlas):
            raise ConfigError(f"Scenario {scenario.name!r} has no atlas comparison (atlas_projections is empty, or "
                              "no pair of distinct spaces).")
        return ExperimentResults(scenario, pd.DataFrame(), atlas=atlas)
    return RUNNERS[scenario.kind](scenario, verbose=verbose)
