"""The bundled embeddings: which matrices ship, and the Cross-modal page's defaults they are computed for."""

import dataclasses

from latent_core import bundle
from latent_core.config import DEFAULT_SCENARIO
from latent_core.experiments.scenarios import BUILTIN, CROSSMODAL_SCENARIO


def test_crossmodal_scenario_is_the_asif_experiment_on_1000_samples():
    asif = BUILTIN["crossmodal-asif"]
    assert bundle.CROSSMODAL_SCENARIO is CROSSMODAL_SCENARIO  # re-exported, one definition
    assert CROSSMODAL_SCENARIO.validate() is CROSSMODAL_SCENARIO
    assert (CROSSMODAL_SCENARIO.name, CROSSMODAL_SCENARIO.n_samples, CROSSMODAL_SCENARIO.sample_seed) == (
        "crossmodal-page", 1000, 0)
    assert CROSSMODAL_SCENARIO.sweep_counts == [25, 50, 100, 200, 300, 500]
    changed = {"name", "n_samples", "sample_seed", "sweep_counts"}
    for field in dataclasses.fields(asif):
        if field.name not in changed:
            assert getattr(CROSSMODAL_SCENARIO, field.name) == getattr(asif, field.name), field.name
    assert asif.n_samples == 3000 and asif.name == "crossmodal-asif"  # the built-in is not modified


def test_bundle_entries_are_the_default_pair_and_the_crossmodal_towers():
    cross, default = CROSSMODAL_SCENARIO, DEFAULT_SCENARIO
    assert bundle.bundle_entries() == [
        (default.encoder_a, default.dataset, default.n_samples, default.seed, False),
        (default.encoder_b, default.dataset, default.n_samples, default.seed, False),
        ("effnet:lite0", "captions", 1000, 0, False),
        (cross.text_encoder, "captions", 1000, 0, True),
    ]
