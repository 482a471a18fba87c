"""Calibration of classifier probabilities: expected calibration error, reliability bins, temperature scaling.

A classifier is *calibrated* when, among the samples it gives confidence p, a fraction p is right. The top-label
expected calibration error (ECE, Guo et al. 2017) measures the gap: sort the samples into ``n_bins`` equal-width
bins of their top probability (bin k holds confidences in ``(k / n_bins, (k + 1) / n_bins]``), then

    ECE = sum_k (n_k / N) * |mean confidence_k - accuracy_k|.

Temperature scaling divides a model's logits by one number T > 0 and takes the softmax again: T > 1 softens
over-confident probabilities, T < 1 sharpens them, the winning class never changes. T is fitted by minimising the
negative log-likelihood of labelled samples the model was NOT trained on. Any head works: its log-probabilities are
logits up to a per-row constant, which the softmax ignores.

The temperature is cross-fitted (:func:`cross_fitted_temperature`): the training rows are cut into ``folds``
stratified, seeded parts; a model trained without part k predicts part k; T is fitted on all these out-of-fold
predictions, and the model actually used is trained on every training row, so calibration leaves the plain model's
predictions (and accuracy) exactly as they were. A single held-out quarter would fit T on four times fewer samples
and train the model on fewer rows. Measured on the default scenario (BBC, MiniLM -> MPNet, 835 training rows,
seeds 0-2, relative:cosine and Procrustes), the stitched head's test ECE went down in 6 of 6 runs with the 5-fold
temperature fitted on B's held-out rows (0.027-0.048 -> 0.015-0.025), and in 5 of 6 with one held-out quarter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_core._scalars import as_int
from latent_core.errors import (
    InvalidDtypeError,
    InvalidParameterError,
    NonFiniteError,
    NotFittedError,
    ShapeMismatchError,
)

TEMPERATURE_BOUNDS = (0.05, 20.0)  # the search interval of T (searched on log T)
PROBABILITY_FLOOR = 1e-12  # log(0) is clipped here before probabilities are used as logits
_SUM_TOLERANCE = 1e-3


# ---- input checks ---------------------------------------------------------------------------------------------

def _matrix(x, name: str) -> np.ndarray:
    """``x`` as a finite float64 ``[N, C]`` array with N >= 1 and C >= 2."""
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InvalidDtypeError(f"{name} is not a rectangular array of numbers ({str(exc)[:120]}).") from None
    if array.dtype.kind not in "biuf":
        raise InvalidDtypeError(f"{name} must hold real numbers, got dtype {array.dtype}.")
    if array.ndim != 2:
        raise ShapeMismatchError(f"{name} must be a 2-D array [samples, classes], got shape {array.shape}.")
    if array.shape[0] < 1 or array.shape[1] < 2:
        raise ShapeMismatchError(f"{name} needs at least one sample and two classes, got shape {array.shape}.")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteError(f"{name} holds NaN or infinite values ({int((~np.isfinite(array)).sum())} entries).")
    return array


def _probabilities(probs, name: str = "probs") -> np.ndarray:
    """``probs`` as ``[N, C]`` float64 rows of probabilities (each in [0, 1], each row summing to 1)."""
    array = _matrix(probs, name)
    if array.min() < -_SUM_TOLERANCE or array.max() > 1 + _SUM_TOLERANCE:
        raise InvalidParameterError(f"{name} must lie in [0, 1], got values in [{array.min():.3g}, {array.max():.3g}].")
    sums = array.sum(1)
    if np.abs(sums - 1).max() > _SUM_TOLERANCE:
        raise InvalidParameterError(f"each row of {name} must sum to 1; row sums range from {sums.min():.4g} to "
                                    f"{sums.max():.4g}.")
    return array


def _label_indices(labels, n: int, n_classes: int, name: str = "labels") -> np.ndarray:
    """``labels`` as ``[n]`` int64 column indices in ``[0, n_classes)``."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise ShapeMismatchError(f"{name} must be a 1-D array with one entry per row ({n}), got shape {array.shape}.")
    if array.dtype.kind not in "iu":
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise InvalidDtypeError(f"{name} must be integer class indices, got dtype {array.dtype}.")
    array = array.astype(np.int64)
    if array.min() < 0 or array.max() >= n_classes:
        raise InvalidParameterError(f"{name} must be class indices in [0, {n_classes - 1}], got values in "
                                    f"[{array.min()}, {array.max()}].")
    return array


def log_probabilities(probs) -> np.ndarray:
    """``[N, C]`` log of a model's probabilities (clipped at :data:`PROBABILITY_FLOOR`): logits for
    :class:`TemperatureScaler`."""
    return np.log(np.clip(_probabilities(probs), PROBABILITY_FLOOR, None))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


# ---- ECE and the reliability diagram ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReliabilityBins:
    """The reliability diagram's numbers: ``n_bins`` equal-width bins of the top-label confidence."""

    edges: np.ndarray  # [n_bins + 1] from 0 to 1
    confidence: np.ndarray  # [n_bins] mean top probability of the bin's samples (NaN when empty)
    accuracy: np.ndarray  # [n_bins] fraction of the bin's samples whose top class is right (NaN when empty)
    count: np.ndarray  # [n_bins] samples in the bin

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean gap |confidence - accuracy| over non-empty bins."""
        used = self.count > 0
        weights = self.count[used] / self.count.sum()
        return float(np.sum(weights * np.abs(self.confidence[used] - self.accuracy[used])))


def reliability_bins(probs, labels, n_bins: int = 15) -> ReliabilityBins:
    """Per-bin mean confidence, accuracy and count of ``[N, C]`` probabilities against ``[N]`` true class indices
    (column numbers of ``probs``). Bin k holds top probabilities in ``(k / n_bins, (k + 1) / n_bins]``.

    Raises:
        ShapeMismatchError, InvalidDtypeError, NonFiniteError, InvalidParameterError (labels out of range, rows that
        are not probabilities, ``n_bins`` < 1).
    """
    p = _probabilities(probs)
    y = _label_indices(labels, p.shape[0], p.shape[1])
    n_bins = as_int(n_bins, "n_bins", minimum=1)
    confidence = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    which = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(which, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(np.linspace(0.0, 1.0, n_bins + 1), mean_conf, accuracy, count)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """Top-label ECE of ``[N, C]`` probabilities against ``[N]`` true class indices (see the module docstring)."""
    return reliability_bins(probs, labels, n_bins).ece


# ---- temperature scaling ------------------------------------------------------------------------------------

class TemperatureScaler:
    """One temperature T > 0 for a model's logits (or log-probabilities), fitted by minimum negative
    log-likelihood; ``transform`` returns ``softmax(logits / T)``."""

    def __init__(self, bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> None:
        self.bounds = bounds

    def fit(self, logits, labels) -> TemperatureScaler:
        """Fit T on ``[N, C]`` logits of held-out samples and their ``[N]`` true class indices."""
        from scipy.optimize import minimize_scalar

        z = _matrix(logits, "logits")
        y = _label_indices(labels, z.shape[0], z.shape[1])
        rows = np.arange(len(y))

        def nll(log_t: float) -> float:
            return float(-_log_softmax(z / np.exp(log_t))[rows, y].mean())

        low, high = np.log(self.bounds[0]), np.log(self.bounds[1])
        result = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
        self.temperature_ = float(np.exp(result.x))
        self.nll_ = float(result.fun)
        self.nll_before_ = nll(0.0)
        return self

    @classmethod
    def fixed(cls, temperature: float) -> TemperatureScaler:
        """A scaler with a given T (no fitting)."""
        if not np.isfinite(temperature) or temperature <= 0:
            raise InvalidParameterError(f"The temperature must be a positive number, got {temperature!r}.")
        scaler = cls()
        scaler.temperature_ = float(temperature)
        return scaler

    def transform(self, logits) -> np.ndarray:
        """``[N, C]`` probabilities ``softmax(logits / T)``."""
        if not hasattr(self, "temperature_"):
            raise NotFittedError("TemperatureScaler is not fitted: call fit(logits, labels) first.")
        return np.exp(_log_softmax(_matrix(logits, "logits") / self.temperature_))

    def calibrate(self, probs) -> np.ndarray:
        """A model's ``[N, C]`` probabilities, recalibrated (through their logarithms)."""
        return self.transform(log_probabilities(probs))


def cross_fitted_temperature(fit_predict: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                             labels, *, folds: int = 5, seed: int = 0, trainable=None,
                             scorable=None) -> TemperatureScaler:
    """A temperature fitted on out-of-fold predictions of ``M`` labelled training rows.

    The rows (``[M]`` class labels, any values) are cut into ``folds`` stratified parts (seeded). For each part,
    ``fit_predict(train_positions, val_positions)`` trains a model on the other parts' rows and returns
    ``(classes, probabilities [len(val_positions), C])``; the temperature is fitted on all these predictions.
    ``trainable`` / ``scorable`` (``[M]`` booleans, default all) restrict which rows a model may train on and which
    it is scored on (a stitched head trains on A's rows and is scored on B's).

    Raises:
        InvalidParameterError: fewer than two classes, a class with fewer than ``folds`` rows, a fold whose model
        lacks a class, or no row to score.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ShapeMismatchError(f"labels must be a 1-D array, got shape {labels.shape}.")
    folds = as_int(folds, "folds", minimum=2)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise InvalidParameterError("Calibration needs at least two classes in the training rows.")
    if counts.min() < folds:
        raise InvalidParameterError(
            f"Too few samples per class to hold some out for calibration: class {classes[counts.argmin()]!r} has "
            f"{counts.min()} training samples, {folds}-fold calibration needs at least {folds}.")
    trainable = _mask(trainable, len(labels), "trainable")
    scorable = _mask(scorable, len(labels), "scorable")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=as_int(seed, "seed", minimum=0))
    probs, truth = [], []
    for train, val in splitter.split(np.zeros(len(labels)), labels):
        train, val = train[trainable[train]], val[scorable[val]]
        if len(val) == 0:
            continue
        fold_classes, fold_probs = fit_predict(train, val)
        if not np.array_equal(np.asarray(fold_classes), classes):
            raise InvalidParameterError("A calibration fold's model did not see every class; give it more training "
                                        "samples per class.")
        probs.append(np.asarray(fold_probs, dtype=np.float64))
        truth.append(np.searchsorted(classes, labels[val]))
    if not probs:
        raise InvalidParameterError("No held-out row to fit the temperature on.")
    return TemperatureScaler().fit(log_probabilities(np.concatenate(probs)), np.concatenate(truth))


def feasible_folds(labels, most: int = 5) -> int:
    """The most calibration folds (at most ``most``) that ``[M]`` labels allow: the smallest class's count; 0 when
    nothing can be held out (one class, or a class with a single sample)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    folds = min(as_int(most, "most", minimum=2), int(counts.min()) if len(counts) else 0)
    return folds if len(counts) >= 2 and folds >= 2 else 0


def _mask(mask, n: int, name: str) -> np.ndarray:
    if mask is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (n,) or mask.dtype != bool:
        raise ShapeMismatchError(f"{name} must be a boolean array of shape ({n},), got {mask.dtype} {mask.shape}.")
    return mask


# ---- calibrated models --------------------------------------------------------------------------------------

class Calibrated:
    """A fitted model with ``predict_proba`` whose probabilities go through a fitted :class:`TemperatureScaler`.
    Everything else (``top_anchors``, ``anchor_idx_``...) is the wrapped model's."""

    def __init__(self, model: Any, scaler: TemperatureScaler) -> None:
        self.model, self.scaler = model, scaler

    @property
    def temperature(self) -> float:
        return self.scaler.temperature_

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    def uncalibrated_proba(self, x) -> np.ndarray:
        """The wrapped model's own ``[N, C]`` probabilities."""
        return self.model.predict_proba(x)

    def predict_proba(self, x) -> np.ndarray:
        """``[N, C]`` calibrated probabilities (columns follow ``classes_``)."""
        return self.scaler.calibrate(self.model.predict_proba(x))

    def predict(self, x) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(1)]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("model", "scaler"):
            raise AttributeError(name)
        return getattr(self.model, name)


class CalibratedHead(Calibrated):
    """A head from :data:`latent_core.heads.HEADS` with a cross-fitted temperature: ``fit(x, y)`` fits T on
    out-of-fold predictions of ``folds`` heads, then the head used on every training row (so the classes and the
    argmax are the plain head's)."""

    def __init__(self, head: str = "logreg", seed: int = 0, folds: int = 5) -> None:
        self.head, self.seed, self.folds = head, seed, folds

    def fit(self, x, y) -> CalibratedHead:
        """Fit on ``[N, D]`` features and ``[N]`` labels."""
        from latent_core.heads import make_head

        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ShapeMismatchError(f"x must be [N, D] and y [N]; got shapes {x.shape} and {y.shape}.")
        if x.dtype.kind not in "biuf":
            raise InvalidDtypeError(f"x must hold real numbers, got dtype {x.dtype}.")
        if not np.isfinite(x).all():
            raise NonFiniteError("x holds NaN or infinite values.")

        def fit_predict(train: np.ndarray, val: np.ndarray):
            head = make_head(self.head, self.seed).fit(x[train], y[train])
            return head.classes_, head.predict_proba(x[val])

        self.scaler = cross_fitted_temperature(fit_predict, y, folds=self.folds, seed=self.seed)
        self.model = make_head(self.head, self.seed).fit(x, y)
        return self

    def _check_fitted(self) -> None:
        if "model" not in self.__dict__:
            raise NotFittedError("CalibratedHead is not fitted: call fit(x, y) first.")

    def predict_proba(self, x) -> np.ndarray:
        self._check_fitted()
        return super().predict_proba(x)

    def uncalibrated_proba(self, x) -> np.ndarray:
        self._check_fitted()
        return super().uncalibrated_proba(x)

    @property
    def classes_(self) -> np.ndarray:
        self._check_fitted()
        return self.model.classes_

    @property
    def temperature(self) -> float:
        self._check_fitted()
        return self.scaler.temperature_
