"""Streamlit entry point: ``python -m app.launch`` (or ``streamlit run app/main.py`` from the repo root).

Renders the scenario sidebar (shared by every page), writes the settings into the URL, then runs the page.
"""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # streamlit puts app/ on the path, not the repository root
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import backpressure, safety, state  # noqa: E402
from app.components import sidebar  # noqa: E402
from app.services import policy, spaces  # noqa: E402
from latent_core.cache import cache_degraded  # noqa: E402
from latent_core.errors import LatentCoreError  # noqa: E402

# Not "pages/": AppTest (Streamlit 1.67) then treats the folder as a v1 multipage app and reruns a page
# without this entry script, losing the sidebar.
PAGES = ROOT / "app" / "views"
LOG = logging.getLogger("latent_space_explorer")  # model loads, encodings and unexpected errors go to stderr
if not LOG.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)

_PAGES = [  # file, title, icon
    ("spaces.py", "Spaces", "🗺️"),
    ("similarity.py", "Similarity", "🟥"),
    ("stitching.py", "Stitching lab", "🧵"),
    ("crossmodal.py", "Cross-modal", "🖼️"),
    ("learn.py", "Learn", "🎓"),
    ("upload.py", "Upload", "📤"),
]


def run() -> None:
    sidebar.init_from_url()
    navigation = st.navigation([st.Page(str(PAGES / file), title=title, icon=icon, default=index == 0)
                                for index, (file, title, icon) in enumerate(_PAGES)])
    sidebar.scenario_form()
    try:
        data = spaces.scenario_data(sidebar.current().scenario)
    except LatentCoreError:
        data = None  # the page shows the error with what to do
    sidebar.live_controls(data, policy.slider_max(None if data is None else len(data)))
    page_owned = {key: safety.cut(value, state.PAGE_PARAM_CHARS) for key, value in st.query_params.to_dict().items()
                  if key in state.PAGE_PARAMS}
    st.query_params.from_dict({**state.to_query(sidebar.current()), **page_owned})
    navigation.run()
    if cache_degraded():  # known once the page has tried to write
        st.sidebar.warning("This server cannot write its cache folder (read-only or full): results are kept in "
                           "memory and computed again after a restart. Everything else works.", icon="💾")


backpressure.install()  # a browser that falls behind reconnects instead of freezing (idempotent)
st.set_page_config(page_title="Latent Space Explorer", page_icon="🧭", layout="wide")
try:
    run()
except Exception as error:  # noqa: BLE001 - a bug must not show a traceback (server paths) to a visitor
    incident = uuid.uuid4().hex[:8]
    LOG.exception("Unexpected error (incident %s)", incident)
    st.error(f"Something went wrong ({type(error).__name__}, incident {incident}). The details are in the server "
             "log.\n\n**What to do:** undo the setting you just changed, or pick a preset in the sidebar.", icon="⚠️")
