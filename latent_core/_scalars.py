"""Scalar argument checks without importing torch (the data layer uses them; torch costs ~1 s to import)."""

from __future__ import annotations

import math
import operator

from latent_core.errors import InvalidParameterError, LatentCoreError


def describe(value, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for error messages."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dtype_name(value) -> str:
    return str(getattr(value, "dtype", "")).removeprefix("torch.")


def as_int(value, name: str, *, minimum: int | None = None,
           error: type[LatentCoreError] = InvalidParameterError) -> int:
    """``value`` as a Python int: ints, numpy and torch integer scalars (anything with ``__index__``), not
    bools or floats. Below ``minimum``: ``error``."""
    if isinstance(value, bool) or _dtype_name(value) == "bool":
        raise error(f"{name} must be an integer, got {describe(value)}.")
    try:
        result = operator.index(value)
    except (TypeError, ValueError, RuntimeError):  # torch raises RuntimeError for multi-element tensors
        raise error(f"{name} must be an integer, got {describe(value)}.") from None
    if minimum is not None and result < minimum:
        raise error(f"{name} must be at least {minimum}, got {result}.")
    return result


def positive_int(value, name: str) -> int:
    """``value`` as a Python int >= 1 (as :func:`as_int`), else "``name`` must be a positive integer"."""
    if isinstance(value, bool) or _dtype_name(value) == "bool":
        raise InvalidParameterError(f"{name} must be a positive integer, got {describe(value)}.")
    try:
        result = operator.index(value)
    except (TypeError, ValueError, RuntimeError):
        raise InvalidParameterError(f"{name} must be a positive integer, got {describe(value)}.") from None
    if result < 1:
        raise InvalidParameterError(f"{name} must be a positive integer, got {result}.")
    return result


def as_float(value, name: str, *, positive: bool = False,
             error: type[LatentCoreError] = InvalidParameterError) -> float:
    """``value`` as a finite Python float (ints, floats, numpy/torch real scalars; not bools or strings)."""
    dtype = _dtype_name(value)
    if isinstance(value, bool | str | bytes) or dtype == "bool":
        raise error(f"{name} must be a number, got {describe(value)}.")
    if isinstance(value, complex) or dtype.startswith("complex"):
        raise error(f"{name} must be a real number, got {describe(value)}.")
    try:
        result = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise error(f"{name} must be a number, got {describe(value)}.") from None
    if not math.isfinite(result):
        raise error(f"{name} must be finite, got {describe(value)}.")
    if positive and result <= 0:
        raise error(f"{name} must be positive, got {describe(value)}.")
    return result
