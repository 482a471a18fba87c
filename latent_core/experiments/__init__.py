"""Reproducible stitching experiments: ``python -m latent_core.experiments run <scenario> --out DIR``."""

from __future__ import annotations

from latent_core.experiments.report import write_report
from latent_core.experiments.run import ExperimentResults, run
from latent_core.experiments.scenarios import BUILTIN, ExperimentScenario, load_scenario

__all__ = ["BUILTIN", "ExperimentResults", "ExperimentScenario", "load_scenario", "run", "write_report"]
