r"""Exact one-step certificates: a theorem's one-step inequality for EVERY state of a quadratic instance.

A theorem's record (``theorem.one_step``) claims

.. math:: \mathbb E_t\,\Phi_{t+1} \le a\,\Phi_t - c\,\mathrm{progress}_t + d,\qquad
          \Phi_t = \phi(\delta_t, \mathrm{err}_t) = \delta_t + k\,\mathrm{err}_t,

with ``progress = ‖∇f(W^t)‖²`` (or ``δ_t``).  On a quadratic (:mod:`verify.exact.engine`) every term is a
quadratic form in the homogeneous state ``x = (z, 1)``:

* ``z = (w, s)`` (``w = vec(W^t − W*)``, ``s`` the estimator state) for an estimator with memory (PAGE, MVR,
  MARINA, EF21); for a memoryless one (GD, SGD, QGD) ``z = w`` and ``E_t`` also averages over the draw of
  ``G^t`` at ``W^t`` (as :mod:`verify.lemma` redraws it), through the estimator's ``init`` map;
* ``E_t Φ_{t+1} = ⟨Φ̂, 𝒯(x xᵀ)⟩ = xᵀ Q_next x`` with ``𝒯`` the (linear) one-step map of the second moment
  and ``Φ̂`` the matrix of ``Φ`` on ``ẑ``, so ``Q_next = 𝒯*(Φ̂)`` with ``𝒯*`` the adjoint of ``𝒯`` for the
  Frobenius inner product: ``⟨Φ̂, 𝒯(x xᵀ)⟩ = ⟨𝒯*(Φ̂), x xᵀ⟩``.  ``𝒯 = update ∘ move`` (after ``lift``,
  the draw of ``G^t``, when memoryless), so ``𝒯* = move* ∘ update*`` (then ``lift*``): one application of
  the adjoint maps (:mod:`verify.exact.engine`, ``E[M̂ᵀ Φ̂ M̂]`` for the random map ``M̂`` of the lifted state;
  the noise reaches the form only through its constant coordinate);
* ``Φ_t = xᵀ Q_Φ x``, ``‖∇f‖² = wᵀ A² w``, ``δ = ½ wᵀ A w`` and ``d = d·x_last²``.

So the inequality holds for every state iff ``Q = Q_next − a Q_Φ + c Q_prog − d e_last e_lastᵀ ≼ 0``:
``x ↦ xᵀQx ≤ 0`` for all ``x`` with ``x_last = 1`` and, by homogeneity and continuity, for all ``x``; this
covers the linear terms and the constant (``≤ 0``) at once.  It is decided with the eigenvalues of the
symmetrised ``Q``:

* **holds** iff ``λ_max(Q) ≤ tol``; the **margin** is ``−λ_max/scale`` (0: tight at some state);
* otherwise the top **eigenvector** is the worst state, returned as a witness (``W``, the estimator state,
  and both sides of the inequality there); if its last coordinate vanishes it is a direction along which
  the violation grows quadratically.

**Tolerance.** ``scale = ‖Q_next‖₂ + |a|‖Q_Φ‖₂ + |c|‖Q_prog‖₂ + |d|`` is the size of the terms that cancel
in ``Q``.  Each entry of ``Q`` is a sum of products of at most a few matrix products of order
``D_y = 2mn + D_s + 1`` (the adjoint maps are the forward ones transposed), so its rounding error is at most
about ``c D_y ε · scale`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.5, ``γ_k ≈ kε`` per
inner product); ``‖ΔQ‖₂ ≤ ‖ΔQ‖_F ≤ D_x max|ΔQ_ij|`` and Weyl's inequality
``|λ_max(Q + ΔQ) − λ_max(Q)| ≤ ‖ΔQ‖₂`` give ``tol = 10 · D_x · D_y · ε · scale`` (``D_x`` the length of
``x``; about 1e-11 of the scale here).  A claimed decrease 1 % too large moves ``λ_max`` by about 1e-2 of the
decrease form's size, nine orders above.

**Size.** ``Q_next`` costs one application of the adjoint one-step map (about one forward step) and the
decision a few dozen top eigenvalues of a ``D_x × D_x`` matrix, so the form's dimension is limited only by the
recursion's :data:`~verify.exact.maps.MAX_STATE` (``D_x ≤ 401``).

**Tightness.** The decrease a record claims is ``c progress_t`` (non-convex records, ``a ≥ 1``) or
``(1 − a) Φ_t`` (PŁ records, ``c = 0``).  :attr:`Certificate.tightness` is the largest factor ``s`` by which
that term can be multiplied (``c → s c``, resp. ``1 − a → s(1 − a)``) with the inequality still true for
every state: bisection on ``λ_max``, which is monotone in ``s`` because the term is positive semidefinite.
1 means the theorem's inequality is tight on this instance (a claim 1 % larger fails), 2 means it claims
half the decrease the method makes at its worst state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import sympy as sp

from theorems.symbols import delta_t, dist_t, err_t, grad_sq
from verify import symbolic
from verify.exact.engine import ExactChain
from verify.exact.maps import ExactUnsupported
from verify.exact.prepared import chain_for, theorem_values

__all__ = ["Certificate", "OneStepForms", "Witness", "certify", "one_step_forms"]

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True, eq=False)
class OneStepForms:
    """The quadratic forms on ``x`` (module docstring), symmetric ``(D_x, D_x)`` matrices.

    ``next`` is ``E_t Φ_{t+1}``, ``phi`` is ``Φ_t``, ``progress`` the progress term, ``constant`` the
    matrix ``e_last e_lastᵀ`` of the constant 1.  ``memoryless``: ``x = (w, 1)``; else ``x = (w, s, 1)``.
    """

    chain: ExactChain
    next: np.ndarray
    phi: np.ndarray
    progress: np.ndarray
    constant: np.ndarray
    memoryless: bool

    @property
    def dim(self) -> int:
        return self.next.shape[0]

    def value(self, Q: np.ndarray, x: np.ndarray) -> float:
        """``xᵀ Q x``."""
        return float(x @ Q @ x)


def one_step_forms(chain: ExactChain, phi_delta: float, phi_err: float, progress: str) -> OneStepForms:
    r"""``E_t Φ_{t+1}``, ``Φ_t`` and the progress as quadratic forms in the state (module docstring).

    Parameters
    ----------
    chain : ExactChain
        The method on the quadratic.
    phi_delta, phi_err : float
        ``Φ = phi_delta · δ + phi_err · err``.
    progress : {"grad_sq", "delta"}
        ``‖∇f(W^t)‖²`` or ``δ_t``.
    """
    lay, quad = chain.layout, chain.quad
    N = lay.N
    Phi = np.zeros((lay.Dz, lay.Dz))
    Phi[:N, :N] = 0.5 * phi_delta * quad.A
    if chain.transition.error is not None:
        Phi += phi_err * chain.transition.error
    memoryless = chain.transition.memoryless
    nxt = chain.adjoint_step(Phi)                      # E_t Φ_{t+1} = ẑᵀ 𝒯*(Φ̂) ẑ
    now = Phi
    if memoryless:                                     # ẑ = (w, s⁰(w), 1) from x = (w, 1): pull back through lift
        nxt, now = chain.adjoint_lift(nxt), chain.adjoint_lift(now)
    D = nxt.shape[0]
    prog = np.zeros((D, D))
    prog[:N, :N] = quad.A @ quad.A if progress == "grad_sq" else 0.5 * quad.A
    const = np.zeros((D, D))
    const[-1, -1] = 1.0
    return OneStepForms(chain, nxt, now, prog, const, memoryless)


@dataclass(frozen=True, eq=False)
class Witness:
    """The worst state: ``W``, the estimator state vector ``s`` (None when memoryless), both sides there.

    ``direction``: the eigenvector's last coordinate is 0, so ``(W − W*, s)`` is a direction along which the
    excess grows quadratically (``W`` is then ``W* + direction``).
    """

    W: np.ndarray
    state: np.ndarray | None
    lhs: float
    rhs: float
    excess: float
    direction: bool
    x: np.ndarray


@dataclass(frozen=True, eq=False)
class Certificate:
    """Outcome of :func:`certify` (module docstring for the definitions)."""

    theorem: str
    holds: bool
    lambda_max: float
    scale: float
    tol: float
    margin: float
    tightness: float
    a: float
    c: float
    d: float
    dim: int
    memoryless: bool
    witness: Witness | None
    form: np.ndarray

    def describe(self) -> str:
        head = (f"{self.theorem}: one-step inequality {'holds' if self.holds else 'FAILS'} for every state "
                f"(lambda_max/scale = {self.lambda_max / self.scale:.3g}, tol {self.tol / self.scale:.1e}; "
                f"tightness {self.tightness:.6g}; a = {self.a:.6g}, c = {self.c:.6g}, d = {self.d:.6g})")
        if self.witness is not None:
            w = self.witness
            head += (f"; worst {'direction' if w.direction else 'state'}: E_t Phi_(t+1) = {w.lhs:.6g} > "
                     f"a Phi_t - c progress_t + d = {w.rhs:.6g}")
        return head


def _lambda_max(Q: np.ndarray) -> float:
    """Largest eigenvalue of the symmetrised ``Q`` (LAPACK ``syevr``, the top one only)."""
    D = Q.shape[0]
    return float(scipy.linalg.eigh(0.5 * (Q + Q.T), eigvals_only=True, subset_by_index=[D - 1, D - 1])[0])


def _top_eigenvector(Q: np.ndarray) -> np.ndarray:
    D = Q.shape[0]
    return scipy.linalg.eigh(0.5 * (Q + Q.T), subset_by_index=[D - 1, D - 1])[1][:, 0]


def decrease_form(forms: OneStepForms, a: float, c: float) -> np.ndarray:
    """The term whose scale :attr:`Certificate.tightness` measures: ``c · progress`` if ``c > 0``, else
    ``(1 − a) Φ_t`` (PŁ records); positive semidefinite whenever ``c > 0`` or ``a ≤ 1``."""
    return c * forms.progress if c > 0 else (1 - a) * forms.phi


def _tightness(forms: OneStepForms, a: float, c: float, d: float, tol: float) -> float:
    """Largest ``s`` with ``Q_next − a Q_Φ + c Q_prog − d E + (s − 1) D ≼ 0`` (tol), ``D`` the
    :func:`decrease_form`, by bisection (monotone in ``s`` because ``D ≽ 0``)."""
    dec = decrease_form(forms, a, c)
    base = forms.next - a * forms.phi + c * forms.progress - d * forms.constant - dec
    if np.max(np.abs(dec)) == 0:
        return float("inf") if _lambda_max(base) <= tol else float("nan")

    def ok(s: float) -> bool:
        return _lambda_max(base + s * dec) <= tol

    if not ok(0.0):
        return float("-inf")
    lo, hi = 0.0, 1.0
    while ok(hi):
        lo, hi = hi, 2 * hi
        if hi > 1e12:
            return float("inf")
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _phi_coefficients(thm: Any, values: dict[str, float]) -> tuple[float, float]:
    phi = symbolic.expand_definitions(thm.one_step.phi, thm)
    if phi.has(dist_t):
        raise ExactUnsupported(f"{thm.id}: its Lyapunov function is a distance (non-smooth theorem); the exact "
                               "certificate covers Phi = delta + k err")
    cd, ce = sp.diff(phi, delta_t), sp.diff(phi, err_t)
    if sp.simplify(phi - cd * delta_t - ce * err_t) != 0 or cd.has(delta_t, err_t) or ce.has(delta_t, err_t):
        raise ExactUnsupported(f"{thm.id}: Phi = {phi} is not linear in delta_t and err_t")
    return symbolic.value(cd, values, thm), symbolic.value(ce, values, thm)


def certify(prep: Any, a: float | None = None, c: float | None = None, d: float | None = None) -> Certificate:
    """Decide a prepared check's one-step inequality for every state of its quadratic problem.

    Parameters
    ----------
    prep : verify.check.Prepared
        The check (theorem, problem with ``quadratic()``, sketch with a closed-form second moment, estimator
        with ``exact_transition``, constant stepsize ``gamma``).  ``a``, ``c``, ``d`` and ``k`` come from the
        record's ``one_step`` evaluated (:func:`verify.symbolic.value`) at the check's constants.
    a, c, d : float, optional
        Override the record's values (e.g. ``c → 1.01 c`` to claim 1 % more decrease).

    Returns
    -------
    Certificate
        ``holds``, the margin, the tightness, and a witness state when it fails.
    """
    thm = prep.theorem
    step = thm.one_step
    values = theorem_values(prep)
    progress = {grad_sq: "grad_sq", delta_t: "delta"}.get(step.progress)
    if progress is None:
        raise ExactUnsupported(f"{thm.id}: progress {step.progress} is not a quadratic form")
    phi_delta, phi_err = _phi_coefficients(thm, values)
    a = symbolic.value(step.a, values, thm) if a is None else float(a)
    c = symbolic.value(step.c, values, thm) if c is None else float(c)
    d = symbolic.value(step.d, values, thm) if d is None else float(d)
    chain = chain_for(prep)
    forms = one_step_forms(chain, phi_delta, phi_err, progress)
    Q = forms.next - a * forms.phi + c * forms.progress - d * forms.constant
    norm = lambda M: float(np.linalg.norm(M, 2))  # noqa: E731
    scale = norm(forms.next) + abs(a) * norm(forms.phi) + abs(c) * norm(forms.progress) + abs(d)
    tol = 10 * forms.dim * chain.layout.Dy * _EPS * scale
    lam = _lambda_max(Q)
    holds = lam <= tol
    witness = None
    if not holds:
        v = _top_eigenvector(Q)
        direction = abs(v[-1]) <= 1e-8 * np.max(np.abs(v))
        x = v if direction else v / v[-1]
        N = chain.layout.N
        lhs = forms.value(forms.next, x)
        rhs = forms.value(a * forms.phi - c * forms.progress + d * forms.constant, x)
        state = None if forms.memoryless else x[N:N + chain.layout.Ds]
        witness = Witness(chain.quad.W(x[:N]), state, lhs, rhs, lhs - rhs, bool(direction), x)
    return Certificate(thm.id, bool(holds), lam, scale, tol, -lam / scale, _tightness(forms, a, c, d, tol),
                       a, c, d, forms.dim, forms.memoryless, witness, Q)

