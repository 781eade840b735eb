"""Tests of the second-moment maps ``Y ↦ E[H Y H]`` of the sketch distributions (verify/moments.py).

Three kinds of evidence:

* **symbolic**: sympy derives ``a, b`` of the rotation-invariant map from the Beta law of ``H_11`` and
  the identity ``H² = H``, and the coded formulas agree for symbolic ``d, r``; the coordinate inclusion
  probabilities likewise;
* **exact**: for ``rademacher`` (``r ≤ 2``), ``coordinates`` and ``coordinates-wr`` on small ``d`` every
  sketch can be enumerated, so ``E[HYH]`` is an exact finite average;
* **Monte Carlo**: every closed form lies inside per-entry two-sided Student-t intervals of the sample
  mean of ``H Y H`` (Bonferroni over all entries of all cases, family-wise ``ALPHA = 1e-6``), and the same
  intervals reject the formula with a coefficient perturbed by 5 % (``b`` of the rotation-invariant and
  Rademacher maps; ``a = P(i, j ∈ I)`` of the coordinate maps by 10 %) or with the sign of the ``Yᵀ``
  term swapped.  At ``K = 60 000`` sketches per case the smallest relative perturbation rejected in both
  directions (:func:`detection_threshold`) is 0.8–3.7 % for ``b`` and 1.5–6.2 % for the coordinate ``a``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from verify import moments, sketch
from verify.errors import UserError
from verify.moments import SecondMoment
from verify.projection import BernoulliProjector, orthonormal_basis

ROOT_SEED = 20250805
ALPHA = 1e-6
"""Family-wise level of the Monte-Carlo agreement test (all entries of all cases, Bonferroni)."""
K_RANDOM = 60_000
"""Sketches per Monte-Carlo case with a random ``H``."""
K_FIXED = 200
"""Sketches per case whose ``H`` is fixed up to rounding (``r = d`` without repeats, ``degenerate``)."""
ROUNDING = 1e-12
"""Added to every half-width, times ``max|Y|``: the rounding of ``H Y H`` (about ``d ε ‖Y‖``)."""
W_SHAPE = (5, 8)
"""``m × n`` of the weight matrix: left sketches on ``R^5``, right sketches on ``R^8``."""


# ----------------------------------------------------------------------------------------------------
# The SecondMoment representation: apply, matrix, E[H]
# ----------------------------------------------------------------------------------------------------

CLOSED = [
    (name, d, r)
    for name in sketch.names()
    for d, r in [(1, 1), (2, 1), (2, 2), (5, 1), (5, 2), (5, 4), (5, 5), (8, 3)]
    if sketch.make(name).second_moment(d, r) is not None
]


def test_which_distributions_have_no_closed_form() -> None:
    assert sketch.make("scaled-gaussian").second_moment(5, 2) is None
    assert sketch.make("scaled-gaussian").second_moment(5, 5) is None
    assert sketch.make("rademacher").second_moment(5, 3) is None
    assert sketch.make("rademacher").second_moment(4, 4) is None  # a singular ±1 matrix has P > 0
    for name in ("gaussian", "haar", "coordinates", "coordinates-wr", "degenerate"):
        assert all(sketch.make(name).second_moment(8, r) is not None for r in range(1, 9))
    assert sketch.make("rademacher").second_moment(8, 2) is not None


@pytest.mark.parametrize("name", sketch.names())
@pytest.mark.parametrize(("d", "r"), [(5, 0), (5, 6), (3, -1)])
def test_bad_rank_is_a_user_error(name: str, d: int, r: int) -> None:
    with pytest.raises(UserError, match=f"r={r}.*d = {d}"):
        sketch.make(name).second_moment(d, r)


@pytest.mark.parametrize(("name", "d", "r"), CLOSED)
def test_matrix_is_apply_on_column_major_vec_and_on_row_major_vec(name: str, d: int, r: int) -> None:
    sm = sketch.make(name).second_moment(d, r)
    rng = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(1, d, r)))
    Y = rng.standard_normal((6, d, d))
    Kmat = sm.matrix()
    assert Kmat.shape == (d * d, d * d)
    out = sm.apply(Y)
    for Yk, Ok in zip(Y, out, strict=True):
        np.testing.assert_allclose(Kmat @ Yk.ravel(order="F"), Ok.ravel(order="F"), rtol=0, atol=1e-13)
        np.testing.assert_allclose(Kmat @ Yk.ravel(order="C"), Ok.ravel(order="C"), rtol=0, atol=1e-13)


@pytest.mark.parametrize(("name", "d", "r"), CLOSED)
def test_apply_is_batched_linear_and_leaves_its_input_alone(name: str, d: int, r: int) -> None:
    sm = sketch.make(name).second_moment(d, r)
    rng = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(2, d, r)))
    Y = rng.standard_normal((2, 3, d, d))
    before = Y.copy()
    out = sm.apply(Y)
    assert np.array_equal(Y, before)
    assert out.shape == Y.shape
    for i, j in itertools.product(range(2), range(3)):
        np.testing.assert_allclose(out[i, j], sm.apply(Y[i, j]), rtol=0, atol=1e-14)
    np.testing.assert_allclose(sm.apply(2 * Y[0, 0] - Y[1, 2]), 2 * out[0, 0] - out[1, 2], atol=1e-13)


@pytest.mark.parametrize(("name", "d", "r"), CLOSED)
def test_apply_of_identity_is_the_closed_form_expected_projection_and_traces_agree(
    name: str, d: int, r: int
) -> None:
    dist = sketch.make(name)
    sm = dist.second_moment(d, r)
    EH = sm.expected_projection()
    lo, hi = dist.expected_projection_eigs(d, r)
    if name == "degenerate":
        np.testing.assert_array_equal(EH, np.diag([1.0] * r + [0.0] * (d - r)))
    else:
        np.testing.assert_allclose(EH, lo * np.eye(d), rtol=0, atol=1e-15)
        assert lo == hi
    # tr E[HYH] = E tr(H Y H) = E tr(H Y) = tr(E[H] Y) for every Y
    Y = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(3, d, r))).standard_normal((d, d))
    assert np.trace(sm.apply(Y)) == pytest.approx(np.trace(EH @ Y), abs=1e-13)


def test_apply_rejects_a_wrong_shape_and_the_record_checks_itself() -> None:
    sm = sketch.make("gaussian").second_moment(4, 2)
    with pytest.raises(ValueError, match=r"Y must have shape \(\.\.\., 4, 4\), got \(4, 3\)"):
        sm.apply(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="d=0"):
        SecondMoment(0, 1.0, 0.0)
    with pytest.raises(ValueError, match="support has length 2"):
        SecondMoment(3, 1.0, 0.0, 0.0, (True, False))


def test_fixed_support_is_h_y_h_and_full_rank_is_the_identity() -> None:
    Y = np.arange(16.0).reshape(4, 4) - 3.0
    H = np.diag([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(sketch.make("degenerate").second_moment(4, 2).apply(Y), H @ Y @ H)
    for name in ("gaussian", "haar", "coordinates", "degenerate"):
        np.testing.assert_array_equal(sketch.make(name).second_moment(4, 4).apply(Y), Y)
    assert sketch.make("coordinates-wr").second_moment(4, 4).a < 1  # repeats: not the identity


# ----------------------------------------------------------------------------------------------------
# Symbolic derivations (sympy)
# ----------------------------------------------------------------------------------------------------

d_, r_ = sp.symbols("d r", positive=True)


def _zero(expr: sp.Expr) -> bool:
    """``expr ≡ 0``: rational functions by ``cancel``, the rest by ``simplify``."""
    return sp.cancel(expr) == 0 or sp.simplify(expr) == 0


@functools.cache
def derived_isotropic() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """``(a, b, E[H_11], E[H_11²])`` derived in sympy from ``H_11 ~ Beta(r/2, (d − r)/2)`` and ``H² = H``."""
    al, be = r_ / 2, (d_ - r_) / 2
    beta_moment = lambda k: sp.gammasimp((sp.beta(al + k, be) / sp.beta(al, be)).rewrite(sp.gamma))  # noqa: E731
    m1, m2 = beta_moment(1), beta_moment(2)
    a, b = sp.symbols("a b")
    # T_1111 = E[H_11²] = a + 2b (c = 0 for a rotation-invariant law);  Σ_k H_1k² = H_11 (H² = H)
    sol = sp.solve([sp.Eq(a + 2 * b, m2), sp.Eq(m2 + (d_ - 1) * b, m1)], [a, b], dict=True)
    assert len(sol) == 1
    return sol[0][a], sol[0][b], m1, m2


def test_beta_moments_of_the_diagonal_entry() -> None:
    _, _, m1, m2 = derived_isotropic()
    assert _zero(m1 - r_ / d_)
    assert _zero(m2 - r_ * (r_ + 2) / (d_ * (d_ + 2)))


def test_isotropic_coefficients_are_the_sympy_solution_for_symbolic_d_r() -> None:
    a, b, m1, m2 = derived_isotropic()
    a_code, b_code = moments.isotropic_coefficients(d_, r_)
    assert _zero(a - a_code) and _zero(b - b_code)
    assert _zero(a - r_ * (r_ * d_ + r_ - 2) / (d_ * (d_ - 1) * (d_ + 2)))
    assert _zero(b - r_ * (d_ - r_) / (d_ * (d_ - 1) * (d_ + 2)))
    # the generic route from the diagonal moments gives c = 0 and the same a, b (E[H_11 H_22] from tr H = r)
    a_g, b_g, c_g = moments.from_diagonal_moments(d_, m1, m2, (r_ * m1 - m2) / (d_ - 1))
    assert _zero(a_g - a) and _zero(b_g - b) and _zero(c_g)


def test_isotropic_identities_hold_symbolically() -> None:
    a, b, m1, m2 = derived_isotropic()
    # tr H = r: E[H_11 tr H] = E[H_11²] + (d − 1) E[H_11 H_22] = r E[H_11] (the third, unused, equation)
    assert _zero(m2 + (d_ - 1) * a - r_ * m1)
    # tr-consistency: tr E[HYH] = (a + b + b d) tr Y must equal tr(E[H] Y) = (r/d) tr Y
    assert _zero(a + b + b * d_ - r_ / d_)
    # r = d: H = I, the map is the identity
    assert _zero(a.subs(r_, d_) - 1) and _zero(b.subs(r_, d_))
    # r = 1: the fourth moments of a uniform unit vector, E[u_i u_j u_k u_l] = (δδ + δδ + δδ)/(d(d+2))
    assert _zero(a.subs(r_, 1) - 1 / (d_ * (d_ + 2))) and _zero(b.subs(r_, 1) - 1 / (d_ * (d_ + 2)))
    # I − H is a uniform rank-(d − r) projection: E[(I−H)Y(I−H)] = Y − (2r/d) Y + E[HYH]
    assert _zero(b.subs(r_, d_ - r_) - b)
    assert _zero(a.subs(r_, d_ - r_) - (1 - 2 * r_ / d_ + a))


@pytest.mark.parametrize(("d", "r"), [(2, 1), (5, 1), (5, 4), (8, 3), (100, 37)])
def test_float_coefficients_are_the_rounded_exact_rationals(d: int, r: int) -> None:
    a, b, _, _ = derived_isotropic()
    sm = sketch.make("gaussian").second_moment(d, r)
    assert sm.a == float(a.subs({d_: d, r_: r})) and sm.b == float(b.subs({d_: d, r_: r})) and sm.c == 0
    assert sketch.make("haar").second_moment(d, r) == sm


def test_coordinate_inclusion_probabilities_symbolically() -> None:
    q1, q2 = moments.inclusion_probabilities(d_, r_, replacement=False)
    assert _zero(sp.combsimp(sp.binomial(d_ - 1, r_ - 1) / sp.binomial(d_, r_)) - q1)
    assert _zero(sp.combsimp(sp.binomial(d_ - 2, r_ - 2) / sp.binomial(d_, r_)) - q2)
    w1, w2 = moments.inclusion_probabilities(d_, r_, replacement=True)
    # one draw: one coordinate, never two; two draws: {i, j} in 2 of the d² ordered pairs
    assert _zero(w1.subs(r_, 1) - 1 / d_) and _zero(w2.subs(r_, 1))
    assert _zero(w2.subs(r_, 2) - 2 / d_**2)
    # P(i ∈ I) = E|I|/d and E|I| = d − d(1 − 1/d)^r (the existing closed form of E[H])
    assert _zero(w1 - (1 - (1 - 1 / d_) ** r_))


def test_rademacher_coefficients_symbolically_for_r1_and_e_h_for_r2() -> None:
    a, b, c = moments.from_diagonal_moments(d_, 1 / d_, 1 / d_**2, 1 / d_**2)
    assert _zero(a - 1 / d_**2) and _zero(b - 1 / d_**2) and _zero(c + 2 / d_**2)
    for d in range(2, 13):  # the binomial sum for E[H_11] is the closed form (2 − 2^{1−d})/d of E[H]
        m1, _, _ = moments.rademacher_diagonal_moments(d, 2)
        assert m1 == (2 - sp.Rational(2) ** (1 - d)) / d


# ----------------------------------------------------------------------------------------------------
# Exact enumeration of small discrete sketch distributions
# ----------------------------------------------------------------------------------------------------


def _enumerated(name: str, d: int, r: int) -> np.ndarray:
    """Every sketch of ``name`` (all equally likely), shape ``(N, d, r)``."""
    if name == "rademacher":
        return np.array(list(itertools.product((-1.0, 1.0), repeat=d * r))).reshape(-1, d, r)
    tuples = itertools.permutations(range(d), r) if name == "coordinates" else itertools.product(range(d), repeat=r)
    idx = np.array(list(tuples))
    S = np.zeros((len(idx), d, r))
    S[np.arange(len(idx))[:, None], idx, np.arange(r)[None, :]] = 1.0
    return S


@pytest.mark.parametrize(
    ("name", "d", "r"),
    [("rademacher", d, r) for d in (2, 3, 4, 5) for r in (1, 2) if r <= d]
    + [(name, d, r) for name in ("coordinates", "coordinates-wr") for d in (2, 3, 5) for r in range(1, d + 1)],
)
def test_closed_form_is_the_exact_average_over_all_sketches(name: str, d: int, r: int) -> None:
    Q = orthonormal_basis(_enumerated(name, d, r))
    H = Q @ Q.transpose(0, 2, 1)
    rng = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(5, d, r)))
    sm = sketch.make(name).second_moment(d, r)
    for Y in rng.standard_normal((3, d, d)):
        np.testing.assert_allclose(sm.apply(Y), (H @ Y @ H).mean(axis=0), rtol=0, atol=1e-13)


def test_lift_to_vec_w_blockwise_as_the_module_docstring_says() -> None:
    """``E[(I_n ⊗ H_B) X (I_n ⊗ H_B)]`` and ``E[(H_A ⊗ I_m) X (H_A ⊗ I_m)]`` by one batched apply each."""
    m, n, r = 3, 4, 2
    dist = sketch.make("rademacher")  # a, b, c all non-zero: every term of the map is exercised
    rng = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(4,)))
    X = rng.standard_normal((m * n, m * n))
    X4 = X.reshape(n, m, n, m)  # X4[k, i, l, j] = X[i + m k, j + m l] (column-major vec of an m×n W)

    Q = orthonormal_basis(_enumerated("rademacher", m, r))
    lifts = [np.kron(np.eye(n), H) for H in Q @ Q.transpose(0, 2, 1)]
    exact = np.mean([L @ X @ L for L in lifts], axis=0)
    blocks = X4.transpose(0, 2, 1, 3)  # [k, l] = the m×m block X[k m:(k+1) m, l m:(l+1) m]
    got = dist.second_moment(m, r).apply(blocks).transpose(0, 2, 1, 3).reshape(m * n, m * n)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-13)

    Q = orthonormal_basis(_enumerated("rademacher", n, r))
    lifts = [np.kron(H, np.eye(m)) for H in Q @ Q.transpose(0, 2, 1)]
    exact = np.mean([L @ X @ L for L in lifts], axis=0)
    mats = X4.transpose(1, 3, 0, 2)  # [i, j] = the n×n matrix (X[i + m k, j + m l])_{k,l}
    got = dist.second_moment(n, r).apply(mats).transpose(2, 0, 3, 1).reshape(m * n, m * n)
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------------------------------
# Monte Carlo: agreement at a stated level, and power against perturbed formulas
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``H`` of ``name`` on ``R^d``, rank ``r``: ``left`` samples the distribution directly (a left sketch,
    ``m = d``); ``right`` takes the right sketches ``A_S`` of a Bernoulli step on ``m_ × d`` matrices."""

    name: str
    d: int
    r: int
    side: str = "left"

    @property
    def random(self) -> bool:
        fixed = self.name == "degenerate" or (self.r == self.d and self.name != "coordinates-wr")
        return not fixed

    @property
    def samples(self) -> int:
        return K_RANDOM if self.random else K_FIXED


m_, n_ = W_SHAPE
CASES = [
    *(Case(name, m_, r) for name in ("gaussian", "haar", "coordinates", "coordinates-wr") for r in (1, m_ - 1, m_)),
    Case("haar", 8, 3),
    Case("coordinates", 8, 3),
    Case("coordinates-wr", 8, 3),
    Case("rademacher", m_, 1),
    Case("rademacher", m_, 2),
    *(Case("degenerate", m_, r) for r in (1, m_ - 1, m_)),
    *(Case(name, n_, r, "right") for name, r in [("gaussian", 3), ("coordinates", 4), ("coordinates-wr", m_),
                                                 ("rademacher", 2), ("degenerate", 3)]),
]
N_ENTRIES = sum(3 * c.d * c.d for c in CASES)


def _test_matrices(d: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Three fixed non-symmetric ``Y``: generic, trace-heavy (probes ``tr(Y) I``), mostly skew (probes ``Yᵀ``)."""
    G = rng.standard_normal((4, d, d))
    return [G[0], G[1] + 2 * np.eye(d), G[2] - G[2].T + 0.25 * G[3]]


@dataclass(frozen=True, eq=False)
class Intervals:
    """Per-entry two-sided intervals ``[lo, hi]`` for ``E[H Y H]``, one per test matrix ``Y``."""

    Ys: list[np.ndarray]
    lo: list[np.ndarray]
    hi: list[np.ndarray]

    def accepts(self, formula: Callable[[np.ndarray], np.ndarray]) -> bool:
        """Whether ``formula(Y)`` lies inside every interval of every test matrix."""
        return all(
            bool(np.all((lo <= formula(Y)) & (formula(Y) <= hi)))
            for Y, lo, hi in zip(self.Ys, self.lo, self.hi, strict=True)
        )


@functools.cache
def intervals(case: Case) -> Intervals:
    """Draw ``case.samples`` sketches and build the Bonferroni-corrected t intervals of every entry."""
    rng = np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=(6, CASES.index(case))))
    Ys = _test_matrices(case.d, rng)
    K = case.samples
    dist = sketch.make(case.name)
    if case.side == "left":  # the distribution's sampler and verify.projection's bases: H = Q Qᵀ
        Q = orthonormal_basis(dist.sample(rng, K, case.d, case.r))
    else:  # the right sketches of a Bernoulli step at p = 0: H_A = Q_A Q_Aᵀ projects onto the rows of A_S
        draw = BernoulliProjector(0.0, case.r, dist, dist).draw(rng, K, m_, case.d)
        A, Q = draw.A_S[:100], draw.Q_A
        H_A = np.linalg.pinv(A, rtol=1e-10) @ A  # = A_Sᵀ (A_S A_Sᵀ)^† A_S, the paper's H_A
        np.testing.assert_allclose(Q[:100] @ Q[:100].transpose(0, 2, 1), H_A, atol=1e-10)
    Qt = Q.transpose(0, 2, 1)
    hyh = [Q @ ((Qt @ (Y @ Q)) @ Qt) for Y in Ys]
    t = stats.t.isf(ALPHA / N_ENTRIES / 2, K - 1)
    lo, hi = [], []
    for Y, X in zip(Ys, hyh, strict=True):
        half = t * X.std(axis=0, ddof=1) / np.sqrt(K) + ROUNDING * np.abs(Y).max()
        lo.append(X.mean(axis=0) - half)
        hi.append(X.mean(axis=0) + half)
    return Intervals(Ys, lo, hi)


def _term(sm: SecondMoment, coefficient: str, Y: np.ndarray) -> np.ndarray:
    """The matrix multiplying ``coefficient`` in ``E[HYH]``."""
    if coefficient == "a":
        return replace(sm, a=1.0, b=0.0, c=0.0).apply(Y)
    if coefficient == "b":
        return Y.T + np.trace(Y) * np.eye(len(Y))
    return replace(sm, a=0.0, b=0.0, c=1.0).apply(Y)


def detection_threshold(case: Case, coefficient: str) -> float:
    """Smallest ``ε`` such that the formula with ``coefficient × (1 ± ε)`` is rejected for both signs.

    The perturbed value of an entry moves on a line, ``F + s ε k``; it leaves ``[lo, hi]`` at
    ``ε = (hi − F)/(s k)`` (``s k > 0``) or ``(F − lo)/(−s k)`` (``s k < 0``) and stays out beyond.
    """
    sm = sketch.make(case.name).second_moment(case.d, case.r)
    iv = intervals(case)
    worst = 0.0
    for s in (1.0, -1.0):
        best = np.inf
        for Y, lo, hi in zip(iv.Ys, iv.lo, iv.hi, strict=True):
            F = sm.apply(Y)
            k = s * getattr(sm, coefficient) * _term(sm, coefficient, Y)
            with np.errstate(divide="ignore", invalid="ignore"):
                eps = np.where(k > 0, (hi - F) / k, np.where(k < 0, (F - lo) / -k, np.inf))
            best = min(best, float(eps.min()))
        worst = max(worst, best)
    return worst


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}-{c.side}-d{c.d}-r{c.r}")
def test_closed_form_lies_inside_the_monte_carlo_intervals(case: Case) -> None:
    sm = sketch.make(case.name).second_moment(case.d, case.r)
    assert intervals(case).accepts(sm.apply)


POWER_CASES = [c for c in CASES if c.random]


@pytest.mark.parametrize("case", POWER_CASES, ids=lambda c: f"{c.name}-{c.side}-d{c.d}-r{c.r}")
def test_the_same_intervals_reject_perturbed_formulas(case: Case) -> None:
    sm = sketch.make(case.name).second_moment(case.d, case.r)
    iv = intervals(case)
    if sm.b:  # gaussian, haar, rademacher: b off by 5 %, or the Yᵀ term with the wrong sign
        for factor in (0.95, 1.05):
            assert not iv.accepts(replace(sm, b=factor * sm.b).apply)
        assert not iv.accepts(lambda Y: sm.apply(Y) - 2 * sm.b * Y.T)  # a Y − b Yᵀ + b tr(Y) I + c Diag(Y)
        assert detection_threshold(case, "b") < 0.05
    if sm.a and not sm.b:  # coordinates: P(i, j ∈ I) off by 10 %
        for factor in (0.9, 1.1):
            assert not iv.accepts(replace(sm, a=factor * sm.a).apply)
        assert detection_threshold(case, "a") < 0.1
    assert not iv.accepts(replace(sm, a=1.05 * sm.a, b=1.05 * sm.b, c=1.05 * sm.c).apply)  # E[HYH] 5 % too big
