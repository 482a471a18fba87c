"""Streamlit entry point: ``python -m app.launch`` (or ``streamlit run app/main.py`` from the repo root)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # streamlit puts app/ on the path, not the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Latent Space Explorer", page_icon="🧭", layout="wide")
pages = [st.Page(str(ROOT / "app" / "pages" / "home.py"), title="Two spaces", icon="🗺️", default=True)]
st.navigation(pages).run()
