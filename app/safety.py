"""What the app accepts from outside (a link, an upload, a text box) and how it shows it back.

The app is served to strangers, so everything that arrives from outside is data:

- **Never a server path.** A link may name catalogue encoders and datasets (the library registries' ``"name"``
  specs), hub ids where this mode allows the hub, and ``upload:<id>`` of a file uploaded in the same browser
  session. Anything that would read a file (``file:``, ``table:``, ``zip:``, ``st:/folder``, ``clip:local-dir:``)
  is refused with one message that never depends on whether the path exists, because nothing is looked up.
  Batch outputs (LanceDB tables) come only from the folder the operator names (:func:`batch_folder`); a link's
  table name must be one of its listing (:func:`admit_table`).
- **Never markup.** :func:`md` escapes text for ``st.markdown`` / ``st.error`` / captions; :func:`html`
  for Plotly labels (Plotly renders ``<a href>`` in legends and hover text).
- **Capped.** :class:`Limits` holds every cap; the hosted mode's are tighter.

Modes: local (``make demo``) and hosted (``make serve``, ``python -m app.launch --hosted`` or
``LATENT_HOSTED=1``). Hosted hides error details, tightens the caps and turns the hub off unless
``LATENT_ALLOW_HUB=1``.
"""

from __future__ import annotations

import html as _html
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from latent_core.data import spec_kind as dataset_kind
from latent_core.encoders import spec_kind as encoder_kind
from latent_core.errors import ConfigError, LatentCoreError

UPLOAD_PREFIX = "upload:"
_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def hosted() -> bool:
    """True when the app is served to others (``LATENT_HOSTED=1``, set by ``app.launch --hosted``)."""
    return _flag("LATENT_HOSTED")


def hub_allowed() -> bool:
    """Whether the app may open hub models and datasets: locally yes (offline, the loader then says so), hosted only
    with ``LATENT_ALLOW_HUB=1`` (strangers would otherwise make the server download any model)."""
    return not hosted() or _flag("LATENT_ALLOW_HUB")


@dataclass(frozen=True)
class Limits:
    """Every cap on what a user can ask for. Pixel, row and file caps of uploads live in
    :mod:`latent_core.data.upload`, where the files are read."""

    max_samples: int  # sample size in the form or a link
    max_text_chars: int  # live text box (the encoders' tokenizers cut further: disclosed on the page)
    max_upload_mb: int  # one uploaded file (Streamlit's server.maxUploadSize is set to the same)
    max_anchors: int = 1000
    max_seeds: int = 5  # seeds of the stitching table
    max_seed: int = 1_000_000
    max_manual_anchors: int = 1000
    max_link_value: int = 2000  # characters of one URL parameter (longer: refused, never parsed)
    max_batch_rows: int = 5000  # rows of a sample of a batch output (a LanceDB table) opened in the explorer
    max_batch_tables: int = 500  # tables listed from the operator's batch folder
    echo_chars: int = 40  # how much of a refused value is shown back


LOCAL_LIMITS = Limits(max_samples=200_000, max_text_chars=20_000, max_upload_mb=200)
HOSTED_LIMITS = Limits(max_samples=20_000, max_text_chars=2_000, max_upload_mb=25)


def limits() -> Limits:
    return HOSTED_LIMITS if hosted() else LOCAL_LIMITS


def batch_folder() -> str | None:
    """The folder of LanceDB tables (batch outputs) the operator lets visitors sample: ``LATENT_LANCE_DB``, set by
    ``python -m app.launch --lance-db DIR``; None when unset. Never taken from a visitor: they pick table names from
    its listing (:func:`admit_table`)."""
    return os.environ.get("LATENT_LANCE_DB", "").strip() or None


# ---- showing text back ------------------------------------------------------------------------------------

# Links and images (their brackets), autolinks (<>, the ':' of '://', the '@' of an address), HTML (<>), code and
# emphasis (`*_~), headings and tables (#|), LaTeX ($), Streamlit's colour directives (:red[..]: the bracket).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|<>$@~]|:(?=//))")
_WWW = re.compile(r"(?i)(www)\.")  # GitHub's bare "www.host" autolink


def cut(text, limit: int | None = None) -> str:
    """``text`` as a string, cut to ``limit`` characters (with an ellipsis)."""
    text = str(text)
    limit = limits().echo_chars if limit is None else limit
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def md(text, limit: int | None = 0) -> str:
    """``text`` for a Markdown context (``st.markdown``, ``st.error``, captions): every character that Markdown,
    GitHub autolinks, Streamlit colour/icon directives or LaTeX could read is backslash-escaped, so a link, an
    image, a heading or a directive shows as the characters typed. ``limit`` cuts first (0: no cut)."""
    text = str(text) if not limit else cut(text, limit)
    return _WWW.sub(r"\1\\.", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def html(text, limit: int | None = 0) -> str:
    """``text`` for a Plotly label (trace names, hover text, tick labels): HTML entities, so ``<a href>`` or
    ``<img>`` show as characters. ``limit`` cuts first (0: no cut)."""
    text = str(text) if not limit else cut(text, limit)
    return _html.escape(text, quote=True)


# ---- specs from a link ------------------------------------------------------------------------------------

class RefusedSpec(ConfigError):
    """A link names something the app never opens from a link (a path, another session's upload, the hub)."""


UPLOAD_ID = re.compile(r"[0-9a-f]{20}")
NOT_OFFERED = ("is not something this app opens from a link: a link may name the encoders and datasets listed "
               "in the sidebar{hub}, or a file uploaded in this browser session")
FOREIGN_UPLOAD = ("names an uploaded file that is not part of this browser session (uploads are private to the "
                  "tab that made them, and expire). Upload the file again on the Upload page")


def upload_id(spec: str) -> str:
    """The id in ``upload:<id>`` or ``upload:<id>#options``."""
    return spec[len(UPLOAD_PREFIX):].partition("#")[0]


def _refuse(what: str) -> RefusedSpec:
    hub = ", and hub models (owner/name)" if hub_allowed() else ""
    return RefusedSpec(f"The {what} {NOT_OFFERED.format(hub=hub)}.")


def admit(spec: str, role: str, owned_uploads: Mapping[str, str]) -> str:
    """``spec`` if a link may name it as an encoder (``role="encoder"``) or a dataset (``role="dataset"``).

    Raises:
        RefusedSpec: the same message for every path, present or not (nothing is looked up on disk).
    """
    if spec.startswith(UPLOAD_PREFIX):
        if UPLOAD_ID.fullmatch(upload_id(spec)) and upload_id(spec) in owned_uploads:
            return spec
        raise RefusedSpec(f"The {role} {FOREIGN_UPLOAD}.")
    try:
        kind = encoder_kind(spec) if role == "encoder" else dataset_kind(spec)
    except LatentCoreError:
        raise _refuse(role) from None
    if kind == "name" or (kind == "hub" and hub_allowed()):
        return spec
    raise _refuse(role)


TABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")  # LanceDB's table names (no separators, no "..")
NOT_A_TABLE = ("is not one of the tables this server offers: pick a table from the list on the Upload page "
               "(batch outputs)")


def admit_table(name: str, listed) -> str:
    """``name`` if a link may name it as a batch output: exactly one of the ``listed`` tables (the listing of the
    operator's folder), never a path. The message never quotes the value (nothing is looked up on disk).

    Raises:
        RefusedSpec: anything else.
    """
    if isinstance(name, str) and TABLE_NAME.fullmatch(name) and name in listed:
        return name
    raise RefusedSpec(f"The table {NOT_A_TABLE}.")
