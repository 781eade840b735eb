r"""Bernoulli-LoRA-GD: Theorem 1 (non-convex) and its PŁ counterpart.

Algorithm (docs/theory.md §2.2, [C] from the authors' code): ``W^{t+1} = W^t − γ Ĝ^t`` with
``Ĝ^t = H_B^t ∇f(W^t)`` with probability p and ``∇f(W^t) H_A^t`` otherwise.

Derivation of the one-step inequality (written out here, each step checked by ``verify.symbolic``):

1. L-smoothness:
   :math:`f(W^{t+1}) \le f(W^t) - \gamma\langle\nabla f, \hat G\rangle + \tfrac{L\gamma^2}{2}\|\hat G\|^2`.
2. Ĥ is a symmetric idempotent operator on (R^{m×n}, ⟨·,·⟩_F), so
   :math:`\langle\nabla f,\hat H\nabla f\rangle = \|\hat H\nabla f\|^2` and
   :math:`f(W^{t+1}) \le f(W^t) - \gamma(1 - L\gamma/2)\|\hat G\|^2`.
3. Taking E_t and using :math:`\mathbb E_t\|\hat G\|^2 = \langle\nabla f,\mathcal H\nabla f\rangle \ge
   \lambda_{\min}^p\|\nabla f\|^2` (needs :math:`1 - L\gamma/2 \ge 0`):
   :math:`\mathbb E_t f(W^{t+1}) \le f(W^t) - \gamma\lambda_{\min}^p(1 - L\gamma/2)\|\nabla f(W^t)\|^2`.
4. With :math:`\gamma \le 1/L`, :math:`1 - L\gamma/2 \ge 1/2`:
   :math:`\mathbb E_t\Phi_{t+1} \le \Phi_t - \tfrac{\gamma\lambda_{\min}^p}{2}\|\nabla f(W^t)\|^2`,
   :math:`\Phi_t = f(W^t) - f^*`.

Non-convex (telescoping, Φ_T ≥ 0):
:math:`\frac1T\sum_{t<T}\mathbb E\|\nabla f(W^t)\|^2 \le \frac{2\Delta_0}{\gamma\lambda_{\min}^p T}`.
PŁ (:math:`\|\nabla f\|^2 \ge 2\mu\Phi_t`): :math:`\mathbb E\Phi_{t+1} \le (1-\gamma\mu\lambda_{\min}^p)\Phi_t`,
so :math:`\mathbb E[f(W^T) - f^*] \le (1-\gamma\mu\lambda_{\min}^p)^T\Delta_0`.

Both bounds are attained on ``f = (L/2)‖W − W*‖²`` with isotropic sketches at γ = 1/L: there
:math:`\mathbb E_t\Phi_{t+1} = (1-\lambda)\Phi_t` exactly.

Sources: the forms are RAC-LoRA's Theorems 5.3 and 5.5 (Malinovsky et al., arXiv 2410.08305, quoted by
public reviews) with λ_min^H replaced by λ_min^p; the Bernoulli-LoRA brief confirms Theorem 1's rate
2Δ⁰/(γ λ_min^p T) and the PŁ rate (1 − γμλ_min)^T (docs/theory.md §8: the project brief).
The stepsize condition γ ≤ 1/L is the standard one (reconstructed).
"""

from __future__ import annotations

import sympy as sp

from theorems.lemmas import DESCENT_BIASED
from theorems.record import Case, OneStep, Provenance, Theorem
from theorems.symbols import Delta0, L, T, delta_t, err_t, gamma, grad_sq, lambda_min_p, mu

_c_raw = gamma * lambda_min_p * (1 - L * gamma / 2)
_c = gamma * lambda_min_p / 2

_ONE_STEP = OneStep(
    lyapunov="f(W^t) - f^*",
    phi=delta_t,
    k=sp.Integer(0),
    a=sp.Integer(1),
    c=_c,
    d=sp.Integer(0),
    Phi0=Delta0,
    progress=grad_sq,
    next_bound=DESCENT_BIASED.subs(err_t, 0),
    requirements=(
        ("1 - L gamma/2 >= 0 (lets E||G_hat||^2 >= lambda_min_p ||grad||^2 enter with the right sign)",
         1 - L * gamma / 2),
        ("descent coefficient gamma lambda (1 - L gamma/2) >= gamma lambda / 2", _c_raw - _c),
    ),
)

_STEPSIZE = (sp.Le(gamma, 1 / L),)

GD_NC = Theorem(
    id="gd-nc",
    paper_ref="Theorem 1",
    title="Bernoulli-LoRA-GD, non-convex",
    provenance=Provenance(
        "confirmed",
        "project brief (rate 2 Delta0/(gamma lambda_min^p T)); form of RAC-LoRA Thm 5.3 [S]; "
        "stepsize gamma <= 1/L reconstructed",
    ),
    setting="non-convex",
    assumptions=("positive_expected_projection", "smooth", "lower_bounded"),
    stepsize_condition=_STEPSIZE,
    gamma_max=1 / L,
    bound=2 * Delta0 / (gamma * lambda_min_p * T),
    measure="avg_grad_sq",
    one_step=_ONE_STEP,
    unrolling="telescoping",
    doc=__doc__,
)

GD_PL = Theorem(
    id="gd-pl",
    paper_ref="Theorem 1 (PŁ variant)",
    title="Bernoulli-LoRA-GD under the PŁ condition",
    provenance=Provenance(
        "confirmed",
        "project brief / Table 1 (rate (1 - gamma mu lambda_min^p)^T); form of RAC-LoRA Thm 5.5 [S]; "
        "stepsize gamma <= 1/L reconstructed",
    ),
    setting="PŁ",
    assumptions=("positive_expected_projection", "smooth", "lower_bounded", "pl"),
    stepsize_condition=_STEPSIZE,
    gamma_max=1 / L,
    bound=(1 - gamma * mu * lambda_min_p) ** T * Delta0,
    measure="gap_last",
    one_step=_ONE_STEP,
    unrolling="contraction",
    doc=__doc__,
)

THEOREMS = (GD_NC, GD_PL)


#: The check instances of these theorems (``verify.suite`` runs them; the tight one is found by
#: ``benchmarks/search_instances.py`` with the exact oracle).
CASES = {
    'gd-nc': (
        Case('isotropic-quadratic:m=6,n=4',
             why=('E Delta_{t+1} = (1 - lambda) Delta_t exactly at gamma = 1/L: the telescoped bound is attained up'
                  " to (1 - lambda)^T (exact search's best, p != 1/2, m != n)"),
             p=0.3, r=2, iters=80, tight=True),
        Case('isotropic-quadratic',
             why='the 12x8 default instance, rank 1',
             p=0.5, r=1, iters=20),
        Case('least-squares',
             why='least squares with a spread spectrum: the bound is loose in the small eigendirections',
             p=0.5, r=2, iters=200),
        Case('least-squares',
             why='a non-isotropic sketch whose lambda is a Monte-Carlo interval, used at its conservative end',
             sketch='scaled-gaussian', p=0.3, r=2, iters=200),
        Case('nonconvex-reg',
             why="the paper's §7.1 non-convex regression problem (no exact oracle)",
             p=0.5, r=2, iters=300),
        Case('isotropic-quadratic',
             why='lambda_min = 0: Assumption 1 fails, the theorem does not apply and the runs stall',
             sketch='degenerate', p=0.5, r=2, runs=64, iters=200),
    ),
    'gd-pl': (
        Case('isotropic-quadratic:m=6,n=4',
             why='E[f(W^T) - f*] = (1 - lambda)^T Delta0: bound and rate attained at every T',
             p=0.7, r=1, iters=80, tight=True),
        Case('least-squares',
             why='least squares: the PL rate binds only in the smallest eigendirection',
             p=0.5, r=2, iters=200),
        Case('isotropic-quadratic',
             why='the 12x8 default instance, rank 1',
             p=0.5, r=1, iters=20),
        Case('least-squares',
             why='random-coordinate sketches, p = 0.8, rank 3',
             sketch='coordinates', p=0.8, r=3, iters=200),
        Case('least-squares:m=8,n=8',
             why='Haar (uniform orthogonal) sketches on a square problem',
             sketch='haar', p=0.5, r=2, iters=200),
        Case('pl-sine',
             why='a non-convex PL function (no exact oracle)',
             p=0.5, r=2, iters=200),
    ),
}
