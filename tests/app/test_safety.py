"""A stranger's link, upload or text is data: never a server path, never markup, always capped (issue 10).

Unit tests of ``app.safety`` against hand-made cases, then the malicious links run through the whole app in
AppTest, in the local and the hosted mode. The browser version is tests/browser/test_malicious_links.py.
"""

from __future__ import annotations

import json
import os
import re

import pytest

import tests.app.fakes  # noqa: F401 - registers the fake: encoders in this process
from app import safety, state
from tests.app.helpers import app

FAKE = {"a": "fake:text-a", "b": "fake:text-b", "data": "bbc", "n": "60", "k": "10"}
SECRET = "latent-test-secret-9f2c"  # put in the environment: it must never reach a page

# (name, query) -> what must not happen is checked for every one of them
MALICIOUS = {
    "shadow as a table": {"data": "table:/etc/shadow#text=root&label=root"},
    "environ as a table": {"data": "table:/proc/self/environ"},
    "passwd as embeddings": {"a": "file:/etc/passwd"},
    "missing file as embeddings": {"a": "file:/nonexistent/secret.npy"},
    "zip path": {"data": "zip:/etc/passwd"},
    "missing zip path": {"data": "zip:/nonexistent.zip"},
    "model folder": {"b": "st:/etc"},
    "relative model folder": {"b": "st:./app"},
    "parent model folder": {"b": "st:../../etc"},
    "clip local dir": {"a": "clip:local-dir:/etc/none:image"},
    "model folder as encoder C": {"c": "st:/etc"},
    "missing model folder as encoder C": {"c": "st:/nonexistent/model"},
    "foreign upload": {"data": "upload:0123456789abcdef0123"},
    "markdown link in an encoder": {"a": "x:[Your session expired - click here](http://127.0.0.1:9/login) "
                                          "![](http://127.0.0.1:9/track.png)"},
    "markdown link in the anchor count": {"k": "[click here](http://127.0.0.1:9/)"},
    "html in manual anchors": {"manual": "<img src=http://127.0.0.1:9/x.png>|[a](http://127.0.0.1:9/)"},
    "huge value": {"a": "A" * 10_000},
    "three samples": {"n": "3"},
    "huge sample size": {"n": "999999999"},
    "huge seed": {"seed": "99999999999999"},
    "lesson step markup": {"step": "[x](http://127.0.0.1:9/)"},
}
SAME_MESSAGE = [("passwd as embeddings", "missing file as embeddings"), ("zip path", "missing zip path"),
                ("model folder", "parent model folder"),
                ("model folder as encoder C", "missing model folder as encoder C")]


# ---- unit: escaping, cutting, admission ---------------------------------------------------------------------

def test_markdown_escape_breaks_links_images_autolinks_and_directives():
    text = "[a](http://x.io) ![](http://x.io/t.png) <b>hi</b> www.x.io me@x.io :red[alert] `code` # head | t $x$"
    out = safety.md(text)
    assert not re.search(r"(?<!\\)\[", out) and not re.search(r"(?<!\\)\]", out)
    assert "http\\://" in out and "www\\.x" in out and "me\\@x" in out
    assert "\\<b\\>" in out and "\\`code\\`" in out and "\\# head" in out and "\\$x\\$" in out
    assert re.sub(r"\\(.)", r"\1", out) == text, "escaping only adds backslashes"


def test_html_escape_and_cut():
    assert safety.html('<a href="http://x">x</a>') == "&lt;a href=&quot;http://x&quot;&gt;x&lt;/a&gt;"
    assert safety.cut("x" * 100, 10) == "x" * 9 + "…" and safety.cut("short", 10) == "short"
    assert safety.md("y" * 1000, 40).endswith("…") and len(safety.md("y" * 1000, 40)) == 40


@pytest.mark.parametrize("spec", ["file:/etc/passwd", "file:/nonexistent", "st:/etc", "st:./folder", "st:~/model",
                                  "st:../x", "clip:local-dir:/x/none:image", "clip:hf-hub:org/x:image"])
def test_paths_are_refused_with_one_message_whether_or_not_they_exist(spec):
    with pytest.raises(safety.RefusedSpec) as refused:
        safety.admit(spec, "encoder", {})
    with pytest.raises(safety.RefusedSpec) as baseline:
        safety.admit("file:/this/does/not/exist", "encoder", {})
    assert str(refused.value) == str(baseline.value)
    assert "/" not in str(refused.value).split("(owner/name)")[0].replace("owner/name", "")


@pytest.mark.parametrize("spec", ["table:/etc/shadow", "zip:/etc/passwd", "table:data.csv#text=a&label=b",
                                  "nonsense", "x:[a](http://e)"])
def test_dataset_paths_and_unknown_names_are_refused(spec):
    with pytest.raises(safety.RefusedSpec, match="not something this app opens from a link"):
        safety.admit(spec, "dataset", {})


def test_catalogue_names_hub_ids_and_own_uploads_are_admitted(monkeypatch):
    for spec in ("st:sentence-transformers/all-MiniLM-L6-v2", "effnet:lite0", "e5:multilingual-e5-small",
                 "clip:ViT-B-32/none:image", "fake:text-a"):
        assert safety.admit(spec, "encoder", {}) == spec
    for spec in ("bbc", "bbc:full", "digits", "fashion-mnist", "captions:digits"):
        assert safety.admit(spec, "dataset", {}) == spec
    owned = {"0123456789abcdef0123": "mine.csv"}
    assert safety.admit("upload:0123456789abcdef0123#text=t&label=l", "dataset", owned)
    with pytest.raises(safety.RefusedSpec, match="not part of this browser session"):
        safety.admit("upload:ffffffffffffffffffff", "dataset", owned)
    monkeypatch.delenv("LATENT_HOSTED", raising=False)
    assert safety.admit("st:BAAI/bge-small-en-v1.5", "encoder", {}) and safety.admit("hf:ag_news", "dataset", {})
    monkeypatch.setenv("LATENT_HOSTED", "1")
    for spec, role in (("st:BAAI/bge-small-en-v1.5", "encoder"), ("hf:ag_news", "dataset"),
                       ("clip:ViT-B-32/openai:image", "encoder")):
        with pytest.raises(safety.RefusedSpec):
            safety.admit(spec, role, {})
    monkeypatch.setenv("LATENT_ALLOW_HUB", "1")
    assert safety.admit("st:BAAI/bge-small-en-v1.5", "encoder", {})


def test_a_hub_id_is_never_read_from_a_folder_of_that_name():
    """``st:tests/app`` looks like ``owner/name``: it is a hub id, resolved in the hub cache, not this folder."""
    from latent_core.encoders import spec_kind

    assert spec_kind("st:tests/app") == "hub" and spec_kind("st:/abs/folder") == "path"


def test_link_values_are_capped_and_echoed_short(monkeypatch):
    settings, problems = state.from_query({"a": "A" * 10_000, "n": "999999999", "seed": "99999999999999",
                                           "k": "5000", "manual": "|".join(f"id{i}" for i in range(1500))})
    assert settings == state.Settings(n_anchors=1000)
    assert len(problems) == 4 and all(len(p) < 400 for p in problems)
    assert "10000 characters long" in problems[0]
    monkeypatch.setenv("LATENT_HOSTED", "1")
    _, problems = state.from_query({"n": "50000"})
    assert problems == ["Ignored 'n=50000' from the link: must be at most 20000"]


# ---- the whole app: malicious links in both modes ----------------------------------------------------------

def _rendered(at) -> str:
    """Everything the page shows: text elements, widget labels and options, chart JSON, the query string."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "header", "subheader",
                 "text", "exception"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    for box in at.selectbox:
        parts += [str(o) for o in box.options] + [str(box.label)]
    for chart in at.get("plotly_chart"):
        parts.append(chart.proto.spec)
    parts.append(json.dumps(dict(at.query_params)))
    return "\n".join(parts)


def _messages(at) -> list[str]:
    return [w.value for w in at.sidebar.warning] + [e.value for e in at.error]


@pytest.fixture(params=["local", "hosted"])
def mode(request, monkeypatch):
    monkeypatch.setenv("LATENT_SECRET_PROBE", SECRET)
    if request.param == "hosted":
        monkeypatch.setenv("LATENT_HOSTED", "1")
    else:
        monkeypatch.delenv("LATENT_HOSTED", raising=False)
    return request.param


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_malicious_link_shows_no_file_no_secret_no_markup_no_traceback(name, mode):
    at = app({**FAKE, **MALICIOUS[name]}, timeout=120).run()
    assert not at.exception, at.exception
    shown = _rendered(at)
    with open("/etc/passwd") as passwd:
        first_line = passwd.readline().strip()
    assert first_line not in shown and "root:" not in shown, "a server file reached the page"
    assert SECRET not in shown and os.environ.get("PATH", "") not in shown, "the environment reached the page"
    assert "Traceback" not in shown and "site-packages" not in shown and "/work/" not in shown
    for message in _messages(at):
        assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", message), f"a Markdown link would render: {message}"
        assert not re.search(r"(?<!\\)://", message), f"an autolink would render: {message}"
        assert len(message) < 1200
    assert at.get("plotly_chart"), "the page still works on its defaults"


def test_present_and_missing_paths_read_the_same(mode):
    for present, missing in SAME_MESSAGE:
        shown = [[m.split("from the link:")[-1] for m in _messages(app({**FAKE, **MALICIOUS[key]}).run())]
                 for key in (present, missing)]
        assert shown[0] == shown[1] and shown[0], (present, missing, shown)


def test_three_samples_get_a_message_not_a_widget_error():
    at = app({**FAKE, "n": "3"}).run()
    assert not at.exception
    assert any("only 3 samples" in c.value for c in at.sidebar.caption)


def test_a_megabyte_in_the_live_text_box_is_cut_and_said(monkeypatch):
    """The box stops typing at the cap, and Streamlit cuts a longer value that a hand-made client sends (the page
    cuts again, in case a later Streamlit stops doing so): the encoders never see more than the cap."""
    monkeypatch.setenv("LATENT_HOSTED", "1")
    at = app(FAKE).run()
    at.switch_page("views/stitching.py").run()
    assert not at.exception
    box = at.text_area(key="live-text")
    assert box.max_chars == safety.HOSTED_LIMITS.max_text_chars
    calls = []
    from app.services import stitching as services_stitching

    original = services_stitching.encode_input
    monkeypatch.setattr(services_stitching, "encode_input",
                        lambda settings, item: calls.append(item) or original(settings, item))
    big = "words about markets and shares " * 40_000  # about 1.2 MB
    box.set_value(big).run()  # what a browser sends: the widget keeps max_chars
    assert len(at.text_area(key="live-text").value) == 2_000
    at.session_state["live-text"] = big  # what a hand-made websocket client could send
    at.run()
    assert not at.exception and not at.error
    assert calls and all(len(item) <= 2_000 for item in calls)


def test_uploads_expire_after_a_day(tmp_path):
    from app import uploads

    old, fresh = tmp_path / "aaaaaaaaaaaaaaaaaaaa.csv", tmp_path / "bbbbbbbbbbbbbbbbbbbb.csv"
    old.write_text("text,label\n")
    fresh.write_text("text,label\n")
    now = fresh.stat().st_mtime
    os.utime(old, (now - uploads.TTL_SECONDS - 60, now - uploads.TTL_SECONDS - 60))
    uploads._sweep(tmp_path, now)
    assert not old.exists() and fresh.exists()
