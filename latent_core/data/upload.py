"""User data: a CSV/Parquet table of texts and labels, or a zip of images with one folder per label.

Specs: ``table:<path>#text=<col>&label=<col>&id=<col>`` (defaults ``text`` and ``label``; no id column:
row numbers) and ``zip:<path>``. The app passes uploaded bytes straight to :func:`load_table` and
:func:`load_image_zip`.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import parse_qs

import numpy as np

from latent_core.data.base import Dataset, register_dataset
from latent_core.errors import DatasetFormatError, EmptyDatasetError, InvalidImageError, MissingColumnError

MAX_ZIP_BYTES = 1 << 30  # uncompressed; refuses zip bombs
MAX_ZIP_FILES = 20_000  # files in one zip
MAX_IMAGE_PIXELS = 40_000_000  # decoded pixels of one image (read from its header, before decoding)
MAX_ZIP_PIXELS = 400_000_000  # decoded pixels of all the images of one zip, summed from their headers
MAX_TABLE_ROWS = 200_000  # data rows of one CSV/Parquet table
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
            _check_parquet_rows(handle, display)
            frame = pd.read_parquet(handle)
        elif fmt == "csv":
            # header=None: pandas would otherwise turn surplus fields of the first data row into an
            # index and silently drop data; this way any row longer than the header is a parse error.
            # nrows: the header and one row over the cap are enough to refuse a table that is too long.
            raw = pd.read_csv(handle, header=None, dtype=str, keep_default_na=False, on_bad_lines="error",
                              nrows=MAX_TABLE_ROWS + 2)
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
    _check_row_count(len(frame), display)
    for role, column in (("text", text_column), ("label", label_column), ("id", id_column)):
        if column is not None and column not in frame.columns:
            raise MissingColumnError(
                f"{display} has no {role} column {column!r}. Its columns are: {', '.join(map(str, frame.columns))}. "
                f"Rename a column or choose the {role} column."
            )
    if text_column == label_column:
        raise MissingColumnError(
            f"The text and the label of {display} would both be column {text_column!r}: every text would be its own "
            "class. Choose two different columns (a table needs a text column and a label column)."
        )
    frame = frame.astype({text_column: str, label_column: str})
    keep = (frame[text_column].str.strip() != "") & (frame[label_column].str.strip() != "")
    keep &= frame[text_column].notna() & frame[label_column].notna()
    if frame.empty or not keep.any():
        raise EmptyDatasetError(f"{display} has no rows with both a text and a label.")
    if not keep.all():
        first = int(np.flatnonzero(~keep.to_numpy())[0]) + 1
        warnings.warn(
            f"Dropped {int((~keep).sum())} of {len(frame)} rows of {display} with an empty text or label "
            f"(first: data row {first}, not counting the header).",
            RuntimeWarning, stacklevel=2,
        )
    frame = frame[keep]
    ids = frame[id_column].astype(str).tolist() if id_column else [str(i) for i in frame.index]
    if len(set(ids)) != len(ids):
        raise DatasetFormatError(f"The id column {id_column!r} of {display} has duplicate values.")
    labels, names = encode_labels(frame[label_column].tolist())
    return Dataset(name=name or f"table:{display}", ids=ids, items=frame[text_column].tolist(), labels=labels,
                   label_names=names, modality="text")


def _check_row_count(rows: int, display: str) -> None:
    if rows > MAX_TABLE_ROWS:
        raise DatasetFormatError(
            f"{display} has more than {MAX_TABLE_ROWS:,} data rows, the most one table may hold. Upload a sample of "
            "the rows (e.g. a stratified subset), or split the table."
        )


def _check_parquet_rows(handle, display: str) -> None:
    """Refuse an over-long Parquet file from its footer, before reading any column."""
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(handle).metadata.num_rows
    if hasattr(handle, "seek"):
        handle.seek(0)
    _check_row_count(rows, display)


def _image_size(archive: zipfile.ZipFile, member: zipfile.ZipInfo, display: str) -> tuple[int, int]:
    """Width and height from the image header; nothing is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with archive.open(member) as file, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own cap decides, below
            with Image.open(file) as image:
                width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            zipfile.BadZipFile, EOFError) as exc:
        raise InvalidImageError(
            f"{member.filename} in {display} is not a readable image ({type(exc).__name__}). Remove it or "
            f"convert it to one of {', '.join(sorted(IMAGE_SUFFIXES))}."
        ) from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidImageError(
            f"{member.filename} in {display} is {width}x{height} = {width * height:,} pixels; one image may have at "
            f"most {MAX_IMAGE_PIXELS:,}. Downscale it (encoders read about 224x224 pixels anyway) and zip again."
        )
    return width, height


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
        if len(members) > MAX_ZIP_FILES:
            raise DatasetFormatError(
                f"{display} holds {len(members):,} files; a zip may hold at most {MAX_ZIP_FILES:,}. Upload a sample "
                "of the images (e.g. a few hundred per label)."
            )
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise DatasetFormatError(
                f"{display} unpacks to more than {MAX_ZIP_BYTES >> 20} MB. Downscale the images or upload fewer."
            )
        paths = [PurePosixPath(m.filename) for m in members]
        if paths and all(len(p.parts) >= 3 for p in paths) and len({p.parts[0] for p in paths}) == 1:
            paths = [PurePosixPath(*p.parts[1:]) for p in paths]  # one wrapping folder
        if not paths:
            raise EmptyDatasetError(f"{display} contains no files.")
        for member, path in zip(members, paths):
            if len(path.parts) != 2:
                raise DatasetFormatError(
                    f"{member.filename} in {display} is not inside a label folder: use <label>/<image file>."
                )
        # Every header is read (and every cap checked) before any image is decoded.
        total = 0
        for member in members:
            width, height = _image_size(archive, member, display)
            total += width * height
            if total > MAX_ZIP_PIXELS:
                raise DatasetFormatError(
                    f"The images in {display} hold more than {MAX_ZIP_PIXELS:,} pixels in all, the most one zip may "
                    "hold once decoded. Downscale the images or upload fewer."
                )
        ids, images, raw_labels = [], [], []
        for member, path in zip(members, paths):
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
