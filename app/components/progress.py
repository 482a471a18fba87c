"""Progress bars for long steps (encoding, aligning, stitching sweeps), removed when the step ends, even on an error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import streamlit as st

Report = Callable[[int, int], None]
"""``report(done, total)``, the progress callback of latent_core."""


@contextmanager
def progress_bar(area, start_text: str, step_text: Callable[[int, int], str]) -> Iterator[Report]:
    """Yield ``report(done, total)`` drawing a bar in the container ``area`` (no bar when ``area`` is None)."""
    if area is None:
        yield lambda done, total: None
        return
    with area:
        bar = st.progress(0.0, text=start_text)
    try:
        yield lambda done, total: bar.progress(done / total, text=step_text(done, total))
    finally:
        bar.empty()


def encoding_bars(area, noun: str | Callable[[str], str] = "samples"
                  ) -> Callable[[str, str], AbstractContextManager[Report]]:
    """A tracker for the services (``tracker(role, spec)``): one bar in ``area`` per encoding, naming the role,
    the model, and what is embedded (``noun``, or ``noun(role)``)."""
    def tracker(role: str, spec: str) -> AbstractContextManager[Report]:
        what = noun(role) if callable(noun) else noun
        return progress_bar(area, f"{role}: loading {spec}…",
                            lambda done, total: f"{role}: embedded {done} of {total} {what}")
    return tracker


def aligning_bars(area) -> Callable[[str], AbstractContextManager[Report]]:
    """A tracker for an alignment (the anchor modes without parallel anchors): ``tracker(what)`` is one bar in
    ``area`` naming what is aligned."""
    return lambda what: progress_bar(area, f"Aligning the two spaces ({what})…",
                                     lambda done, total: f"Aligning the two spaces ({what}): step {done} of {total}")
