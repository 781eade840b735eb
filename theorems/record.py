"""The :class:`Theorem` record: a theorem as pure mathematics (sympy only).

A record holds what the paper states (stepsize condition, bound, the measured quantity) and the
one-step inequality its proof unrolls.  ``verify.symbolic`` proves that the pieces fit together;
``verify.check`` runs the algorithm against the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from theorems.symbols import gamma, latex

#: What a bound is on (per run; the theorem bounds its expectation).
MEASURES: dict[str, str] = {
    "avg_grad_sq": "(1/T) sum_{t<T} ||grad f(W^t)||_F^2 (W~ uniform over W^0..W^{T-1})",
    "weighted_grad_sq": "sum_{t<T} w_t ||grad f(W^t)||^2 / sum_{t<T} w_t, w_t = a^-(t+1) (Khaled-Richtarik draw)",
    "gap_last": "f(W^T) - f^*",
    "lyapunov": "Phi_T = f(W^T) - f^* + k err_T",
    "gap_avg_iterate": "f(W_bar^T) - f^*, W_bar^T = (1/T) sum_{t<T} W^t",
    "gap_best": "min_{t<T} f(W^t) - f^*",
}

#: The left side of each measure's displayed statement (LaTeX): the expectation the bound is on.
MEASURE_LATEX: dict[str, str] = {
    "avg_grad_sq": r"\frac{1}{T}\sum_{t=0}^{T-1}\mathbb{E}\|\nabla f(W^t)\|_F^2",
    "weighted_grad_sq": r"\mathbb{E}\|\nabla f(\widetilde W^T)\|^2",
    "gap_last": r"\mathbb{E}[f(W^T)-f^*]",
    "lyapunov": r"\mathbb{E}\Phi_T",
    "gap_avg_iterate": r"\mathbb{E}f(\overline W^T)-f^*",
    "gap_best": r"\mathbb{E}\min_{t<T}f(W^t)-f^*",
}

#: The adaptive stepsize rules (a theorem without ``gamma_max``), in LaTeX.
STEPSIZE_RULES: dict[str, str] = {
    "polyak": r"\gamma_t=\frac{\lambda_{\min}^p}{\lambda_{\max}^p}\frac{f(W^t)-f^*}{\|G^t\|^2}",
}

#: How ``one_step`` is unrolled into ``bound``.
#: ``telescoping``: multiply step t by w_t = a^-(t+1) (w_t = 1 when a = 1), sum over t < T, drop Phi_T >= 0.
#: ``contraction``: E Phi_{t+1} <= rho Phi_t + d (after PŁ), then induct on T.
UNROLLINGS = ("telescoping", "contraction")

#: Assumption ids, shared with ``verify.assumptions``.
ASSUMPTIONS: dict[str, str] = {
    "positive_expected_projection": "Asm. 1: lambda_min(E[H]) > 0 for the sketch distribution(s)",
    "smooth": "Asm. 3: f is L-smooth",
    "lower_bounded": "f^* = inf f > -infinity",
    "pl": "Asm. 6: Polyak-Lojasiewicz, ||grad f||^2 / 2 >= mu (f - f^*)",
    "expected_smoothness": "E g = grad f, E||g||^2 <= 2A(f - f^*) + B||grad f||^2 + C",
    "bounded_variance": "E g = grad f, E||g - grad f||^2 <= sigma^2",
    "mean_square_smooth": "E||g(W;xi) - g(V;xi)||^2 <= Lms^2 ||W - V||^2",
    "compressor": "unbiased compressor class U(omega) or contractive class B(alpha)",
    "federated": "f = (1/M) sum_i f_i, each f_i L_i-smooth and bounded below",
    "convex": "f convex with a minimiser W*",
    "lipschitz": "Asm. 9: f is L0-Lipschitz (every subgradient has norm <= L0)",
}

PROVENANCE_TAGS = ("confirmed", "secondary", "reconstructed")


@dataclass(frozen=True)
class Case:
    """A check instance of a theorem, declared next to it as plain data (``verify.suite`` turns it into a
    ``verify.check.CheckSpec``).

    ``problem`` and ``sketch`` are registry specs (``"federated-ls:m=6,n=4,M=2"``), ``p``/``r`` the sketch's
    coin and rank, ``runs``/``iters`` R and T, ``params`` the estimator's parameters as ``(key, value)``
    pairs; ``tight`` marks the theorem's tightest instance (exactly one per theorem), ``why`` says in one
    sentence why the instance is there (what it makes bind or what it shows).
    """

    problem: str
    why: str
    sketch: str = "gaussian"
    p: float = 0.5
    r: int = 1
    runs: int = 256
    iters: int = 100
    params: tuple[tuple[str, object], ...] = ()
    tight: bool = False


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
    r"""The inequality the proof unrolls: ``E_t[Phi_{t+1}] <= a Phi_t - c progress_t + d``.

    ``phi`` is Phi_t written in the state quantities of :mod:`theorems.symbols` (``delta_t + k err_t`` for
    the smooth methods, ``dist_t`` for the non-smooth ones) and ``k`` the coefficient of ``err_t``;
    ``progress`` is what the bound is about (``grad_sq``, ``delta_t`` or ``delta_t**2``).  With
    ``pl_applied`` the PŁ inequality has already been used, ``a`` is the contraction factor and c = 0.

    ``next_bound`` is the upper bound on ``E_t[Phi_{t+1}]`` assembled from the ingredient lemmas of
    :mod:`theorems.lemmas`; ``constraints`` substitute quantities that are tied by an assumption (PŁ:
    ``grad_sq = 2 mu delta_t + pl_excess``).  ``verify.symbolic`` proves
    ``a phi - c progress + d - next_bound >= 0`` for all non-negative quantities, under the stepsize
    condition.  ``requirements`` are further named expressions the proof needs to be non-negative.
    """

    lyapunov: str
    phi: sp.Expr
    k: sp.Expr
    a: sp.Expr
    c: sp.Expr
    d: sp.Expr
    Phi0: sp.Expr
    progress: sp.Expr
    next_bound: sp.Expr
    pl_applied: bool = False
    constraints: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    requirements: tuple[tuple[str, sp.Expr], ...] = ()


@dataclass(frozen=True)
class Theorem:
    """One convergence result of the paper, as sympy objects.

    ``bound`` is an expression in ``T`` and the constants; ``measure`` (a key of :data:`MEASURES`)
    says what it bounds in expectation.  ``stepsize_condition`` is a tuple of relations
    ``gamma <= g_i``; ``gamma_max`` is the largest admissible stepsize (``Min`` of the g_i), or, when the
    condition is empty, the recommended constant stepsize, or None for an adaptive rule.
    ``definitions`` are derived constants (e.g. EF21's theta, beta in terms of alpha_c).
    """

    id: str
    paper_ref: str
    title: str
    provenance: Provenance
    setting: str
    assumptions: tuple[str, ...]
    stepsize_condition: tuple[sp.Rel, ...]
    gamma_max: sp.Expr | None
    bound: sp.Expr
    measure: str
    one_step: OneStep
    unrolling: str
    doc: str = field(default="", repr=False)
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    estimator: str = "gd"
    stepsize_rule: str = "constant"

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"measure {self.measure!r} is not one of {sorted(MEASURES)}")
        if self.unrolling not in UNROLLINGS:
            raise ValueError(f"unrolling {self.unrolling!r} is not one of {UNROLLINGS}")
        unknown = set(self.assumptions) - set(ASSUMPTIONS)
        if unknown:
            raise ValueError(f"unknown assumption ids {sorted(unknown)}")
        for rel in self.stepsize_condition:
            if not (isinstance(rel, sp.LessThan) and rel.lhs == gamma):
                raise ValueError(f"stepsize condition {rel} is not of the form gamma <= g")
        if self.gamma_max is None and self.stepsize_rule not in STEPSIZE_RULES:
            raise ValueError(f"adaptive stepsize rule {self.stepsize_rule!r} is not one of {sorted(STEPSIZE_RULES)}")

    @property
    def statement(self) -> str:
        r"""The displayed statement in LaTeX, derived from the record so that it can never go stale:
        ``MEASURE_LATEX[measure] \le latex(bound)``, then the stepsize condition (``0<\gamma\le g`` or
        ``\min\{g_1, g_2\}``), or for an empty condition ``\gamma>0`` with the default ``gamma_max``, or the
        adaptive rule of :data:`STEPSIZE_RULES`."""
        limits = [rel.rhs for rel in self.stepsize_condition]
        if len(limits) == 1:
            step = r"0<\gamma\le " + latex(limits[0])
        elif limits:
            step = r"0<\gamma\le\min\{" + ",\\ ".join(latex(g) for g in limits) + r"\}"
        elif self.gamma_max is not None:
            step = r"\gamma>0\ (\text{default } \gamma = " + latex(self.gamma_max) + ")"
        else:
            step = STEPSIZE_RULES[self.stepsize_rule]
        return f"{MEASURE_LATEX[self.measure]} \\le {latex(self.bound)},\\quad {step}"

    @property
    def method(self) -> str:
        """The algorithm: estimator and stepsize rule."""
        return f"estimator={self.estimator}, stepsize={self.stepsize_rule}"

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """The constants the bound, the stepsize condition and the one-step coefficients depend on."""
        free = set(self.bound.free_symbols)
        if self.gamma_max is not None:
            free |= self.gamma_max.free_symbols
        for rel in self.stepsize_condition:
            free |= rel.free_symbols
        for e in (self.one_step.a, self.one_step.c, self.one_step.d, self.one_step.k):
            free |= e.free_symbols
        defined = {s for s, _ in self.definitions}
        for s, e in self.definitions:
            if s in free:
                free |= e.free_symbols
        return tuple(sorted(free - defined, key=lambda s: s.name))
