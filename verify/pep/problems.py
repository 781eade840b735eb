r"""Performance-estimation problems (PEPs) of the Bernoulli-LoRA methods with a finite-outcome sketch.

A PEP maximises a performance measure over every function of a class and every starting point allowed
by an initial condition; PEPit writes it as a semidefinite program in the Gram matrix of the iterates
and gradients (Drori & Teboulle 2014; Taylor, Hendrickx & Glineur 2017).  Here the sketch
(:class:`verify.pep.sketch.FiniteSketch`) has finitely many outcomes, so an expectation over T steps is
the probability-weighted sum over all ``len(outcomes)**T`` outcome sequences: each sequence is its own
trajectory in the same PEP, the trajectories share the function and branch at every step (a tree of
iterates; a node at depth t is one history ω_0 … ω_{t−1} and carries its probability).  Each gradient
that is projected is split into its components on the blocks of a PEPit block partition, which makes
the blocks mutually orthogonal for every vector split; ``P_S g`` is the sum of the components in S.

What the optimal value means (``nature``):

* ``exact``: the class constraints are interpolation conditions (necessary and sufficient), so the
  value is the worst case over the whole class: L-smooth functions (Taylor, Hendrickx & Glineur 2017,
  Thm 3.10) and convex L0-Lipschitz functions.  A bound below it is false, with the solution as witness.
* ``upper``: some class constraints are only necessary (PEPit's Łojasiewicz classes; f* = inf f entered
  as ``f(x_i) − f* ≥ ‖∇f(x_i)‖²/(2L)`` at the visited points), so the value is an upper bound on the
  worst case: a bound above it is certified, a bound below it is not refuted.
* ``lower``: the class is restricted (the noise of a stochastic gradient takes K values), so the value
  is a lower bound on the worst case: a bound below it is false, a bound above it is not certified.

Every builder returns a fresh :class:`Built` (PEPit keeps its points in class-level state, so a PEP is
built again for another solver).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass

from PEPit import PEP, Expression
from PEPit.functions import ConvexLipschitzFunction, SmoothFunction, SmoothQuadraticLojasiewiczFunctionExpensive

from verify.pep.sketch import FiniteSketch

NATURES = ("exact", "upper", "lower")


@dataclass(frozen=True)
class Built:
    """A PEP ready to solve: its optimal value is ``nature`` (``exact``/``upper``/``lower``) for the class."""

    pep: PEP
    nature: str


def _sum(terms):
    return functools.reduce(operator.add, terms)


def _projector(pep: PEP, sketch: FiniteSketch) -> Callable:
    """``proj(g, S) = P_S g``; with one block ``P_S`` is the identity and no partition is declared."""
    if sketch.blocks == 1:
        return lambda g, S: g
    partition = pep.declare_block_partition(d=sketch.blocks)
    return lambda g, S: _sum(partition.get_block(g, j) for j in S)


def gd_trajectory(sketch: FiniteSketch, T: int, gamma: float, L: float, Delta0: float, initial: str,
                  measure: str, mu: float | None = None) -> Built:
    r"""T steps of ``x^{t+1} = x^t − γ Ĥ_t ∇f(x^t)`` on L-smooth f, every outcome sequence.

    ``measure``: ``avg_grad_sq`` = (1/T) Σ_{t<T} E‖∇f(x^t)‖², or ``gap_last`` = E f(x^T) − f*.
    ``initial``: ``telescoped`` = ``f(x^0) − E f(x^T) ≤ Δ0`` (what the non-convex proof telescopes; exact
    for the smooth class), or ``gap`` = ``f(x^0) − f* ≤ Δ0``.  With ``mu`` the class is PEPit's
    ``SmoothQuadraticLojasiewiczFunctionExpensive`` (L-smooth and ‖∇f‖² ≥ 2μ(f − f*) at the visited points,
    f* the value at a stationary point; necessary conditions only: ``upper``); without it f is L-smooth and
    for ``gap`` f* is a free scalar with ``f(x) − f* ≥ ‖∇f(x)‖²/(2L)`` at every visited point (necessary
    for f* = inf f: ``upper``).
    """
    pep = PEP()
    if mu is None:
        f = pep.declare_function(SmoothFunction, L=L)
    else:
        f = pep.declare_function(SmoothQuadraticLojasiewiczFunctionExpensive, L=L, mu=mu)
    proj = _projector(pep, sketch)
    x0 = pep.set_initial_point()
    frontier, grad_terms = [(1.0, x0)], []
    for _ in range(T):
        nxt = []
        for prob, x in frontier:
            g = f.gradient(x)
            grad_terms.append(prob * g**2)
            nxt.extend((prob * q, x - gamma * proj(g, S)) for q, S in sketch.outcomes)
        frontier = nxt
    expected_last = _sum(prob * f(x) for prob, x in frontier)
    nature = "exact"
    if mu is not None:
        f_star = f(f.stationary_point())
        nature = "upper"
    elif initial == "gap" or measure == "gap_last":
        f_star = Expression()
        for _, g_i, f_i in f.list_of_points:
            pep.add_constraint(f_i - f_star >= g_i**2 / (2 * L))
        nature = "upper"
    if initial == "telescoped":
        pep.set_initial_condition(f(x0) - expected_last <= Delta0)
    else:
        pep.set_initial_condition(f(x0) - f_star <= Delta0)
    if measure == "avg_grad_sq":
        pep.set_performance_metric(_sum(grad_terms) * (1.0 / T))
    else:
        pep.set_performance_metric(expected_last - f_star)
    return Built(pep, nature)


def subgradient_trajectory(sketch: FiniteSketch, T: int, gamma: float, L0: float, R0: float) -> Built:
    r"""T steps of ``x^{t+1} = x^t − γ Ĥ_t g^t``, ``g^t ∈ ∂f(x^t)``, f convex and L0-Lipschitz; ``exact``.

    Initial condition ``‖x^0 − x*‖² ≤ R0²`` (x* a minimiser); measure ``E f(x̄^T) − f*`` with
    ``x̄^T = (1/T) Σ_{t<T} x^t`` along each outcome sequence.
    """
    pep = PEP()
    f = pep.declare_function(ConvexLipschitzFunction, M=L0)
    proj = _projector(pep, sketch)
    x_star = f.stationary_point()
    f_star = f(x_star)
    x0 = pep.set_initial_point()
    pep.set_initial_condition((x0 - x_star) ** 2 <= R0**2)
    paths = [(1.0, [x0])]  # (probability, iterates x^0 … x^t of one history)
    for t in range(T - 1):
        paths = [(prob * q, xs + [xs[t] - gamma * proj(f.subgradient(xs[t]), S)])
                 for prob, xs in paths for q, S in sketch.outcomes]
    pep.set_performance_metric(_sum(prob * f(_sum(xs) * (1.0 / T)) for prob, xs in paths) - f_star)
    return Built(pep, "exact")


def gd_one_step(sketch: FiniteSketch, gamma: float, L: float) -> Built:
    r"""``sup E_t f(x^{t+1}) − f(x^t)`` over L-smooth f and x^t with ``‖∇f(x^t)‖² = 1``; ``exact``.

    The one-step inequality ``E_tΦ_{t+1} ≤ Φ_t − c‖∇f‖²`` (Φ = f − f*, d = 0) is homogeneous of degree
    one under ``f → s f(·/√s)`` (which keeps L), so it holds over the class iff this value is ≤ −c.
    """
    pep = PEP()
    f = pep.declare_function(SmoothFunction, L=L)
    proj = _projector(pep, sketch)
    x0 = pep.set_initial_point()
    g0, f0 = f.oracle(x0)
    pep.add_constraint(g0**2 == 1)
    pep.set_performance_metric(_sum(q * f(x0 - gamma * proj(g0, S)) for q, S in sketch.outcomes) - f0)
    return Built(pep, "exact")


def sgd_one_step(sketch: FiniteSketch, gamma: float, L: float, sigma2: float, c: float, noise_points: int = 2) -> Built:
    r"""``sup E_t f(x^{t+1}) − f(x^t) + c‖∇f(x^t)‖²`` for ``x^{t+1} = x^t − γ Ĥ(∇f(x^t) + e)``; ``lower``.

    f is L-smooth; the noise e is independent of Ĥ and takes ``noise_points`` values e_k with equal
    probability, ``Σ_k e_k = 0`` (unbiased) and ``(1/K) Σ_k ‖e_k‖² ≤ σ²`` (bounded variance at the visited
    point): a restriction of the noise distributions, hence a lower bound on the worst case.  No
    normalisation: with d = Lγ²λ_max^p σ²/2 > 0 the supremum is finite.
    """
    pep = PEP()
    f = pep.declare_function(SmoothFunction, L=L)
    proj = _projector(pep, sketch)
    x0 = pep.set_initial_point()
    g0, f0 = f.oracle(x0)
    free = [pep.set_initial_point() for _ in range(noise_points - 1)]
    noise = [*free, -_sum(free)]
    pep.add_constraint(_sum(e**2 for e in noise) * (1.0 / noise_points) <= sigma2)
    expected = _sum(q / noise_points * f(x0 - gamma * proj(g0 + e, S)) for e in noise for q, S in sketch.outcomes)
    pep.set_performance_metric(expected - f0 + c * g0**2)
    return Built(pep, "lower")


def _dist_inv(parts, weights) -> Expression:
    """``‖v‖²_{𝓗⁻¹} = Σ_j ‖v_j‖²/w_j`` from the block components v_j of v."""
    return _sum(v_j**2 * (1.0 / w) for v_j, w in zip(parts, weights, strict=True))


def subgradient_one_step(sketch: FiniteSketch, gamma: float | None, L0: float, c: float = 0.0,
                         polyak_G: float | None = None) -> Built:
    r"""One subgradient step in the norm ``‖·‖²_{𝓗⁻¹}``, 𝓗 = E Ĥ; f convex and L0-Lipschitz; ``exact``.

    Constant stepsize (``polyak_G`` None): ``sup E_t‖x^{t+1} − x*‖²_{𝓗⁻¹} − ‖x^t − x*‖²_{𝓗⁻¹} + c δ_t``,
    δ_t = f(x^t) − f*, over the class and x^t (finite: at most γ²‖g‖² ≤ γ²L0²).

    Polyak stepsize (``polyak_G`` = G): on the slice ``δ_t = 1``, ``‖g^t‖² = G`` the step
    ``γ_t = (λ_min^p/λ_max^p) δ_t/‖g^t‖²`` is a constant and the value is
    ``sup E_t‖x^{t+1} − x*‖²_{𝓗⁻¹} − ‖x^t − x*‖²_{𝓗⁻¹}``; the inequality (d = 0, progress δ_t²) is homogeneous
    of degree two under ``f → s f(·/s)`` (which keeps L0), so on the slice it holds iff the value is ≤ −c.
    """
    pep = PEP()
    f = pep.declare_function(ConvexLipschitzFunction, M=L0)
    x_star = f.stationary_point()
    f_star = f(x_star)
    x0 = pep.set_initial_point()
    g0, f0 = f.oracle(x0)
    if polyak_G is not None:
        pep.add_constraint(f0 - f_star == 1)
        pep.add_constraint(g0**2 == polyak_G)
        gamma = sketch.lambda_min_p / sketch.lambda_max_p / polyak_G
    weights = sketch.weights
    if sketch.blocks == 1:
        r_parts, g_parts = [x0 - x_star], [g0]
    else:
        partition = pep.declare_block_partition(d=sketch.blocks)
        r_parts = [partition.get_block(x0 - x_star, j) for j in range(sketch.blocks)]
        g_parts = [partition.get_block(g0, j) for j in range(sketch.blocks)]
    before = _dist_inv(r_parts, weights)
    pairs = list(enumerate(zip(r_parts, g_parts, strict=True)))
    after = _sum(q * _dist_inv([r - gamma * g if j in S else r for j, (r, g) in pairs], weights)
                 for q, S in sketch.outcomes)
    metric = after - before if polyak_G is not None else after - before + c * (f0 - f_star)
    pep.set_performance_metric(metric)
    return Built(pep, "exact")


__all__ = ["NATURES", "Built", "gd_one_step", "gd_trajectory", "sgd_one_step", "subgradient_one_step",
           "subgradient_trajectory"]
