"""Spaces: absolute A and B (unrelated coordinates), relative A and B (one map), the atlas (A, B and C merged), and B
translated into A."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app.components import projection as proj
from app.components import sidebar
from app.components.export import csv_download
from app.components.feedback import or_stop, show_error
from app.components.progress import aligning_bars, encoding_bars
from app.safety import md
from app.services import alignment, spaces
from app.state import SAME, map_label
from app.uploads import plot_name, spec_label
from latent_core.errors import LatentCoreError

if TYPE_CHECKING:  # pandas is imported where it is used (services build the frames)
    import pandas as pd

PANEL_KEYS = ("panel-abs-a", "panel-abs-b", "panel-rel-a", "panel-rel-b", "panel-translated")
ATLAS_KEY = "panel-atlas"  # the atlas's map (drawn when encoder C is chosen, or on the toggle)
ATLAS_TOGGLE = "show-atlas"
GALLERY_LIMIT = 24
MOVED_TABLES = ("moved-changed", "moved-agreeing")  # the two tables' keys: a clicked row selects its sample
MOVED_TOP = 15
MOVED_K_MAX = 50


def map_title(maps_kind: str, wanted: str) -> str:
    """What the panel titles say the picture is: the map drawn (``UMAP``), or, while a preview stands in for the
    wanted map, ``PCA preview, UMAP computing…``."""
    if maps_kind == wanted:
        return map_label(maps_kind)
    return f"{map_label(maps_kind)} preview, {map_label(wanted)} computing…"


st.title("Two spaces, one dataset")
_area = st.container()
ex = or_stop(spaces.explorer, sidebar.current(), encoding_bars(_area), aligning_bars(_area))

settings, data = ex.settings, ex.data
if settings.aligned:
    anchors_text = (f"{len(ex.anchor_idx)} anchor pairs found by the alignment "
                    f"({alignment.align_key(settings).describe()})")
    translator_text = "the alignment's Procrustes map"
else:
    anchors_text, translator_text = f"{len(ex.anchor_idx)} anchors ({settings.strategy})", settings.translator
st.caption(
    f"Dataset **{md(data.name, 60)}**: {len(data)} samples, {len(data.label_names)} classes · "
    f"A = {md(spec_label(settings.encoder_a))} ({ex.a.shape[1]}-d) · B = {md(spec_label(settings.encoder_b))} "
    f"({ex.b.shape[1]}-d) · "
    f"{anchors_text} · relative: {settings.projection} · "
    f"translator: {translator_text}"
)
if settings.aligned:
    _quality = or_stop(alignment.quality, settings)
    _exact = "" if np.isnan(_quality.exact) else f", {_quality.exact:.0%} of them the same sample"
    _held = "the same samples, B's order hidden" if settings.sides == SAME else "different samples"
    st.info(f"**{alignment.mode_label(settings)}**: the alignment saw {_quality.rows_a} samples of A and "
            f"{_quality.rows_b} of B ({_held}; never the {_quality.n_test} test samples) and found "
            f"{_quality.n_pairs} pairs{_exact}, {_quality.purity:.0%} within a class. The panels draw every sample "
            "in its true place; the Stitching lab scores the alignment against that hidden truth.", icon="🧩")
for note in ex.notes:
    st.warning(md(note), icon="ℹ️")


def _draw(maps: dict[str, np.ndarray], maps_kind: str, colours: dict[str, np.ndarray] | None, *,
          select: bool, atlas: np.ndarray | None = None) -> None:
    rows = proj.display_index(len(data), seed=settings.seed)
    chosen = set(proj.selected_ids())
    selected = np.array([i in chosen for i in data.ids], dtype=bool)
    kind = map_title(maps_kind, settings.map_kind)
    shared = (ex.key, maps_kind, settings.color_by, tuple(sorted(chosen)))

    def panel(column, key: str, coords, title: str, file_name: str, colour=None, overlay=None, anchors=ex.anchor_idx):
        with column:
            figure = proj.shared_figure(
                (*shared, key, title),
                lambda: proj.scatter_panel(coords, data, title, anchors=anchors, selected=selected, rows=rows,
                                           colour=colour, overlay=overlay))
            proj.show_panel(figure, key if select else f"preview-{key}", file_name, select=select)

    colour = (lambda name: colours[name]) if colours else (lambda name: None)
    st.subheader("Absolute spaces: each mapped on its own")
    st.caption("The coordinates of two encoders are not comparable, so each panel gets its own map. "
               "Same samples, same classes, different geometry.")
    left, right = st.columns(2)
    panel(left, PANEL_KEYS[0], maps["abs_a"], f"A: {plot_name(settings.encoder_a)} ({kind})", "absolute-a",
          colour("absolute"))
    panel(right, PANEL_KEYS[1], maps["abs_b"], f"B: {plot_name(settings.encoder_b)} ({kind})", "absolute-b",
          colour("absolute"), anchors=ex.anchors_b)
    st.subheader("Relative spaces: one map, fitted on A")
    if settings.aligned:
        st.caption(f"Each sample described by its {settings.projection} similarity to {len(ex.anchor_idx)} anchors: "
                   "the alignment's most confident pairs, A's sample of each pair in A and B's in B (◇ marks them "
                   "in each space). Relative B is placed by the map fitted on relative A: where the panels agree, "
                   "the pairs it found agree.")
    else:
        st.caption(f"Each sample described by its {settings.projection} similarity to the same {len(ex.anchor_idx)} "
                   "anchors. Relative B is placed by the map fitted on relative A: where the panels agree, the spaces "
                   "agree.")
    left, right = st.columns(2)
    panel(left, PANEL_KEYS[2], maps["rel_a"], f"relative A ({kind})", "relative-a", colour("relative"))
    panel(right, PANEL_KEYS[3], maps["rel_b"], f"relative B, placed by A's map ({kind})", "relative-b",
          colour("relative"), anchors=ex.anchors_b)
    if atlas is not None:
        _atlas_panel(panel, atlas)
    st.subheader("Translation: B mapped into A")
    left, right = st.columns([3, 2])
    panel(left, PANEL_KEYS[4], maps["abs_a"], f"A (●) and B translated into A (✕), {translator_text} ({kind})",
          "translated", colour("translated"), overlay=maps["translated"])
    with right:
        if settings.aligned:
            st.caption("The alignment's Procrustes map, fitted on the pairs it found without knowing which sample is "
                       "which, carries every B vector into A's space; both are drawn with A's map. Select points (box "
                       "or lasso) to see a line from each sample in A to where its B vector lands.")
        else:
            st.caption(f"A {settings.translator} map fitted on the anchors only carries every B vector into A's "
                       "space; both are drawn with A's map. Select points (box or lasso) to see a line from each "
                       "sample in A to where its B vector lands.")
        _selected_samples(select)


def _atlas_panel(panel, coords: np.ndarray) -> None:
    """The atlas's own PCA map beside the caption saying what it merges."""
    st.subheader("Atlas: the relative spaces merged")
    roles = dict(zip(spaces.ATLAS_ROLES, settings.atlas_encoders))
    left, right = st.columns([3, 2])
    panel(left, ATLAS_KEY, coords, f"atlas of {' + '.join(roles)} (PCA)", "atlas")
    with right:
        st.caption(f"Charts to Atlas: each sample's {settings.projection} similarities to the same "
                   f"{len(ex.anchor_idx)} anchors, averaged over "
                   + ", ".join(f"{role} = {md(spec_label(spec))}" for role, spec in roles.items())
                   + ". Every space's relative representation lives in these coordinates, so one classifier trained "
                     "on the atlas reads each space alone (the Stitching lab measures it). Coloured by label; drawn "
                     "with its own PCA, which is instant.")
        if len(roles) < 3:
            st.caption("Choose an Encoder C in the sidebar to merge a third space.")


def _atlas_coords() -> np.ndarray | None:
    """The atlas map when it is shown (encoder C chosen, or the toggle on), encoding C first if needed; None when
    hidden or impossible (the reason is shown)."""
    if settings.aligned:
        if settings.encoder_c:
            st.caption("The atlas needs parallel anchors (encoder C has no counterpart of the pairs an alignment "
                       "finds): choose parallel anchors in the sidebar to see it.")
        return None
    if not settings.encoder_c and not st.toggle("Show the atlas of A and B (the two relative spaces merged)",
                                                key=ATLAS_TOGGLE):
        return None
    try:
        return spaces.atlas_map(ex, encoding_bars(st.container()))
    except LatentCoreError as error:
        show_error(error)
        return None


def _selected_samples(live: bool) -> None:
    ids = proj.selected_ids()
    if not ids:
        st.info("Nothing selected. Drag a box or lasso in any panel: the same samples light up everywhere.")
        return
    position = {sample_id: i for i, sample_id in enumerate(data.ids)}
    rows = [position[i] for i in ids if i in position]
    left, right = st.columns(2)
    left.button(f"Clear selection ({len(rows)})", on_click=proj.set_selection, args=([],),
                key="clear-selection" if live else "clear-selection-preview")
    right.button(f"Use these {len(rows)} as anchors", on_click=sidebar.use_as_anchors,
                 args=([data.ids[i] for i in rows],), disabled=len(rows) < 2 or not live,
                 key="use-selection" if live else "use-selection-preview")
    if data.modality == "image":
        shown = rows[:GALLERY_LIMIT]
        st.image([data.items[i] for i in shown], caption=[md(data.label_names[data.labels[i]], 30) for i in shown],
                 width=72)  # captions render Markdown
        if len(rows) > len(shown):
            st.caption(f"First {len(shown)} of {len(rows)} selected images.")
    else:
        import pandas as pd
        st.dataframe(pd.DataFrame({"id": [data.ids[i] for i in rows],
                                   "label": [data.label_names[data.labels[i]] for i in rows],
                                   "text": [str(data.items[i]) for i in rows]}),
                     hide_index=True, height=300)


# ---- what moved -------------------------------------------------------------------------------------------------

def _moved_choice() -> tuple[str, int]:
    """The comparison and k of the What-moved tables (their widgets' values; defaults before they are drawn)."""
    comparison = st.session_state.get("moved-comparison", "absolute")
    k = int(st.session_state.get("moved-k", 10))
    return comparison, max(1, min(k, len(data) - 1))


def _moved_tables() -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The full ranking and the two tables shown (key -> rows), for the current comparison and k."""
    comparison, k = _moved_choice()
    ranking = spaces.what_moved(ex, comparison, k)
    tables = {MOVED_TABLES[0]: ranking.head(MOVED_TOP), MOVED_TABLES[1]: spaces.most_agreeing(ranking, MOVED_TOP)}
    return ranking, tables


def _table_rows(event) -> list[int] | None:
    """Selected row positions of a table's selection event (``None`` when there is none)."""
    if not event or "selection" not in event:
        return None
    return [int(r) for r in (event["selection"].get("rows") or [])]


def _adopt_table_selection() -> None:
    """A row clicked in a What-moved table becomes the shared selection (every panel highlights it).

    Read dict-style from session state like the charts' events (:func:`proj.sync_selection`), and only when that
    table's rows changed since the last run, so a later box or lasso in a panel is not undone by the table's
    still-selected row; an emptied table clears only a selection it made."""
    seen = st.session_state.setdefault("_moved_seen", {})
    shown = None
    for key in MOVED_TABLES:
        rows = _table_rows(st.session_state.get(key))
        if rows is None or seen.get(key) == tuple(rows):
            continue
        seen[key] = tuple(rows)
        shown = shown or _moved_tables()[1]
        frame = shown[key]
        ids = [str(frame["id"].iloc[r]) for r in rows if 0 <= r < len(frame)]
        if ids or st.session_state.get(proj.SOURCE_KEY) == key:
            proj.set_selection(ids, source=key)


def _moved_table(frame: pd.DataFrame, key: str, k: int) -> None:
    columns = {"rank": st.column_config.NumberColumn("rank", width="small"),
               "id": st.column_config.TextColumn("id"),
               "label": st.column_config.TextColumn("label"),
               "jaccard": st.column_config.NumberColumn(f"Jaccard@{k}", format="%.2f",
                                                        help="shared neighbours / all neighbours of the two sets"),
               "lost neighbours": st.column_config.TextColumn("lost neighbours", help="in A's k-NN, not in B's"),
               **{c: st.column_config.NumberColumn(c.replace("jaccard", "Jaccard"), format="%.2f",
                                                   help="the same with four times as many neighbours: orders ties")
                  for c in frame.columns if c.startswith("jaccard@")},
               "gained neighbours": st.column_config.TextColumn("gained neighbours", help="in B's k-NN, not in A's")}
    shown = frame.drop(columns="row")
    if data.modality == "text":
        columns["text"] = st.column_config.TextColumn("text", width="medium")
    else:  # data: URLs of PNG thumbnails made here, never a link from the data
        shown.insert(3, "image", [spaces.thumbnail_url(data.items[int(i)]) for i in frame["row"]])
        columns["image"] = st.column_config.ImageColumn("image", width="small")
    st.dataframe(shown, key=key, on_select="rerun", selection_mode="single-row", hide_index=True,
                 column_config=columns, height=35 * (len(shown) + 1) + 3, row_height=35)  # every row, no scroll


def _what_moved() -> None:
    """Two ranked tables (the samples whose neighbourhoods changed most, and agree most) and the full ranking as a
    CSV. Selecting a row highlights its sample in every panel."""
    st.subheader("What moved: neighbourhoods that changed most between A and B")
    left, right = st.columns(2)
    left.segmented_control("Compare", list(spaces.MOVED_COMPARISONS), key="moved-comparison", default="absolute",
                           format_func=spaces.MOVED_COMPARISONS.get, required=True)
    most = max(2, min(MOVED_K_MAX, len(data) - 1))
    right.slider("Neighbours (k)", 1, most, key="moved-k", value=min(10, most))
    comparison, k = _moved_choice()
    ranking, tables = _moved_tables()
    st.caption(f"For each sample, its {k} nearest neighbours (cosine) in A and in B, in "
               f"{spaces.MOVED_COMPARISONS[comparison]}; Jaccard@{k} = shared / all neighbours of the two sets "
               "(1: the same neighbourhood, 0: none in common). \"Lost\": neighbours in A that are not in B; "
               "\"gained\": the reverse. Click a row to highlight the sample in every panel above.")
    st.markdown(f"**Most changed** (lowest Jaccard@{k})")
    _moved_table(tables[MOVED_TABLES[0]], MOVED_TABLES[0], k)
    st.markdown(f"**Most agreeing** (highest Jaccard@{k})")
    _moved_table(tables[MOVED_TABLES[1]], MOVED_TABLES[1], k)
    csv_download(spaces.what_moved_csv(ranking), f"⬇ Full ranking ({len(ranking)} samples) as CSV",
                 f"what-moved-{comparison}-k{k}.csv", key="moved-csv")


@st.fragment
def panels() -> None:
    """Selections rerun only this fragment: the other pages' work and the sidebar stay as they are."""
    if st.session_state.pop(sidebar.FULL_RERUN, False):
        st.rerun(scope="app")  # the anchors changed: the sidebar and every panel must follow
    proj.sync_selection((*PANEL_KEYS, ATLAS_KEY))
    if len(data) > 2:
        _adopt_table_selection()
    if len(data) > proj.MAX_POINTS:
        st.warning(f"{len(data)} samples: the panels draw a random {proj.MAX_POINTS} of them (metrics use all).")
    colours = spaces.neighbour_agreement(ex) if settings.color_by == "agreement" else None
    if settings.color_by == "agreement":
        st.caption("Colour: for each sample, the fraction of its 10 nearest neighbours that are also its "
                   "neighbours in the other space of the pair (1 = the same neighbourhood).")
    atlas = _atlas_coords()
    if settings.map_kind == "pca" or spaces.maps_ready(ex, settings.map_kind):
        _draw(spaces.panel_maps(ex, settings.map_kind), settings.map_kind, colours, select=True, atlas=atlas)
    else:
        preview = st.empty()
        with preview.container():
            st.info(f"PCA shown while {map_label(settings.map_kind)} is computed…")
            _draw(spaces.panel_maps(ex, "pca"), "pca", colours, select=False, atlas=atlas)
        with st.status(f"Computing {map_label(settings.map_kind)} maps (cached on disk afterwards)…") as status:
            maps = spaces.panel_maps(ex, settings.map_kind, progress=status.write)
            status.update(label=f"{map_label(settings.map_kind)} maps ready", state="complete", expanded=False)
        preview.empty()
        _draw(maps, settings.map_kind, colours, select=True, atlas=atlas)
    if len(data) > 2:
        _what_moved()


panels()
