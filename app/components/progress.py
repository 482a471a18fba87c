"""A progress bar for long steps (encoding, stitching sweeps), removed when the step ends, even on an error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
