"""Downstream classification heads used to measure stitching: fitted on one space, applied to another.

Both heads divide their inputs by ONE number, the root mean square of the training features (part of
the head, so a head trained on A carries A's scale to B's mapped vectors). Per-feature standardisation
would blow up low-variance features, such as similarities to anchors that barely vary, and those are
exactly the statistics that differ most between two spaces: measured on Fashion-MNIST Lite0 -> Lite2
(300 anchors, seed 0), relative stitching went from 0.68 with per-feature standardisation to 0.78
with the single scale, same-space accuracy unchanged (BBC MPNet -> MiniLM: 0.910 both ways).

Head fits run under :func:`limited_threads` (one thread unless ``LATENT_HEAD_THREADS`` says otherwise): the fits
are small, and on 2 busy cores the BLAS and torch thread pools oversubscribe them. Measured under load: one MLP
head fit took 79 s with 2 threads and 15 s with one; ``benchmarks/stitching_speed.py`` times both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from latent_core.registry import Registry

HEADS = Registry("head")  # name -> head class, constructed as cls(seed=seed)
HEAD_THREADS_ENV = "LATENT_HEAD_THREADS"  # threads a head fit may use (default 1; 0: leave the pools alone)


def head_threads() -> int:
    """Threads a head fit uses: ``LATENT_HEAD_THREADS`` (a non-negative integer; 0 = no limit), default 1."""
    value = os.environ.get(HEAD_THREADS_ENV, "").strip()
    try:
        return max(0, int(value)) if value else 1
    except ValueError:
        return 1


_LIMIT_LOCK = threading.Lock()
_LIMIT_STATE = {"users": 0, "torch": None, "limiter": None}


def _thread_limiter(threads: int):
    """A threadpoolctl limit on the BLAS/OpenMP pools (None when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn depends on it; without it only torch is limited
        return None
    return threadpool_limits(limits=threads)


@contextmanager
def limited_threads(threads: int | None = None) -> Iterator[None]:
    """Run the block with ``threads`` threads in the BLAS/OpenMP pools (threadpoolctl) and in torch's intra-op pool
    (default :func:`head_threads`; 0 leaves them alone). Usually fewer than the process's default (a head fit), but
    may be more (the app's encodings take every core its launcher left free).

    Re-entrant and shared between Python threads: the first block to enter sets the limits, the last to leave
    restores them (torch's setting is process-wide, so concurrent blocks share one limit)."""
    threads = head_threads() if threads is None else max(0, int(threads))
    if threads == 0:
        yield
        return
    with _LIMIT_LOCK:
        if _LIMIT_STATE["users"] == 0:
            _LIMIT_STATE["torch"] = torch.get_num_threads()
            if _LIMIT_STATE["torch"] != threads:
                torch.set_num_threads(threads)
            _LIMIT_STATE["limiter"] = _thread_limiter(threads)
        _LIMIT_STATE["users"] += 1
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT_STATE["users"] -= 1
            if _LIMIT_STATE["users"] == 0:
                limiter, _LIMIT_STATE["limiter"] = _LIMIT_STATE["limiter"], None
                if limiter is not None:
                    limiter.restore_original_limits()
                if torch.get_num_threads() != _LIMIT_STATE["torch"]:
                    torch.set_num_threads(_LIMIT_STATE["torch"])


def rms_scale(x: np.ndarray) -> float:
    """Root mean square of all entries (1 for an all-zero input)."""
    value = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return value if value > 0 else 1.0


@HEADS.register("logreg")
class LogRegHead:
    """One global scale + multinomial logistic regression (scikit-learn)."""

    def __init__(self, seed: int = 0, c: float = 1.0, max_iter: int = 2000) -> None:
        self.seed, self.c, self.max_iter = seed, c, max_iter

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogRegHead:
        from sklearn.linear_model import LogisticRegression

        self.scale_ = rms_scale(x)
        self.model_ = LogisticRegression(C=self.c, max_iter=self.max_iter, random_state=self.seed)
        with limited_threads():
            self.model_.fit(x / self.scale_, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(x / self.scale_)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(1)]


@HEADS.register("mlp")
class MLPHead:
    """One global scale + a small torch MLP (one hidden layer, ReLU, dropout), Adam, fixed epochs, seeded."""

    def __init__(self, seed: int = 0, hidden: int = 256, epochs: int = 60, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128) -> None:
        self.seed, self.hidden, self.epochs, self.lr = seed, hidden, epochs, lr
        self.weight_decay, self.batch_size = weight_decay, batch_size

    def fit(self, x: np.ndarray, y: np.ndarray) -> MLPHead:
        generator = torch.Generator().manual_seed(self.seed)
        self.classes_, targets = np.unique(y, return_inverse=True)
        self.scale_ = rms_scale(x)
        inputs = torch.as_tensor(x / self.scale_, dtype=torch.float32)
        targets = torch.as_tensor(targets, dtype=torch.long)
        with limited_threads(), torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.net_ = torch.nn.Sequential(torch.nn.Linear(inputs.shape[1], self.hidden), torch.nn.ReLU(),
                                            torch.nn.Dropout(0.1), torch.nn.Linear(self.hidden, len(self.classes_)))
            optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            self.net_.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(inputs), generator=generator)
                for start in range(0, len(inputs), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    optimiser.zero_grad()
                    loss = torch.nn.functional.cross_entropy(self.net_(inputs[batch]), targets[batch])
                    loss.backward()
                    optimiser.step()
        self.net_.eval()
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        inputs = torch.as_tensor(x / self.scale_, dtype=torch.float32)
        with torch.inference_mode():
            return torch.softmax(self.net_(inputs), dim=1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(1)]


def make_head(name: str, seed: int = 0):
    """A new, unfitted head by name (one of :data:`HEADS`); an unknown name is an InvalidParameterError."""
    return HEADS.get(name)(seed=seed)
