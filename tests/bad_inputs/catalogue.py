"""The bad-inputs catalogue: every case performs one bad input and returns what the user sees.

One source of truth for ``docs/bad-inputs.md`` (rendered by ``python -m tests.bad_inputs.render --write``) and for
``tests/bad_inputs/test_catalogue.py`` (which runs every case again and compares it with the committed doc).

``Case.run()`` returns ``(kind, message)``:

- library: the exception class name and ``str(exc)``; ``"accepted"`` and a short result for inputs that work now;
  ``"RuntimeWarning"`` and the warning text for inputs that are used with a warning. An exception that is not a
  :class:`latent_core.errors.LatentCoreError` comes back as ``"untyped <Name>"`` (a bug).
- CLI: ``"exit code <n>"`` and the stderr of ``python -m latent_core.experiments run <scenario file>``.
- URL / upload: ``"shown"`` and the texts the app shows (one line per element: where, what kind, the text with the
  Markdown backslash escapes removed); ``"exception"`` when AppTest saw an exception, ``"incident"`` when the
  app's last-resort handler ("Something went wrong ... incident <id>") caught one (both are bugs).
- cache: ``"RuntimeWarning"`` and the warning text.

Variable parts are replaced by placeholders: temporary folders by ``<tmp>``, incident ids by ``<id>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tests.app.fakes  # noqa: F401 - the fake: encoders, registered first so every message lists the same backends
import tests.conftest  # noqa: F401 - cache folder, torchvision work-around (as under pytest)
from tests.conftest import ROOT

AREAS = ("library", "CLI", "URL", "upload", "cache")
FAKE = {"a": "fake:text-a", "b": "fake:text-b", "n": "60", "k": "10"}
SAFETY = "tests/app/test_safety.py::test_malicious_link_shows_no_file_no_secret_no_markup_no_traceback"


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    input: str  # Markdown (a table cell: no '|' unescaped)
    run: Callable[[], tuple[str, str]]
    also: tuple[str, ...] = ()  # other tests that cover this input
    slow: bool = False  # AppTest or a subprocess


CASES: list[Case] = []
SAME_MESSAGE: list[tuple[str, str]] = []  # (present path, missing path): their messages must be equal


def case(id: str, area: str, input: str, also: tuple[str, ...] = (), slow: bool | None = None):
    def register(run: Callable[[], tuple[str, str]]):
        assert area in AREAS and all(c.id != id for c in CASES), id
        CASES.append(Case(id, area, input, run, also, area in ("CLI", "URL", "upload") if slow is None else slow))
        return run
    return register


def unescape(text: str) -> str:
    """The Markdown source as the user reads it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", text)


@contextlib.contextmanager
def environment(**values: str | None):
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---- library ------------------------------------------------------------------------------------------------

def library(call: Callable[[], object], describe: Callable[[object], str] = str) -> tuple[str, str]:
    """Run ``call``: its typed error, its RuntimeWarning, or ``accepted: describe(result)``."""
    from latent_core.errors import LatentCoreError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except LatentCoreError as error:
            return type(error).__name__, str(error)
        except Exception as error:  # noqa: BLE001 - reported as a bug, never hidden
            return f"untyped {type(error).__name__}", str(error)
    runtime = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)))
    if runtime:
        return "RuntimeWarning", "\n".join(runtime)
    return "accepted", describe(result)


def _x(n: int = 20, d: int = 4, seed: int = 0):
    import numpy as np

    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _lib_cases() -> None:
    import numpy as np

    from latent_core.anchors import select_anchors
    from latent_core.data import load_dataset
    from latent_core.data.upload import load_image_zip, load_table
    from latent_core.encoders import get_encoder
    from latent_core.explore import compute_views
    from latent_core.metrics import jaccard_at_k, linear_cka
    from latent_core.modality import check_modality
    from latent_core.relative import relative_projection
    from latent_core.translate import LinearTranslator, Procrustes, get_translator

    anchors_test = "tests/core/test_anchors.py"
    translate_test = "tests/core/test_translate.py"
    x = _x()

    def indices(result) -> str:
        return f"{len(result)} distinct indices, dtype {str(result.dtype).removeprefix('torch.')}"

    case("anchors-numpy-int", "library", "`select_anchors(x, np.int64(5))` (a numpy integer count)",
         (anchors_test,))(lambda: library(lambda: select_anchors(x, np.int64(5)), indices))
    labels = np.array(["sport", "tech"] * 10)
    case("anchors-string-labels", "library",
         "`select_anchors(x, 6, \"stratified\", labels=[\"sport\", \"tech\", ...])` (string labels)",
         (anchors_test,))(lambda: library(lambda: select_anchors(x, 6, "stratified", labels=labels), indices))
    case("anchors-one", "library", "`select_anchors(x, 1)`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 1)))
    case("anchors-too-many", "library", "`select_anchors(x, 500)` on 20 samples", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 500)))
    case("anchors-float-count", "library", "`select_anchors(x, 5.0)`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 5.0)))
    case("anchors-bool-count", "library", "`select_anchors(x, True)`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, True)))
    case("anchors-string-count", "library", "`select_anchors(x, \"5\")`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, "5")))
    case("anchors-unknown-strategy", "library", "`select_anchors(x, 5, \"best\")`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 5, "best")))
    case("anchors-stratified-no-labels", "library", "`select_anchors(x, 5, \"stratified\")` without labels",
         (anchors_test,))(lambda: library(lambda: select_anchors(x, 5, "stratified")))
    case("anchors-labels-wrong-length", "library", "stratified anchors with 3 labels for 20 samples",
         (anchors_test,))(lambda: library(lambda: select_anchors(x, 5, "stratified", labels=[0, 1, 0])))
    rare = np.array(["common"] * 19 + ["rare"])
    case("anchors-stratified-rare-class", "library", "`select_anchors(x, 6, \"stratified\", labels)` where one "
         "class has 1 sample: it gives that one, the other classes share the rest", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 6, "stratified", labels=rare)))
    case("anchors-fps-metric", "library", "`select_anchors(x, 5, \"fps\", metric=\"manhattan\")`",
         (anchors_test,))(lambda: library(lambda: select_anchors(x, 5, "fps", metric="manhattan")))
    case("anchors-seed-string", "library", "`select_anchors(x, 5, seed=\"zero\")`", (anchors_test,))(
        lambda: library(lambda: select_anchors(x, 5, seed="zero")))
    nan_x = x.copy()
    nan_x[3, 1] = np.nan
    case("nan-embeddings", "library", "`select_anchors(x, 5)` with a NaN in `x`", (anchors_test,))(
        lambda: library(lambda: select_anchors(nan_x, 5)))
    case("beyond-float32", "library", "`relative_projection(x, anchors)` with a float64 value of 1e300",
         ("tests/core/test_relative.py",))(
        lambda: library(lambda: relative_projection(np.full((4, 3), 1e300), np.eye(3))))
    case("inf-target-anchors", "library", "`Procrustes().fit(s, t)` with `inf` in the target anchors",
         (translate_test,))(
        lambda: library(lambda: Procrustes().fit(_x(10, 3), np.where(np.eye(10, 3) > 0, np.inf, 1.0))))
    case("vector-not-matrix", "library", "`select_anchors(np.ones(20), 5)` (1-D input)", (anchors_test,))(
        lambda: library(lambda: select_anchors(np.ones(20), 5)))
    case("no-columns", "library", "`select_anchors(np.ones((20, 0)), 5)` (no dimensions)", (anchors_test,))(
        lambda: library(lambda: select_anchors(np.ones((20, 0)), 5)))
    case("strings-as-embeddings", "library", "`select_anchors([[\"a\", \"b\"], [\"c\", \"d\"]], 2)`",
         ("tests/core/test_fuzz.py",))(lambda: library(lambda: select_anchors([["a", "b"], ["c", "d"]], 2)))
    case("ragged-embeddings", "library", "`select_anchors([[1, 2], [3]], 2)` (ragged rows)",
         ("tests/core/test_fuzz.py",))(lambda: library(lambda: select_anchors([[1, 2], [3]], 2)))
    case("complex-embeddings", "library", "`select_anchors(x * 1j, 5)` (complex numbers)",
         ("tests/core/test_fuzz.py",))(lambda: library(lambda: select_anchors(x * 1j, 5)))
    same = np.ones((6, 4), dtype=np.float32)
    case("procrustes-identical-anchors", "library", "`Procrustes().fit(a, b)` where all 6 source anchors are the "
         "same vector", (translate_test,))(lambda: library(lambda: Procrustes().fit(same, _x(6, 4))))
    case("procrustes-row-mismatch", "library", "`Procrustes().fit(10 rows, 8 rows)`", (translate_test,))(
        lambda: library(lambda: Procrustes().fit(_x(10, 4), _x(8, 4))))
    case("procrustes-one-anchor", "library", "`Procrustes().fit(1 row, 1 row)`", (translate_test,))(
        lambda: library(lambda: Procrustes().fit(_x(1, 4), _x(1, 4, seed=1))))
    case("translate-before-fit", "library", "`Procrustes().transform(x)` before `fit`", (translate_test,))(
        lambda: library(lambda: Procrustes().transform(x)))
    case("translate-wrong-dimension", "library", "`transform` of 7-d vectors by a translator fitted on 4-d",
         (translate_test,))(lambda: library(lambda: Procrustes().fit(_x(10, 4), _x(10, 5, 1)).transform(_x(3, 7))))
    case("unknown-translator", "library", "`get_translator(\"rotate\")`", (translate_test,))(
        lambda: library(lambda: get_translator("rotate")))
    case("unknown-scaling", "library", "`Procrustes(scaling=\"minmax\").fit(s, t)`", (translate_test,))(
        lambda: library(lambda: Procrustes(scaling="minmax").fit(_x(10, 4), _x(10, 4, 1))))
    case("linear-rank-deficient", "library", "`LinearTranslator().fit(s, t)` with 5 anchors in 8 dimensions",
         (translate_test,))(lambda: library(lambda: LinearTranslator().fit(_x(5, 8), _x(5, 8, 1))))
    case("unknown-projection", "library", "`relative_projection(x, anchors, \"manhattan\")`",
         ("tests/core/test_relative.py",))(lambda: library(lambda: relative_projection(x, x[:3], "manhattan")))
    zero_anchor = np.vstack([np.zeros((1, 4), np.float32), x[:2]])
    case("zero-anchor", "library", "`relative_projection(x, anchors)` with an all-zero anchor (cosine)",
         ("tests/core/test_relative.py",))(lambda: library(lambda: relative_projection(x, zero_anchor)))
    case("anchor-index-out-of-range", "library", "`compute_views(a, b, [0, 1, 99])` on 20 samples",
         ("tests/core/test_explore.py",))(lambda: library(lambda: compute_views(x, _x(20, 5, 1), [0, 1, 99])))
    case("anchor-index-duplicates", "library", "`compute_views(a, b, [0, 1, 1])`",
         ("tests/core/test_explore.py",))(lambda: library(lambda: compute_views(x, _x(20, 5, 1), [0, 1, 1])))
    case("metric-k-too-large", "library", "`jaccard_at_k(a, b, k=20)` on 20 samples",
         ("tests/core/test_metrics.py",))(lambda: library(lambda: jaccard_at_k(x, _x(20, 5, 1), k=20)))
    case("metric-rows-differ", "library", "`linear_cka(20 rows, 10 rows)`", ("tests/core/test_metrics.py",))(
        lambda: library(lambda: linear_cka(x, _x(10, 5, 1))))
    case("load-dataset-n-string", "library", "`load_dataset(\"bbc\", n=\"10\")`", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_dataset("bbc", n="10")))
    case("load-dataset-none", "library", "`load_dataset(None)`", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_dataset(None)))
    case("load-dataset-n-zero", "library", "`load_dataset(\"bbc\", n=0)`", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_dataset("bbc", n=0)))
    case("load-dataset-unknown", "library", "`load_dataset(\"imdb\")`", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_dataset("imdb")))
    case("load-table-missing-file", "library", "`load_dataset(\"table:/nonexistent/data.csv\")`",
         ("tests/core/test_data.py",))(lambda: library(lambda: load_dataset("table:/nonexistent/data.csv")))
    case("load-table-missing-column", "library", "`load_table(csv bytes, text_column=\"review\")` where the "
         "columns are text, label", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_table(b"text,label\nhello,a\n", text_column="review")))
    case("load-zip-not-a-zip", "library", "`load_image_zip(b\"not a zip\")`", ("tests/core/test_data.py",))(
        lambda: library(lambda: load_image_zip(b"not a zip")))
    case("unknown-encoder", "library", "`get_encoder(\"nonsense\")`", ("tests/core/test_encoders.py",))(
        lambda: library(lambda: get_encoder("nonsense")))
    case("modality-mismatch", "library", "`check_modality(\"glove:6B-50d\", \"text\", \"digits\", \"image\")`",
         ("tests/core/test_experiments.py::test_modality_is_checked_before_encoding",))(
        lambda: library(lambda: check_modality("glove:6B-50d", "text", "digits", "image")))


# ---- CLI ----------------------------------------------------------------------------------------------------

def cli(scenario: str | None, name: str = "bad.toml", argv: tuple[str, ...] | None = None) -> tuple[str, str]:
    """``python -m latent_core.experiments run <file>`` on ``scenario`` written to a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if scenario is not None:
            path.write_text(textwrap.dedent(scenario))
        args = argv if argv is not None else ("run", str(path), "--out", str(Path(tmp) / "out"), "--quiet")
        done = subprocess.run([sys.executable, "-m", "latent_core.experiments", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        text = (done.stderr.strip() or done.stdout.strip()).replace(tmp, "<tmp>")
    if done.returncode == 0:
        return "exit code 0", text.splitlines()[-1] if text else ""
    return f"exit code {done.returncode}", text


MINILM = "st:sentence-transformers/all-MiniLM-L6-v2"
CLI_TEST = "tests/core/test_experiments.py"


def _cli_cases() -> None:
    fields = f"{CLI_TEST}::test_every_scenario_field_is_type_checked_before_any_encoding"
    case("cli-n-anchors-many", "CLI", "`n_anchors = \"many\"`",
         (f"{CLI_TEST}::test_cli_prints_config_errors_without_a_traceback", fields))(
        lambda: cli(f'name = "x"\nn_anchors = "many"\npairs = [["{MINILM}", "glove:6B-50d"]]\n'))
    case("cli-text-encoder-on-images", "CLI", "`dataset = \"digits\"` with `pairs = [[\"glove:6B-50d\", MiniLM]]` "
         "(text encoders on an image dataset; refused before encoding)",
         (f"{CLI_TEST}::test_modality_is_checked_before_encoding",))(
        lambda: cli(f'name = "m"\ndataset = "digits"\nn_samples = 50\npairs = [["glove:6B-50d", "{MINILM}"]]\n'))
    case("cli-pairs-string", "CLI", "`pairs = \"glove:6B-50d\"`", (fields,))(
        lambda: cli('name = "p"\npairs = "glove:6B-50d"\n'))
    case("cli-unknown-scenario", "CLI", "`run nope` (no such built-in scenario or file)",
         (f"{CLI_TEST}::test_cli_reports_bad_scenarios_without_a_traceback",))(
        lambda: cli(None, argv=("run", "nope", "--out", "out-never-written")))
    case("cli-unknown-setting", "CLI", "`anchors = 5` (a misspelt setting)", (CLI_TEST,))(
        lambda: cli('name = "x"\nanchors = 5\n'))
    case("cli-broken-toml", "CLI", "`name = [` (not TOML)", (CLI_TEST,))(lambda: cli("name = [\n"))
    case("cli-json-file", "CLI", "a scenario file named `bad.json`", (CLI_TEST,))(
        lambda: cli("{}", name="bad.json"))
    case("cli-no-pairs", "CLI", "a stitching scenario without `pairs`", (CLI_TEST,))(lambda: cli('name = "x"\n'))
    case("cli-unknown-method", "CLI", "`methods = [\"relative:manhattan\"]`", (fields,))(
        lambda: cli(f'name = "x"\nmethods = ["relative:manhattan"]\npairs = [["{MINILM}", "glove:6B-50d"]]\n'))
    case("cli-encoder-without-backend", "CLI", "`pairs = [[\"nonsense\", \"glove:6B-50d\"]]`", (fields,))(
        lambda: cli('name = "x"\npairs = [["nonsense", "glove:6B-50d"]]\n'))
    case("cli-test-size-negative", "CLI", "`test_size = -1`", (fields,))(
        lambda: cli(f'name = "x"\ntest_size = -1\npairs = [["{MINILM}", "glove:6B-50d"]]\n'))


# ---- the app through AppTest --------------------------------------------------------------------------------

def shown(at, main=("error", "warning", "success"), sidebar=("warning",), sidebar_captions: str = "",
          main_captions: str = "") -> tuple[str, str]:
    """The visible messages of an AppTest run, one line per element (``sidebar warning: ...``), unescaped.

    ``*_captions``: a substring; captions containing it are included (captions are mostly static help).
    """
    if at.exception:
        return "exception", "\n".join(str(e.value) for e in at.exception)
    lines = []
    for kind in sidebar:
        lines += [f"sidebar {kind}: {unescape(e.value)}" for e in at.sidebar.get(kind)]
    if sidebar_captions:
        lines += [f"sidebar caption: {unescape(c.value)}" for c in at.sidebar.caption if sidebar_captions in c.value]
    for kind in main:
        lines += [f"{kind}: {unescape(e.value)}" for e in at.main.get(kind)]
    if main_captions:
        lines += [f"caption: {unescape(c.value)}" for c in at.main.caption if main_captions in c.value]
    text = "\n".join(lines)
    if "Something went wrong (" in text:
        return "incident", re.sub(r"incident [0-9a-f]{8}", "incident <id>", text)
    return "shown", text


def open_app(query: dict[str, str], page: str | None = None):
    from tests.app.helpers import app

    at = app(query, timeout=180).run()
    if page and not at.exception:
        at.switch_page(f"views/{page}.py").run()
    return at


def url(query: dict[str, str], hosted: bool = False, **collect) -> tuple[str, str]:
    with environment(LATENT_HOSTED="1" if hosted else None):
        return shown(open_app({**FAKE, **query}), **collect)


def upload(files: list[tuple[int, str, bytes]], query: dict[str, str] | None = None, hosted: bool = False,
           **collect) -> tuple[str, str]:
    """Open the Upload page, put each ``(uploader index, name, bytes)`` in its uploader, rerun, collect."""
    with environment(LATENT_HOSTED="1" if hosted else None):
        at = open_app({**FAKE, **(query or {})}, page="upload")
        if at.exception:
            return shown(at)
        for index, name, content in files:
            at.get("file_uploader")[index].upload(name, content)
        at.run()
        return shown(at, **collect)


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED, 9)
    return buffer.getvalue()


def big_png_zip() -> bytes:
    """Three 9000 x 9000 PNGs (1-bit, blank) in one zip of a few KB."""
    png = _png(9000, 9000)
    return _zip({"cats/a.png": png, "cats/b.png": png, "dogs/c.png": png})


def _npy(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _foreign_upload_id() -> str:
    """An upload that exists on this server (another session made it), linked from a fresh session."""
    from latent_core.cache import atomic_write_bytes
    from latent_core.config import cache_subdir

    content = b"text,label\nsomeone else's private text,secret\nmore,secret\nother,public\n"
    uid = hashlib.sha256(content).hexdigest()[:20]
    atomic_write_bytes(cache_subdir("uploads") / f"{uid}.csv", content)
    return uid


SECRET_LINK = "x:[Your session expired - click here](http://127.0.0.1:9/login) ![](http://127.0.0.1:9/track.png)"


def _url_cases() -> None:
    same = ("tests/app/test_safety.py::test_present_and_missing_paths_read_the_same",)
    with open("/etc/passwd") as passwd:
        first = passwd.readline().strip().split(":")[0]
    case("url-shadow-table", "URL", f"`/?data=table:/etc/shadow#text={first}&label={first}` (first field of a "
         "system file as column names)", (SAFETY,))(
        lambda: url({"data": f"table:/etc/shadow#text={first}&label={first}"}))
    case("url-environ-table", "URL", "`/?data=table:/proc/self/environ`", (SAFETY,))(
        lambda: url({"data": "table:/proc/self/environ"}))
    case("url-file-present", "URL", "`/?a=file:/etc/passwd` (a file that exists)", (SAFETY, *same))(
        lambda: url({"a": "file:/etc/passwd"}))
    case("url-file-missing", "URL", "`/?a=file:/nonexistent/secret.npy` (a file that does not exist)",
         (SAFETY, *same))(lambda: url({"a": "file:/nonexistent/secret.npy"}))
    case("url-zip-present", "URL", "`/?data=zip:/etc/passwd` (exists)", (SAFETY, *same))(
        lambda: url({"data": "zip:/etc/passwd"}))
    case("url-zip-missing", "URL", "`/?data=zip:/nonexistent.zip` (does not exist)", (SAFETY, *same))(
        lambda: url({"data": "zip:/nonexistent.zip"}))
    case("url-st-folder-present", "URL", "`/?b=st:/etc` (a folder that exists)", (SAFETY, *same))(
        lambda: url({"b": "st:/etc"}))
    case("url-st-folder-missing", "URL", "`/?b=st:/nonexistent/model` (a folder that does not exist)",
         (SAFETY, *same))(lambda: url({"b": "st:/nonexistent/model"}))
    SAME_MESSAGE.extend([("url-file-present", "url-file-missing"), ("url-zip-present", "url-zip-missing"),
                         ("url-st-folder-present", "url-st-folder-missing")])
    case("url-clip-local-dir", "URL", "`/?a=clip:local-dir:/etc/none:image`", (SAFETY,))(
        lambda: url({"a": "clip:local-dir:/etc/none:image"}))
    case("url-markdown-link-encoder", "URL", f"`/?a={SECRET_LINK}`", (SAFETY,))(lambda: url({"a": SECRET_LINK}))
    case("url-markdown-link-k", "URL", "`/?k=[click here](http://127.0.0.1:9/)`", (SAFETY,))(
        lambda: url({"k": "[click here](http://127.0.0.1:9/)"}))
    case("url-html-manual", "URL",
         "`/?anchors=manual&manual=<img src=http://127.0.0.1:9/x.png>\\|[a](http://127.0.0.1:9/)` "
         "(ids that are not in the dataset are dropped, never echoed)", (SAFETY,))(
        lambda: url({"anchors": "manual",
                     "manual": "<img src=http://127.0.0.1:9/x.png>|[a](http://127.0.0.1:9/)"}))
    case("url-n-3", "URL", "`/?n=3` (three samples)",
         ("tests/app/test_safety.py::test_three_samples_get_a_message_not_a_widget_error",))(
        lambda: url({"n": "3"}, sidebar_captions="Number of anchors"))
    case("url-n-3-stitching", "URL", "`/?n=3`, then the Stitching lab page", ())(
        lambda: shown(open_app({**FAKE, "n": "3"}, page="stitching")))
    case("url-10kb-value", "URL", "`/?a=AAAA…` (a 10,000-character value)",
         (SAFETY, "tests/app/test_safety.py::test_link_values_are_capped_and_echoed_short"))(
        lambda: url({"a": "A" * 10_000}))
    case("url-n-huge", "URL", "`/?n=999999999`", (SAFETY,))(lambda: url({"n": "999999999"}))
    case("url-n-huge-hosted", "URL", "`/?n=50000` on the hosted server (`LATENT_HOSTED=1`)",
         ("tests/app/test_safety.py::test_link_values_are_capped_and_echoed_short",))(
        lambda: url({"n": "50000"}, hosted=True))
    case("url-seed-huge", "URL", "`/?seed=99999999999999`", (SAFETY,))(lambda: url({"seed": "99999999999999"}))
    case("url-k-word", "URL", "`/?k=lots&map=cubism`",
         ("tests/app/test_explorer.py::test_bad_link_values_are_ignored_with_a_warning",))(
        lambda: url({"k": "lots", "map": "cubism"}))
    case("url-foreign-upload", "URL", "`/?data=upload:<id>` where the id is a real upload of another session",
         (SAFETY,))(lambda: url({"data": f"upload:{_foreign_upload_id()}#text=text&label=label"}))
    case("url-invented-upload", "URL", "`/?data=upload:../../etc/passwd`", (SAFETY,))(
        lambda: url({"data": "upload:../../etc/passwd"}))
    case("url-hub-hosted", "URL", "`/?b=st:BAAI/bge-small-en-v1.5` on the hosted server (hub off)",
         ("tests/app/test_safety.py::test_catalogue_names_hub_ids_and_own_uploads_are_admitted",))(
        lambda: url({"b": "st:BAAI/bge-small-en-v1.5"}, hosted=True))
    case("url-modality-mismatch", "URL", "`/?b=fake:image-b` with the text dataset bbc",
         ("tests/app/test_explorer.py::test_modality_mismatch_is_a_readable_error",))(
        lambda: url({"b": "fake:image-b"}))


def _upload_cases() -> None:
    import numpy as np

    explorer = "tests/app/test_explorer.py::test_bad_uploads_show_readable_errors_and_a_good_one_switches_the_dataset"
    aligned = "tests/app/test_explorer.py::test_uploaded_embeddings_must_align_with_the_dataset"
    data_test = "tests/core/test_data.py"
    case("upload-zip-of-huge-pngs", "upload", "a 730-byte zip holding three 9000x9000 PNGs (1-bit, blank)",
         (data_test,))(
        lambda: upload([(0, "huge.zip", big_png_zip())]))
    case("upload-live-text-1mb", "upload", "1 MB of text in the Stitching lab's text box (key `live-text`)",
         ("tests/app/test_stitching_page.py",))(lambda: _live_text())
    rows3 = b"text,label\nthe match ended in a draw,sport\nshares fell,business\nnew phone released,tech\n"
    case("upload-three-rows", "upload", "a CSV with 3 rows (accepted), then 'Explore this dataset' and the "
         "Stitching lab", ())(lambda: _three_rows(rows3))
    missing_label = b"text,label\nfirst text,a\nsecond text,\nthird text,b\nfourth text,a\nfifth text,b\n"
    case("upload-row-missing-label", "upload", "a CSV whose 2nd row has no label", (data_test,))(
        lambda: upload([(0, "labels.csv", missing_label)]))
    case("upload-not-a-zip", "upload", "a text file named `broken.zip`", (explorer,))(
        lambda: upload([(0, "broken.zip", b"this is not a zip")]))
    case("upload-ragged-csv", "upload", "a CSV with a row of 4 fields under a 2-column header", (explorer,))(
        lambda: upload([(0, "ragged.csv", b"text,label\nfine,a\ntoo,many,fields,here\n")]))
    case("upload-empty-csv", "upload", "an empty file `empty.csv`", (data_test,))(
        lambda: upload([(0, "empty.csv", b"")]))
    case("upload-latin1-csv", "upload", "a Latin-1 encoded CSV (`café` as byte 0xE9)", (data_test,))(
        lambda: upload([(0, "latin1.csv", "text,label\ncafé au lait,drink\ntea,drink\n".encode("latin-1"))]))
    case("upload-one-column-csv", "upload", "a CSV with a single column", (data_test,))(
        lambda: upload([(0, "one.csv", b"text\nalpha\nbeta\ngamma\n")]))
    case("upload-wrong-type", "upload", "a file named `notes.txt` in the dataset uploader (the page checks the type "
         "itself: Streamlit's own check would raise before the page runs)", ())(
        lambda: upload([(0, "notes.txt", b"text,label\na,b\n")]))
    case("upload-wrong-type-embeddings", "upload", "a `vectors.csv` in the embeddings uploader for A", ())(
        lambda: upload([(1, "vectors.csv", b"0.1,0.2\n0.3,0.4\n")]))
    case("upload-zip-file-outside-folder", "upload", "a zip with `a.png` at its top level (no label folder)",
         (data_test,))(lambda: upload([(0, "flat.zip", _zip({"a.png": _png(8, 8), "cats/b.png": _png(8, 8)}))]))
    case("upload-zip-not-an-image", "upload", "a zip with `cats/readme.png` that is text", (data_test,))(
        lambda: upload([(0, "fake.zip", _zip({"cats/readme.png": b"hello", "dogs/b.png": _png(8, 8)}))]))
    case("upload-too-large", "upload", "a 26 MB file on the hosted server (cap 25 MB per file)", ())(
        lambda: upload([(0, "big.csv", b"text,label\n" + b"x" * (26 << 20))], hosted=True))
    case("upload-embeddings-misaligned", "upload", "a `.npy` of 7 x 5 for a 60-sample dataset", (aligned,))(
        lambda: upload([(1, "a.npy", _npy(np.ones((7, 5), np.float32)))]))
    case("upload-embeddings-pickled", "upload", "a pickled object `.npy` (`dtype=object`)",
         ("tests/core/test_precomputed.py",))(
        lambda: upload([(1, "a.npy", _npy(np.array([{"x": 1}] * 60, dtype=object)))]))
    nan = np.ones((60, 5), np.float32)
    nan[7, 2] = np.nan
    case("upload-embeddings-nan", "upload", "a `.npy` of 60 x 5 with a NaN", ("tests/core/test_precomputed.py",))(
        lambda: upload([(1, "a.npy", _npy(nan))]))
    case("upload-embeddings-1d", "upload", "a `.npy` of shape (60,)", ("tests/core/test_precomputed.py",))(
        lambda: upload([(1, "a.npy", _npy(np.ones(60, np.float32)))]))
    lance_test = "tests/app/test_lance_sample.py"
    case("upload-batch-no-shared-ids", "upload", "two batch outputs (LanceDB tables in the `--lance-db` folder) "
         "that share no id, opened as A and B", (f"{lance_test}::test_readable_errors_for_no_shared_ids_and_no_vector_"
                                                 "column",))(
        lambda: batch_output(tables=("bodies_old", "elsewhere")))
    case("url-batch-table-path", "URL", "`/?lance_a=../../etc/passwd` on the Upload page of a server with a batch "
         "folder (a table name must be one of its listing)",
         (f"{lance_test}::test_a_table_name_from_the_link_must_be_listed",))(
        lambda: batch_output({"lance_a": "../../etc/passwd"}))
    case("upload-embeddings-not-npy", "upload", "a text file named `b.npy`", ("tests/core/test_precomputed.py",))(
        lambda: upload([(2, "b.npy", b"not numpy at all")]))


def _batch_folder() -> str:
    """A batch folder (``--lance-db``) with two small LanceDB tables that share no id (made once per process)."""
    global _BATCH_FOLDER
    if _BATCH_FOLDER is None:
        import numpy as np

        from latent_core.batch import store

        folder = tempfile.mkdtemp(prefix="batch-")
        for name, prefix in (("bodies_old", "doc"), ("elsewhere", "other")):
            ids = [f"{prefix}-{i}" for i in range(12)]
            vectors = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
            store.create_table(folder, name, store.make_batch(ids, vectors, extra={"label": ["a", "b"] * 6}))
        _BATCH_FOLDER = folder
    return _BATCH_FOLDER


_BATCH_FOLDER: str | None = None


def batch_output(query: dict[str, str] | None = None, tables: tuple[str, str] | None = None) -> tuple[str, str]:
    """The Upload page of a server with a batch folder; ``tables``: pick them as A and B."""
    with environment(LATENT_LANCE_DB=_batch_folder()):
        at = open_app({**FAKE, **(query or {})}, page="upload")
        if tables and not at.exception:
            at.selectbox(key="lance-table-a").set_value(tables[0])
            at.selectbox(key="lance-table-b").set_value(tables[1])
            at.run()
        return shown(at)


def _store(name: str, content: bytes):
    from app import uploads

    return uploads.store(name, content)


def _live_text() -> tuple[str, str]:
    at = open_app(FAKE, page="stitching")
    if at.exception:
        return shown(at)
    sent = "word " * 200_000
    at.text_area(key="live-text").set_value(sent).run()
    box = at.text_area(key="live-text")
    kind, text = shown(at, main=("error", "warning", "success"))
    line = (f"text box: keeps {len(box.value):,} of the {len(sent):,} characters sent "
            f"(max_chars {box.proto.max_chars:,})")
    return kind, line + ("\n" + text if text else "")


def _three_rows(content: bytes) -> tuple[str, str]:
    at = open_app(FAKE, page="upload")
    at.get("file_uploader")[0].upload("three.csv", content)
    at.run()
    first = shown(at)
    if first[0] != "shown" or not at.button(key="use-data"):
        return first
    at.button(key="use-data").click().run()
    at.switch_page("views/stitching.py").run()
    second = shown(at, sidebar_captions="Number of anchors")
    return second[0], first[1] + "\n(then, on the Stitching lab page)\n" + second[1]


# ---- cache --------------------------------------------------------------------------------------------------

def cache_warning(damage: Callable[[Path], None]) -> tuple[str, str]:
    import numpy as np

    from latent_core.cache import EmbeddingCache

    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(tmp, bundled=[])
        cache.save("k", np.full((5, 8), 1.0), {})
        damage(Path(tmp))
        return library(lambda: cache.get_or_compute("k", lambda: np.full((5, 8), 2.0), {}, expected_rows=5,
                                                    expected_dim=8)[1], lambda hit: f"hit={hit}")


def _wrong_dimension() -> tuple[str, str]:
    import numpy as np

    from latent_core.cache import EmbeddingCache
    from latent_core.embed import embed_dataset, embedding_cache_key
    from tests.core.test_cache_faults import TinyEncoder, _tiny_dataset

    with tempfile.TemporaryDirectory() as tmp:
        data, encoder = _tiny_dataset(), TinyEncoder()
        cache = EmbeddingCache(tmp, bundled=[])
        cache.save(embedding_cache_key(encoder, data), np.ones((len(data), 3)), {})
        return library(lambda: embed_dataset(encoder, data, cache=cache))


READ_ONLY_CHILD = """
import warnings
from pathlib import Path
import numpy as np
import latent_core.cache as C
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    C.EmbeddingCache(Path({folder!r}), bundled=[]).get_or_compute("k", lambda: np.ones((3, 2)), {{}}, 3, 2)
print("\\n".join(str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)))
"""


def _read_only() -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "embeddings"
        folder.mkdir()
        f = shlex.quote(str(folder))
        code = READ_ONLY_CHILD.format(folder=str(folder))
        shell = (f"mount --bind {f} {f} && mount -o remount,bind,ro {f} && exec "
                 f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}")
        done = subprocess.run(["unshare", "-m", "sh", "-c", shell], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            return f"untyped exit {done.returncode}", done.stderr.strip()[-500:].replace(tmp, "<tmp>")
        return "RuntimeWarning", done.stdout.strip().replace(tmp, "<tmp>")


def _cache_cases() -> None:
    import json

    faults = "tests/core/test_cache_faults.py"

    def garbage(folder: Path) -> None:
        (folder / "k.json").write_bytes(b"\x00\xff{not json")

    def other_hash(folder: Path) -> None:
        meta = json.loads((folder / "k.json").read_text())
        (folder / "k.json").write_text(json.dumps({**meta, "sha256": "0" * 64}))

    def truncated(folder: Path) -> None:
        data = folder / "k.npy"
        data.write_bytes(data.read_bytes()[:100])

    case("cache-corrupted-json", "cache", "the `.json` of an entry is garbage bytes",
         (f"{faults}::test_damaged_entry_is_recomputed_with_a_warning_then_hits_cleanly",))(
        lambda: cache_warning(garbage))
    case("cache-missing-json", "cache", "the `.json` of an entry is missing (a write was interrupted)",
         (f"{faults}::test_damaged_entry_is_recomputed_with_a_warning_then_hits_cleanly",))(
        lambda: cache_warning(lambda folder: (folder / "k.json").unlink()))
    case("cache-hash-mismatch", "cache", "the `.json` records another sha256 than the `.npy`",
         (f"{faults}::test_damaged_entry_is_recomputed_with_a_warning_then_hits_cleanly",))(
        lambda: cache_warning(other_hash))
    case("cache-truncated-npy", "cache", "the `.npy` of an entry is cut to 100 bytes", (faults,))(
        lambda: cache_warning(truncated))
    case("cache-wrong-dimension", "cache", "an entry of dimension 3 under a 2-d encoder's key (`embed_dataset`)",
         (f"{faults}::test_wrong_dimension_entry_heals_in_embed_dataset",))(_wrong_dimension)
    case("cache-read-only", "cache", "a read-only cache folder (read-only bind mount); the app then says "
         "\"This server cannot write its cache folder ...\" in the sidebar",
         (f"{faults}::test_read_only_cache_folder_keeps_results_in_memory_with_one_warning",
          "tests/app/test_cache_readonly_app.py"), slow=True)(_read_only)


_lib_cases()
_cli_cases()
_url_cases()
_upload_cases()
_cache_cases()
