"""User data: a CSV/Parquet table of texts and labels, or a zip of images with one folder per label.

Specs: ``table:<path>#text=<col>&label=<col>&id=<col>`` (defaults ``text`` and ``label``; no id column:
row numbers) and ``zip:<path>``. The app passes uploaded bytes straight to :func:`load_table` and
:func:`load_image_zip`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import parse_qs

import numpy as np

from latent_core.data.base import Dataset, register_dataset
from latent_core.errors import DatasetFormatError, EmptyDatasetError, InvalidImageError, MissingColumnError

MAX_ZIP_BYTES = 1 << 30  # uncompressed; refuses zip bombs
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}

Source = str | Path | bytes | BinaryIO


def _open(source: Source) -> tuple[BinaryIO | str, str]:
    """A readable object and a display name."""
    if isinstance(source, bytes):
        return io.BytesIO(source), "upload"
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise DatasetFormatError(f"File {str(path)!r} does not exist.")
        return str(path), path.name
    return source, getattr(source, "name", "upload")


def encode_labels(raw: list) -> tuple[np.ndarray, list[str]]:
    """Labels of any type to ``(indices, sorted names)``; integer labels keep their numeric order."""
    values = [str(v).strip() for v in raw]
    try:
        names = sorted(set(values), key=lambda v: (0, float(v), v))
    except ValueError:
        names = sorted(set(values))
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[v] for v in values], dtype=np.int64), names


def load_table(source: Source, text_column: str = "text", label_column: str = "label",
               id_column: str | None = None, fmt: str | None = None, name: str | None = None) -> Dataset:
    """Read texts and labels from CSV or Parquet.

    Args:
        source: a path, bytes, or a binary file object (e.g. a Streamlit upload).
        text_column / label_column / id_column: column names (no id column: row numbers as ids).
        fmt: ``"csv"`` or ``"parquet"``; default from the file name (CSV when it cannot tell).

    Raises:
        DatasetFormatError: the file cannot be parsed. MissingColumnError: a column is absent.
        EmptyDatasetError: no rows with a text and a label.
    """
    import pandas as pd

    handle, display = _open(source)
    fmt = (fmt or ("parquet" if str(display).lower().endswith(".parquet") else "csv")).lower()
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(handle)
        elif fmt == "csv":
            # header=None: pandas would otherwise turn surplus fields of the first data row into an
            # index and silently drop data; this way any row longer than the header is a parse error.
            raw = pd.read_csv(handle, header=None, dtype=str, keep_default_na=False, on_bad_lines="error")
            frame = raw.iloc[1:].set_axis([str(c).strip() for c in raw.iloc[0]], axis=1).reset_index(drop=True)
        else:
            raise DatasetFormatError(f"Unsupported table format {fmt!r}: use CSV or Parquet.")
    except DatasetFormatError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise DatasetFormatError(
            f"Could not read {display} as {fmt.upper()} ({type(exc).__name__}: {str(exc).strip()[:200]}). "
            "Save it as UTF-8 CSV with a header row, or as Parquet."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own types for bad Parquet files
        raise DatasetFormatError(f"Could not read {display} as {fmt.upper()} ({exc}).") from exc
    for role, column in (("text", text_column), ("label", label_column), ("id", id_column)):
        if column is not None and column not in frame.columns:
            raise MissingColumnError(
                f"{display} has no {role} column {column!r}. Its columns are: {', '.join(map(str, frame.columns))}. "
                f"Rename a column or choose the {role} column."
            )
    frame = frame.astype({text_column: str, label_column: str})
    keep = (frame[text_column].str.strip() != "") & (frame[label_column].str.strip() != "")
    keep &= frame[text_column].notna() & frame[label_column].notna()
    frame = frame[keep]
    if frame.empty:
        raise EmptyDatasetError(f"{display} has no rows with both a text and a label.")
    ids = frame[id_column].astype(str).tolist() if id_column else [str(i) for i in frame.index]
    if len(set(ids)) != len(ids):
        raise DatasetFormatError(f"The id column {id_column!r} of {display} has duplicate values.")
    labels, names = encode_labels(frame[label_column].tolist())
    return Dataset(name=name or f"table:{display}", ids=ids, items=frame[text_column].tolist(), labels=labels,
                   label_names=names, modality="text")


def load_image_zip(source: Source, name: str | None = None) -> Dataset:
    """Read a zip with one folder per label (``cat/1.png``, ``dog/a.jpg``; one top folder is allowed).

    Raises:
        DatasetFormatError: not a zip, too large, or files outside label folders.
        InvalidImageError: a file that is not a decodable image (its name is in the message).
        EmptyDatasetError: no images.
    """
    from PIL import Image, UnidentifiedImageError

    handle, display = _open(source)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetFormatError(
            f"{display} is not a zip archive. Zip a folder with one sub-folder per label."
        ) from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        members = [m for m in members if not any(p.startswith(".") or p == "__MACOSX"
                                                   for p in PurePosixPath(m.filename).parts)]
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise DatasetFormatError(f"{display} unpacks to more than {MAX_ZIP_BYTES >> 20} MB.")
        paths = [PurePosixPath(m.filename) for m in members]
        if paths and all(len(p.parts) >= 3 for p in paths) and len({p.parts[0] for p in paths}) == 1:
            paths = [PurePosixPath(*p.parts[1:]) for p in paths]  # one wrapping folder
        if not paths:
            raise EmptyDatasetError(f"{display} contains no files.")
        ids, images, raw_labels = [], [], []
        for member, path in zip(members, paths):
            if len(path.parts) != 2:
                raise DatasetFormatError(
                    f"{member.filename} in {display} is not inside a label folder: use <label>/<image file>."
                )
            try:
                with archive.open(member) as file:
                    image = Image.open(io.BytesIO(file.read()))
                    image.load()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                raise InvalidImageError(
                    f"{member.filename} in {display} is not a readable image ({type(exc).__name__}). Remove it or "
                    f"convert it to one of {', '.join(sorted(IMAGE_SUFFIXES))}."
                ) from exc
            ids.append(str(path))
            images.append(image.convert("RGB") if image.mode not in ("RGB", "L") else image)
            raw_labels.append(path.parts[0])
    labels, names = encode_labels(raw_labels)
    order = np.lexsort((np.array(ids), labels))
    return Dataset(name=name or f"zip:{display}", ids=[ids[i] for i in order], items=[images[i] for i in order],
                   labels=labels[order], label_names=names, modality="image")


def _options(arg: str | None) -> tuple[str, dict[str, str]]:
    path, _, query = (arg or "").partition("#")
    if not path:
        raise DatasetFormatError("Give a file path after the prefix, e.g. 'table:data.csv#text=review&label=stars'.")
    return path, {k: v[-1] for k, v in parse_qs(query).items()}


@register_dataset("table", "Your CSV/Parquet of texts and labels: 'table:<path>#text=<col>&label=<col>'")
def _table_spec(arg: str | None) -> Dataset:
    path, options = _options(arg)
    return load_table(path, options.get("text", "text"), options.get("label", "label"), options.get("id"),
                      name=f"table:{arg}")


@register_dataset("zip", "Your zip of images, one folder per label: 'zip:<path>'")
def _zip_spec(arg: str | None) -> Dataset:
    path, _ = _options(arg)
    return load_image_zip(path, name=f"zip:{arg}")
