"""Every bad input of the catalogue gives a typed error, a warning or a readable message (never a traceback), and
exactly the message committed in docs/bad-inputs.md (regenerate with ``python -m tests.bad_inputs.render --write``).

The AppTest and CLI cases are marked ``slow`` (about a minute together on 2 cores); the library and cache ones are
fast.
"""

from __future__ import annotations

import pytest

from tests.bad_inputs import render
from tests.bad_inputs.catalogue import AREAS, CASES, SAME_MESSAGE

OK_KINDS = {"accepted", "RuntimeWarning", "shown"}


def _typed(kind: str) -> bool:
    from app import safety, uploads
    from latent_core import errors

    for module in (errors, safety, uploads):
        cls = getattr(module, kind, None)
        if isinstance(cls, type) and issubclass(cls, errors.LatentCoreError):
            return True
    return False


def _doc_rows() -> dict[str, str]:
    """Case id -> its table row in the committed doc."""
    rows = {}
    for line in render.DOC.read_text().splitlines():
        for case in CASES:
            if line.startswith("| ") and f"::test_case[{case.id}]`" in line:
                rows[case.id] = line
    return rows


@pytest.fixture(scope="module")
def doc_rows() -> dict[str, str]:
    assert render.DOC.exists(), "docs/bad-inputs.md is missing: python -m tests.bad_inputs.render --write"
    return _doc_rows()


NUMBERS = {case.id: number for number, case in render.numbered()}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else [])
                                  for c in CASES])
def test_case(case, doc_rows):
    kind, message = case.run()
    assert kind not in ("exception", "incident") and not kind.startswith("untyped"), (kind, message)
    assert "Traceback" not in message and "site-packages" not in message, message
    if case.area == "CLI":
        assert kind == "exit code 2" and message.startswith("error: "), (kind, message)
    elif case.area in ("URL", "upload") and kind == "shown":
        assert message, "the app showed nothing for a bad input"
    else:
        assert kind in OK_KINDS or _typed(kind), (kind, message)
    assert doc_rows.get(case.id) == render.row(NUMBERS[case.id], case, kind, message), (
        "docs/bad-inputs.md is out of date: python -m tests.bad_inputs.render --write")


def test_doc_is_current(doc_rows):
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)
    assert all(any(c.area == area for c in CASES) for area in AREAS)
    assert set(doc_rows) == {c.id for c in CASES}, "a case is missing from the doc (or the doc has a stale one)"
    text = render.DOC.read_text()
    for area in AREAS:
        assert f"## {render.TITLES[area]} ({sum(c.area == area for c in CASES)} inputs)" in text
    for present, missing in SAME_MESSAGE:
        assert doc_rows[present].split(" | ")[2] == doc_rows[missing].split(" | ")[2], (present, missing)
