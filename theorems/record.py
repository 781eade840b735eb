"""The :class:`Theorem` record: a theorem as pure mathematics (sympy only).

A record holds what the paper states (stepsize condition, bound, the measured quantity) and the
one-step inequality its proof unrolls.  ``verify.symbolic`` proves that the pieces fit together;
``verify.check`` runs the algorithm against the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

#: What a bound is on.  ``avg_grad_sq``: (1/T) Σ_{t<T} ‖∇f(W^t)‖² (equivalently E‖∇f(W̃^T)‖² with W̃^T
#: uniform over W^0..W^{T-1}); ``gap_last``: f(W^T) − f^*.
MEASURES: dict[str, str] = {
    "avg_grad_sq": "(1/T) sum_{t<T} ||grad f(W^t)||_F^2",
    "gap_last": "f(W^T) - f^*",
}

#: How ``one_step`` is unrolled into ``bound``.
#: ``telescoping``: sum the inequality over t < T (needs a = 1), drop Phi_T >= 0, divide by c T.
#: ``contraction``: apply PŁ (‖∇f‖² ≥ 2 mu Phi_t) to get E Phi_{t+1} ≤ rho Phi_t + d, then induct on T.
UNROLLINGS = ("telescoping", "contraction")

#: Assumption ids, shared with ``verify.assumptions``.
ASSUMPTIONS: dict[str, str] = {
    "positive_expected_projection": "Asm. 1: lambda_min(E[H]) > 0 for the sketch distribution(s)",
    "smooth": "Asm. 3: f is L-smooth",
    "lower_bounded": "f^* = inf f > -infinity",
    "pl": "Asm. 6: Polyak-Lojasiewicz, ||grad f||^2 / 2 >= mu (f - f^*)",
}

PROVENANCE_TAGS = ("confirmed", "secondary", "reconstructed")


@dataclass(frozen=True)
class Provenance:
    """Where a statement comes from: ``tag`` in :data:`PROVENANCE_TAGS` and the ``source`` named."""

    tag: str
    source: str

    def __post_init__(self) -> None:
        if self.tag not in PROVENANCE_TAGS:
            raise ValueError(f"provenance tag {self.tag!r} is not one of {PROVENANCE_TAGS}")


@dataclass(frozen=True)
class OneStep:
    r"""The inequality the proof unrolls: ``E_t[Phi_{t+1}] <= a Phi_t - c ||grad f(W^t)||^2 + d``.

    ``lyapunov`` says what ``Phi`` is; ``Phi0`` is its value at W^0 in the theorem's constants.
    ``requirements`` are named expressions that the proof needs to be non-negative; the stepsize
    condition must imply each of them (``verify.symbolic`` proves it).
    """

    lyapunov: str
    a: sp.Expr
    c: sp.Expr
    d: sp.Expr
    Phi0: sp.Expr
    requirements: tuple[tuple[str, sp.Expr], ...] = ()


@dataclass(frozen=True)
class Theorem:
    """One convergence result of the paper, as sympy objects.

    ``bound`` is an expression in ``T`` and the constants; ``measure`` (a key of :data:`MEASURES`)
    says what it bounds in expectation.  ``stepsize_condition`` is a tuple of relations
    ``gamma <= g_i``; ``gamma_max`` is the largest admissible stepsize.
    """

    id: str
    paper_ref: str
    title: str
    provenance: Provenance
    setting: str
    assumptions: tuple[str, ...]
    method: str
    stepsize_condition: tuple[sp.Rel, ...]
    gamma_max: sp.Expr
    bound: sp.Expr
    measure: str
    one_step: OneStep
    unrolling: str
    statement: str
    doc: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"measure {self.measure!r} is not one of {sorted(MEASURES)}")
        if self.unrolling not in UNROLLINGS:
            raise ValueError(f"unrolling {self.unrolling!r} is not one of {UNROLLINGS}")
        unknown = set(self.assumptions) - set(ASSUMPTIONS)
        if unknown:
            raise ValueError(f"unknown assumption ids {sorted(unknown)}")

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """The constants the bound and the stepsize condition depend on (sorted by name)."""
        free = set(self.bound.free_symbols) | set(self.gamma_max.free_symbols)
        for rel in self.stepsize_condition:
            free |= rel.free_symbols
        return tuple(sorted(free, key=lambda s: s.name))
