"""Options shared by the batch commands (``--address``, ``--batch-size``, ``--no-progress``) and small helpers."""

from __future__ import annotations

import argparse
from pathlib import Path

from latent_core.errors import InvalidParameterError


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_ray_options(parser: argparse.ArgumentParser, batch_size: int, *, concurrency: int | None = None,
                    batch_help: str = "rows per batch handed to an actor") -> None:
    """``--address`` (a Ray cluster; default: local Ray), ``--batch-size``, ``--num-gpus``, ``--concurrency``,
    ``--no-progress``. ``--batch-size`` and ``--concurrency`` take positive integers only (argparse errors).

    Args:
        batch_size: the default ``--batch-size``; ``batch_help`` says what it counts.
        concurrency: the default ``--concurrency``; None: the command picks (GPUs, or CPUs - 1).
    """
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (ray://host:10001 or auto); default: start Ray on this machine")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help=f"{batch_help} (default {batch_size})")
    parser.add_argument("--num-gpus", type=float, default=None, help="GPUs per actor (default: 1 if the cluster "
                        "has GPUs, else CPU actors)")
    parser.add_argument("--concurrency", type=positive_int, default=concurrency,
                        help="most actors at once (default: " +
                             ("GPUs, or CPUs - 1)" if concurrency is None else f"{concurrency})"))
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def encoder_fingerprint(schema, given: str | None) -> str | None:
    """``given``, else the encoder fingerprint that ``encode`` records in a table's schema metadata."""
    if given:
        return given
    metadata = schema.metadata or {}
    value = metadata.get(b"latent.encoder_fingerprint")
    return value.decode() if value else None


def check_positive(value, name: str) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise InvalidParameterError(f"{name} must be a positive integer, got {value!r}.")


def read_id_file(path: str | None, option: str) -> list[str] | None:
    """The ids of a ``--anchor-ids`` / ``--ids`` file, one per line (blank lines skipped); None without a path.

    Raises:
        InvalidParameterError: ``path`` is not a file.
    """
    if not path:
        return None
    if not Path(path).is_file():
        raise InvalidParameterError(f"{option} {path!r} is not a file.")
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
