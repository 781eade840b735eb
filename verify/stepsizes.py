"""Stepsize rules: ``gamma_t = rule(t, W, G)``, a scalar or one value per run of shape (R, 1, 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConstantStep:
    """``gamma_t = gamma`` for every t (by default the theorem's ``gamma_max`` times a factor)."""

    gamma: float
    name: str = "constant"

    def __call__(self, t: int, W: np.ndarray, G: np.ndarray) -> float:
        return self.gamma
