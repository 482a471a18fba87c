"""First page: the default scenario, two encoders on the same data, side by side."""

from __future__ import annotations

import streamlit as st

from app import services
from app.components.projection import show_projection_pair
from latent_core.config import DEFAULT_SCENARIO
from latent_core.errors import LatentCoreError

scenario = DEFAULT_SCENARIO

st.title("Latent Space Explorer")
st.markdown(
    "Two encoders trained separately embed **the same texts**. Their coordinates are not comparable: "
    "each map below is the principal-component view of one space. The same articles, the same topics, "
    "but different geometry. Relative representations and translation (next pages) make them talk."
)

try:
    data = services.dataset(scenario.dataset, scenario.n_samples, scenario.seed)
    spaces = {}
    for role, spec in (("A", scenario.encoder_a), ("B", scenario.encoder_b)):
        bar = st.progress(0.0, text=f"Encoder {role}: loading {spec}…")

        def report(done: int, total: int, bar=bar, role=role) -> None:
            bar.progress(done / total, text=f"Encoder {role}: embedded {done} of {total} samples")

        spaces[role] = services.embeddings(spec, scenario.dataset, scenario.n_samples, scenario.seed, report)
        bar.empty()
except LatentCoreError as error:
    st.error(f"{error}\n\nRun the README's setup command (`make demo`) to install the offline models and data.")
    st.stop()

st.caption(
    f"Dataset **{data.name}**: {len(data)} samples, {len(data.label_names)} classes. "
    f"A = `{scenario.encoder_a}` ({spaces['A'].shape[1]}-d), B = `{scenario.encoder_b}` ({spaces['B'].shape[1]}-d)."
)
show_projection_pair(
    (services.pca_map(spaces["A"]), f"A: {scenario.encoder_a.split('/')[-1]} (PCA)"),
    (services.pca_map(spaces["B"]), f"B: {scenario.encoder_b.split('/')[-1]} (PCA)"),
    data,
    key="home",
)
