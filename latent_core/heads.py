"""Downstream classification heads used to measure stitching: fitted on one space, applied to another.

Both heads standardise their inputs with statistics of the training set (part of the head, so a head
trained on A carries A's normalisation to B's mapped vectors).
"""

from __future__ import annotations

import numpy as np
import torch

from latent_core.errors import InvalidParameterError

HEADS = ("logreg", "mlp")


class LogRegHead:
    """Standardisation + multinomial logistic regression (scikit-learn)."""

    def __init__(self, seed: int = 0, c: float = 1.0, max_iter: int = 2000) -> None:
        self.seed, self.c, self.max_iter = seed, c, max_iter

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogRegHead:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.model_ = make_pipeline(StandardScaler(),
                                    LogisticRegression(C=self.c, max_iter=self.max_iter, random_state=self.seed))
        self.model_.fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(1)]


class MLPHead:
    """Standardisation + a small torch MLP (one hidden layer, ReLU, dropout), Adam, fixed epochs, seeded."""

    def __init__(self, seed: int = 0, hidden: int = 256, epochs: int = 60, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128) -> None:
        self.seed, self.hidden, self.epochs, self.lr = seed, hidden, epochs, lr
        self.weight_decay, self.batch_size = weight_decay, batch_size

    def fit(self, x: np.ndarray, y: np.ndarray) -> MLPHead:
        generator = torch.Generator().manual_seed(self.seed)
        self.classes_, targets = np.unique(y, return_inverse=True)
        inputs = torch.as_tensor(x, dtype=torch.float32)
        self.mean_, self.std_ = inputs.mean(0), inputs.std(0).clamp_min(1e-8)
        inputs = (inputs - self.mean_) / self.std_
        targets = torch.as_tensor(targets, dtype=torch.long)
        with torch.random.fork_rng():
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
        inputs = (torch.as_tensor(x, dtype=torch.float32) - self.mean_) / self.std_
        with torch.inference_mode():
            return torch.softmax(self.net_(inputs), dim=1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(1)]


def make_head(name: str, seed: int = 0):
    if name == "logreg":
        return LogRegHead(seed=seed)
    if name == "mlp":
        return MLPHead(seed=seed)
    raise InvalidParameterError(f"Unknown head {name!r}; choose from {', '.join(HEADS)}.")
