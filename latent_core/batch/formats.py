"""The JSON side of the batch pipeline's saved artifacts (``translator.json``, ``anchors.json``): one reader for the
checks they share (file present, valid JSON, a JSON object of the expected format and version)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from latent_core.errors import TranslatorFormatError


def read_format_json(directory: str | Path, meta_file: str, *, what: str, format_name: str, version: int,
                     redo: str) -> tuple[Path, dict[str, Any]]:
    """``(path, meta)``: the JSON object in ``directory / meta_file``, checked to be ``format_name`` ``version``.

    Args:
        what: the artifact, for messages ("translator", "anchors").
        redo: what to do about another version, a sentence ("Refit and save the translator again.").

    Raises:
        TranslatorFormatError: the file is missing, not JSON, not an object of ``format_name``, or another version.
    """
    path = Path(directory) / meta_file
    if not path.is_file():
        raise TranslatorFormatError(f"No saved {what} in {str(directory)!r}: {meta_file} is missing.")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TranslatorFormatError(f"{path} is not valid JSON ({error}).") from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        raise TranslatorFormatError(f"{path} is not a {format_name} file.")
    if meta.get("version") != version:
        raise TranslatorFormatError(f"{path} has format version {meta.get('version')!r}; this code reads version "
                                    f"{version}. {redo}")
    return path, meta
