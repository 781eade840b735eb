"""The data of the fine-tuning experiment: scikit-learn's bundled 8×8 handwritten digits.

The paper's §7.2 uses MNIST (28×28); it cannot be downloaded here, so the experiment runs on the
1,797 8×8 images bundled with scikit-learn (``sklearn.datasets.load_digits``, no network access), pixel
values scaled from ``0..16`` to ``[0, 1]``.  Digits 0–4 are the pre-training task, digits 5–9 the
fine-tuning task; the 5–9 images are split once into a training and a test part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.errors import UserError, require

__all__ = ["INSTALL_HINT", "DigitsSplit", "load_split"]

INSTALL_HINT = ("scikit-learn is needed for the network experiments: pip install 'bernoulli-lora-verify[networks]' "
                "(or pip install scikit-learn)")


@dataclass(frozen=True, eq=False)
class DigitsSplit:
    """Pre-training set (digits 0–4) and the fine-tuning train/test sets (digits 5–9).

    ``X_*`` have shape ``(N, 64)`` with values in ``[0, 1]``; ``y_*`` are the digit labels ``(N,)`` (``5..9``
    in the fine-tuning sets, so a 10-way output layer is used throughout).
    """

    X_pre: np.ndarray
    y_pre: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_split(rng: np.random.Generator, test_fraction: float = 0.3) -> DigitsSplit:
    """Load the 8×8 digits and split them: all images of 0–4 for pre-training, the images of 5–9 shuffled
    by ``rng`` and cut into ``1 − test_fraction`` for fine-tuning and ``test_fraction`` for testing.

    Raises :class:`~verify.errors.UserError` (one line, with the install command) without scikit-learn.
    """
    require(0 < test_fraction < 1, f"test_fraction={test_fraction!r} must lie strictly between 0 and 1")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    digits = load_digits()
    X = digits.data.astype(float) / 16.0
    y = digits.target.astype(np.int64)
    low = y < 5
    high = np.flatnonzero(~low)
    high = high[rng.permutation(len(high))]
    n_test = int(round(test_fraction * len(high)))
    test, train = high[:n_test], high[n_test:]
    return DigitsSplit(X_pre=X[low], y_pre=y[low], X_train=X[train], y_train=y[train],
                       X_test=X[test], y_test=y[test])
