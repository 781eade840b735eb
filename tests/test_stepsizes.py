"""Tests of the stepsize rules ``gamma_t = rule(t, W, G, problem)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from verify.errors import UserError
from verify.stepsizes import ConstantStep, PolyakStep


@dataclass(frozen=True)
class Isotropic:
    """``f(W) = (L/2)‖W − W*‖²``, ``f* = 0``: the Polyak step at ``G = ∇f`` is ``1/(2L)`` everywhere."""

    L: float
    W_star: np.ndarray

    def f(self, W: np.ndarray) -> np.ndarray:
        return 0.5 * self.L * ((W - self.W_star) ** 2).sum(axis=(1, 2))

    def grad(self, W: np.ndarray) -> np.ndarray:
        return self.L * (W - self.W_star)


@dataclass(frozen=True)
class L1:
    """``f(W) = Σ|W_ij| + c``, a subgradient ``sign(W)``, ``f* = c``."""

    c: float = 0.0

    def f(self, W: np.ndarray) -> np.ndarray:
        return np.abs(W).sum(axis=(1, 2)) + self.c

    def grad(self, W: np.ndarray) -> np.ndarray:
        return np.sign(W)


def test_constant_step() -> None:
    W = np.ones((3, 2, 2))
    assert ConstantStep(0.25)(7, W, W, None) == 0.25


@pytest.mark.parametrize("gamma", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_constant_step_is_a_user_error(gamma: object) -> None:
    with pytest.raises(UserError, match="gamma"):
        ConstantStep(gamma)  # type: ignore[arg-type]


@pytest.mark.parametrize("L", [0.5, 1.0, 7.0])
def test_polyak_step_on_the_isotropic_quadratic_is_one_over_2L(L: float) -> None:
    rng = np.random.default_rng(0)
    prob = Isotropic(L, rng.standard_normal((3, 4)))
    W = rng.standard_normal((5, 3, 4)) * rng.uniform(0.1, 10, (5, 1, 1))
    gamma = PolyakStep(f_star=0.0)(0, W, prob.grad(W), prob)
    assert gamma.shape == (5, 1, 1)
    np.testing.assert_allclose(gamma, 1 / (2 * L), rtol=1e-12)
    np.testing.assert_allclose(PolyakStep(0.0, ratio=0.3)(0, W, prob.grad(W), prob), 0.3 / (2 * L), rtol=1e-12)


def test_polyak_step_is_per_run_and_uses_f_star() -> None:
    """On ``Σ|W_ij| + c`` with all entries nonzero: ``gamma = ratio (‖W‖_1 + c − f*) / (m n)`` per run."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 2, 3))
    prob = L1(c=2.0)
    gamma = PolyakStep(f_star=2.0, ratio=0.5)(3, W, prob.grad(W), prob)
    np.testing.assert_allclose(gamma[:, 0, 0], 0.5 * np.abs(W).sum(axis=(1, 2)) / 6, rtol=1e-12)
    assert len(np.unique(gamma)) == 6  # one value per run


def test_polyak_step_scales_inversely_with_f() -> None:
    """Metamorphic: ``f -> c f`` (so ``G -> c G``, ``f* -> c f*``) gives ``gamma -> gamma / c``."""
    rng = np.random.default_rng(2)
    prob, scaled = Isotropic(2.0, np.zeros((2, 2))), Isotropic(2.0 * 5, np.zeros((2, 2)))
    W = rng.standard_normal((4, 2, 2))
    G = rng.standard_normal((4, 2, 2))  # any direction, not only the gradient
    g1 = PolyakStep(0.0)(0, W, G, prob)
    g5 = PolyakStep(0.0)(0, W, 5 * G, scaled)
    np.testing.assert_allclose(g5, g1 / 5, rtol=1e-12)


def test_polyak_step_is_zero_at_zero_direction_or_below_f_star() -> None:
    prob = L1()
    W = np.array([[[1.0, -2.0]], [[0.0, 0.0]], [[0.5, 0.5]]])  # (3, 1, 2)
    G = prob.grad(W)  # the second run has G = 0 (and f = f*)
    gamma = PolyakStep(f_star=0.0)(0, W, G, prob)
    np.testing.assert_array_equal(gamma[:, 0, 0], [1.5, 0.0, 0.5])
    below = PolyakStep(f_star=2.0)(0, W, G, prob)  # f < f* in runs 2 and 3
    np.testing.assert_array_equal(below[:, 0, 0], [0.5, 0.0, 0.0])


def test_polyak_step_keeps_nan_visible() -> None:
    W = np.array([[[np.nan, 1.0]], [[1.0, 1.0]]])
    gamma = PolyakStep(0.0)(0, W, np.ones((2, 1, 2)), L1())
    assert np.isnan(gamma[0, 0, 0]) and gamma[1, 0, 0] == 1.0


@pytest.mark.parametrize(("f_star", "ratio"), [(float("nan"), 1.0), (0.0, 0.0), (0.0, -1.0), (0.0, float("inf")),
                                               ("0", 1.0)])
def test_bad_polyak_parameters_are_user_errors(f_star: object, ratio: object) -> None:
    with pytest.raises(UserError):
        PolyakStep(f_star, ratio)  # type: ignore[arg-type]
