"""``verify assumptions`` (issue 11, item 5): the finite-difference test of ``grad`` far from the origin, and the
search for stationary points that are not minima in the PŁ check.

* ``oracle``: a correct gradient of a tanh network at ``‖W0‖ = 1.6e3`` holds (the old steps, fixed fractions of
  the sampling radius, are too large for its curvature there); a gradient off by 1 %, with one wrong sign, or
  missing one sample's term is violated, with a witness that the test recomputes; rounding (values of ``f`` that
  do not change over a step, single-precision values) never makes a violation.
* ``pl``: shifted double wells and a matrix factorisation, whose only non-global stationary points are saddles
  and maxima that gradient descent from ``W0`` avoids, are not PŁ, with the saddle as the witness; PŁ functions
  (ridge, ``pl-sine``) still hold although the search stops at their minimisers (gaps at the rounding level).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from verify.assumptions import Budget, check_assumptions
from verify.assumptions.adapter import adapt
from verify.assumptions.oracle import FD_CONVERGED, FD_RTOL, unit_roundoff
from verify.assumptions.pl import descend
from verify.problems import make

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the examples/ folder lives at the repository root
    sys.path.insert(0, str(ROOT))

from examples.my_problem import make_problem  # noqa: E402

FAST = Budget(points=2, power_iters=20, gd_steps=100, solver_starts=3, solver_iters=200, bias_samples=200,
              variance_samples=64, mss_samples=32, compressor_samples=1000, projection_samples=1000)


# ------------------------------------------------------------------------------------------------------------------
# oracle: finite differences far from the origin
# ------------------------------------------------------------------------------------------------------------------


class TanhNetwork:
    r"""``f(W) = (1/2N) Σ_i (aᵀ tanh(W x_i + b) − y_i)²``, ``W ∈ R^{4×5}`` the first-layer weights.

    The inputs are un-centred, ``x_i = x̄ + δ_i`` with ``x̄ = 30·1``, and the frozen bias ``b = −W0 x̄`` centres
    them, so at ``W0`` (``‖W0‖ = 1.6e3``) the pre-activations ``W0 δ_i`` are of order 1 while a unit step of
    ``W`` moves them by about ``‖x̄‖``: ``f`` curves on a scale ~``1/‖x̄‖``, far below ``‖W0‖``.
    ``∇f = (1/N) Σ_i r_i (a ⊙ (1 − tanh²(z_i))) x_iᵀ`` with ``r_i`` the residual; ``wrong`` spoils it.
    """

    def __init__(self, wrong: str = "", norm: float = 1.6e3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.shape, self.wrong = (4, 5), wrong
        W0 = rng.standard_normal(self.shape)
        self.W0 = W0 * norm / np.linalg.norm(W0)
        xbar = np.full(5, 30.0)
        self.X = xbar + rng.standard_normal((20, 5)) / np.linalg.norm(self.W0, axis=1).mean()
        self.b = -self.W0 @ xbar
        self.a = rng.standard_normal(4)
        teacher = self.W0 + 0.01 * rng.standard_normal(self.shape)
        self.y = np.tanh(self.X @ teacher.T + self.b) @ self.a + 0.1 * rng.standard_normal(20)

    def f(self, W):
        r = np.tanh(self.X @ W.T + self.b) @ self.a - self.y
        return 0.5 * float(np.mean(r * r))

    def grad(self, W):
        T = np.tanh(self.X @ W.T + self.b)
        S = ((T @ self.a - self.y)[:, None] * (1 - T * T)) * self.a
        X = self.X
        if self.wrong == "missing sample":
            S, X = S[:-1], X[:-1]
        G = S.T @ X / len(self.X)
        if self.wrong == "off by 1%":
            G = 1.01 * G
        if self.wrong == "one sign":
            G[0, 0] = -G[0, 0]
        return G


def _central(f, W, V, t):
    return (f(W + t * V) - f(W - t * V)) / (2 * t)


def test_steps_proportional_to_the_radius_are_too_large_far_from_the_origin():
    """The premise: at W0 a central difference at 1e-5 x ||W0|| (the old smallest step) misses the directional
    derivative by more than FD_RTOL in most directions, while a step 100 times smaller matches it."""
    p = TanhNetwork()
    assert np.linalg.norm(p.W0) == pytest.approx(1.6e3)
    rng = np.random.default_rng(0)
    misses, hits = 0, 0
    for _ in range(10):
        V = rng.standard_normal(p.shape)
        V /= np.linalg.norm(V)
        exact = np.sum(p.grad(p.W0) * V)
        old = _central(p.f, p.W0, V, 1e-5 * np.linalg.norm(p.W0))
        small = _central(p.f, p.W0, V, 1e-7 * np.linalg.norm(p.W0))
        misses += abs(old - exact) > FD_RTOL * abs(exact)
        hits += abs(small - exact) <= FD_RTOL * abs(exact)
    assert misses >= 8 and hits == 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_gradient_far_from_the_origin_holds(seed):
    f = check_assumptions(TanhNetwork(seed=seed), budget=FAST, seed=seed).findings["oracle"]
    assert f.status == "holds", f.witness
    assert f.estimate["fd_max_relative_error"] <= FD_RTOL and f.estimate["fd_unresolved_pairs"] == 0


@pytest.mark.parametrize("wrong", ["off by 1%", "one sign", "missing sample"])
def test_wrong_gradient_far_from_the_origin_is_caught(wrong):
    p = TanhNetwork(wrong)
    f = check_assumptions(p, budget=FAST).findings["oracle"]
    assert f.status == "violated" and f.witness["test"] == "grad vs central finite differences of f"
    w = f.witness
    W, V, t = np.array(w["point"]), np.array(w["direction"]), w["step"]
    D, D10 = _central(p.f, W, V, t), _central(p.f, W, V, t / 10)
    dd = float(np.sum(p.grad(W) * V))
    ref = abs(dd) + abs(D) + np.linalg.norm(p.grad(W)) / np.sqrt(W.size)
    assert D == pytest.approx(w["finite_difference"], rel=1e-12) and dd == pytest.approx(
        w["directional_derivative_from_grad"], rel=1e-12)
    assert abs(D - D10) <= FD_CONVERGED * ref < FD_RTOL * ref < abs(D - dd)  # converged, and away from grad
    correct = float(np.sum(TanhNetwork().grad(W) * V))  # the true directional derivative is the converged one
    assert abs(D - correct) <= 10 * FD_CONVERGED * ref


class ClippedExp:
    """``f(W) = Σ exp(clip(w, −50, 50))``: far out most entries sit on the clipped plateau, ``f ≈ 1e22``, and the
    slope ``e^w`` of an unclipped entry is far below the resolution of ``f``: every step leaves ``f`` unchanged,
    the central differences are 0 at every step (they look converged) although ``grad`` is right."""

    shape = (3, 4)
    W0 = np.full((3, 4), 0.5)

    def f(self, W):
        return float(np.sum(np.exp(np.clip(W, -50, 50))))

    def grad(self, W):
        return np.exp(np.clip(W, -50, 50)) * (np.abs(W) < 50)


class Single:
    """``f(W) = Σ tanh(W − C)²`` computed in single precision, with its single-precision gradient: its values
    are quantised to ``2⁻²⁴|f|``, so central differences can agree with each other by quantisation."""

    shape = (3, 4)

    def __init__(self, scale: float, seed: int) -> None:
        self.C = (scale * np.random.default_rng(seed).standard_normal(self.shape)).astype(np.float32)
        self.W0 = self.C.astype(float) + 0.5

    def f(self, W):
        return float(np.sum(np.tanh(W.astype(np.float32) - self.C) ** 2))

    def grad(self, W):
        T = np.tanh(W.astype(np.float32) - self.C)
        return (2 * T * (1 - T * T)).astype(float)


@pytest.mark.parametrize("problem, seed", [(ClippedExp(), 0), (Single(1.0, 3), 3), (Single(1e3, 0), 0)],
                         ids=["plateau", "float32", "float32 far"])
def test_rounding_never_makes_a_violation(problem, seed):
    """Without the rounding bound (plateau) or with float64's precision assumed for single-precision values
    (float32) these correct gradients are reported violated."""
    f = check_assumptions(problem, budget=FAST, seed=seed).findings["oracle"]
    assert f.status != "violated", f.witness


def test_unit_roundoff_of_the_values_of_f():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(50)
    assert unit_roundoff(x) == 2.0**-53
    assert unit_roundoff(x.astype(np.float32).astype(float)) == 2.0**-24
    assert unit_roundoff(np.array([0.0, 1.0, 3.0, -0.5])) == 2.0**-8  # every value fits in 8 bits


# ------------------------------------------------------------------------------------------------------------------
# pl: stationary points that are not minima
# ------------------------------------------------------------------------------------------------------------------


class ShiftedWells:
    r"""``f(W) = Σ_ij ψ(W_ij − c)``, ``ψ(z) = (z² − 1)²``: every minimum (entries ``c ± 1``) is global, ``f* = 0``.

    The other stationary points have some entries at ``c`` (``ψ(0) = 1`` is a local maximum of ``ψ``): saddles
    and one maximum, with ``f`` = the number of such entries and curvature ``ψ''(0) = −4`` along them.
    ``W0`` lies in the basin of the minimum ``c + 1``, so gradient descent from it reaches ``f* = 0``, and ``c``
    keeps the origin away from every stationary point.
    """

    shape = (3, 4)

    def __init__(self, c: float = 3.0, f_star: bool = True) -> None:
        self.c = c
        self.W0 = c + 1.0 + 0.3 * np.random.default_rng(0).standard_normal(self.shape)
        if f_star:
            self.f_star = 0.0

    def f(self, W):
        return float(np.sum(((W - self.c) ** 2 - 1) ** 2))

    def grad(self, W):
        Z = W - self.c
        return 4 * Z * (Z * Z - 1)


class Factorisation:
    r"""``f(W) = ¼‖WWᵀ − M‖²`` with ``M = UUᵀ``, ``U ∈ R^{6×2}``: every local minimum is global (``f* = 0``) and
    every other stationary point is a strict saddle (e.g. ``W = 0``), which gradient descent from a small random
    ``W0`` escapes.  ``∇f = (WWᵀ − M)W``."""

    shape = (6, 2)

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        U = rng.standard_normal(self.shape)
        self.M, self.W0, self.f_star = U @ U.T, 0.1 * rng.standard_normal(self.shape), 0.0

    def f(self, W):
        R = W @ W.T - self.M
        return 0.25 * float(np.sum(R * R))

    def grad(self, W):
        return (W @ W.T - self.M) @ W


def _assert_stationary_witness(problem, finding):
    assert finding.status == "violated" and finding.witness["kind"] == "non-minimal stationary point"
    w = finding.witness
    W = np.array(w["point"])
    assert np.linalg.norm(problem.grad(W)) == pytest.approx(w["grad_norm"], abs=1e-12) and w["grad_norm"] < 1e-6
    assert problem.f(W) == pytest.approx(w["f"], rel=1e-12) and w["f"] - w["f_star"] >= 0.5
    assert w["smallest_curvature"] < 0
    at_W0 = 0.5 * np.sum(problem.grad(problem.W0) ** 2) / (problem.f(problem.W0) - w["f_star"])
    assert 0.5 * w["grad_norm"] ** 2 / (w["f"] - w["f_star"]) < 1e-8 * at_W0  # no PL constant survives W
    return W


def test_gradient_descent_from_W0_reaches_a_global_minimum_of_the_wells():
    """The premise: the stopping-point witness of the old check cannot see the saddles."""
    p = ShiftedWells()
    orc = adapt(p)
    X, fx, _, last = descend(orc, p.W0[None], 300, 0.0, 1e-10)
    assert fx[last[0]] <= 1e-10


@pytest.mark.parametrize("f_star", [True, False], ids=["f* given", "f* estimated"])
def test_saddles_of_the_wells_violate_pl(f_star):
    p = ShiftedWells(f_star=f_star)
    W = _assert_stationary_witness(p, check_assumptions(p, budget=FAST, seed=2).findings["pl"])
    Z = W - p.c
    at_top = np.abs(Z) < 1e-6  # entries at the local maximum of psi; the others at a minimum
    assert at_top.any() and np.allclose(np.abs(Z[~at_top]), 1.0, atol=1e-6)
    assert p.f(W) == pytest.approx(at_top.sum(), abs=1e-9)


def test_saddles_of_a_matrix_factorisation_violate_pl():
    p = Factorisation()
    rep = check_assumptions(p, budget=FAST)
    _assert_stationary_witness(p, rep.findings["pl"])
    assert "gd-pl" not in rep.applicable


def test_pl_functions_still_hold_although_the_search_stops_at_their_minimisers():
    """Ridge regression (mu = lambda_min(X^T X / N) + lam) and pl-sine: the search runs (no other witness), stops
    at the minimisers with gaps at the rounding level, and none of them is taken for a witness."""
    ridge = make_problem()
    f = check_assumptions(ridge).findings["pl"]
    mu = np.linalg.eigvalsh(ridge.X.T @ ridge.X / len(ridge.X))[0] + ridge.lam
    assert f.status == "holds" and "||grad f||^2" in f.method
    assert mu * (1 - 1e-6) <= f.estimate["mu"] <= 1.2 * mu
    p = make("pl-sine")
    g = check_assumptions(p, budget=FAST).findings["pl"]
    assert g.status == "holds" and "||grad f||^2" in g.method
    assert g.estimate["mu"] >= p.constants["mu"].value
