"""Exact one-step certificates (verify/exact/certificate.py).

* Every smooth theorem's one-step inequality holds for EVERY state of its quadratic instance at γ = γ_max
  (eigenvalues of the quadratic form, relative tolerance ~1e-11), and the certificate reports its tightness:
  the largest factor by which the claimed decrease (c, or 1 − a for the PŁ records) could be multiplied.
* Where the inequality is tight (tightness 1), claiming 1 % more decrease (c → 1.01 c, or a → a − 0.01(1 − a))
  FAILS, with a witness state at which E_t Φ_{t+1} exceeds the claimed right-hand side; everywhere, a claim
  1 % beyond the reported tightness fails.
* The form itself is the real algorithm's: at random states and at a witness, the exact E_t Φ_{t+1} agrees
  with the Monte-Carlo mean of Φ_{t+1} over fresh draws of the real step (:class:`verify.runner.Algorithm`).
* Q_next = 𝒯*(Φ̂), one application of the adjoint one-step map, equals the form read off the forward map on
  the D(D+1)/2 symmetric basis matrices (the former method, kept here as the oracle) to 1e-12 relative.
* Forms above dimension 64 (the former limit of the basis method) are certified.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from verify import symbolic
from verify.check import CheckSpec, prepare
from verify.exact.certificate import certify, one_step_forms
from verify.exact.maps import ExactUnsupported
from verify.exact.prepared import chain_for, theorem_values
from verify.exact.quadratic import unvec
from verify.runner import Algorithm

SEED = 20250814
ISO = "isotropic-quadratic:m=4,n=3"
ISO_NOISE = "isotropic-quadratic:m=4,n=3,sigma=0.5"
LS = "least-squares:m=4,n=3,N=8,kappa=5,noise=0.5"
LS_WIDE = "least-squares:m=3,n=4,kappa=5,sigma=0.3,noise=0.2"
FED = "federated-ls:m=4,n=3,M=3,N_i=6,kappa=5"
FED_FLAT = "federated-ls:m=4,n=3,M=3,N_i=6,kappa=1"
FED_SMALL = "federated-ls:m=3,n=2,M=2,N_i=6,kappa=1"
RANDK = "rand-k:k=3"

#: (theorem, problem, params, tight): ``tight`` says whether the inequality is attained at some state (tightness 1).
CASES = [
    ("gd-nc", ISO, {}, True),
    ("gd-pl", ISO, {}, True),
    ("gd-nc", LS, {}, False),                                      # kappa = 5: tightness 1.05
    ("sgd-nc", ISO_NOISE, {}, True),
    ("sgd-pl", ISO_NOISE, {}, False),                              # the PŁ proof keeps half the decrease: 2
    ("page-nc", LS, {"q": 0.3, "batch_prime": 2}, True),
    ("page-pl", ISO_NOISE, {"q": 0.3, "batch_prime": 2}, True),
    ("mvr-nc", ISO_NOISE, {"b": 0.3, "batch": 2, "batch0": 3}, False),  # Young's factor 2: never tight
    ("mvr-pl", ISO_NOISE, {"b": 0.3, "batch": 2, "batch0": 3}, False),
    ("qgd-nc", FED, {"compressor": RANDK}, False),
    ("qgd-pl", FED, {"compressor": RANDK}, False),
    ("marina-nc", FED, {"q": 0.3, "compressor": RANDK}, True),
    ("marina-pl", FED_FLAT, {"q": 0.05, "compressor": RANDK}, True),
    ("ef21-nc", FED_SMALL, {"compressor": "identity"}, True),
    ("ef21-pl", FED_SMALL, {"compressor": "identity"}, True),
]
IDS = [f"{c[0]}-{c[1].split(':')[0]}" for c in CASES]


def _prep(theorem: str, problem: str, params: dict, sketch: str = "gaussian", p: float = 0.3, r: int = 2):
    return prepare(CheckSpec(theorem, problem, sketch, p=p, r=r, iters=10, params=tuple(params.items())))


def _stronger(cert):  # noqa: ANN001, ANN202
    """(a, c) claiming 1 % more decrease: c → 1.01 c for the records with a gradient term, else 1 − a → 1.01(1 − a)."""
    return (cert.a, 1.01 * cert.c) if cert.c > 0 else (cert.a - 0.01 * (1 - cert.a), cert.c)


def _basis_forms(chain, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The oracle: (Q_next, Q_Φ) read off the FORWARD maps on the symmetric basis (e_i e_jᵀ + e_j e_iᵀ)/2,
    ⟨Q, basis_ij⟩ = Q_ij, one batch of D(D+1)/2 second moments (through lift when memoryless)."""
    D = chain.layout.N + 1 if chain.transition.memoryless else chain.layout.Dz
    i, j = np.triu_indices(D)
    B = np.zeros((len(i), D, D))
    k = np.arange(len(i))
    B[k, i, j] += 0.5
    B[k, j, i] += 0.5
    Sz = chain.lift(B) if chain.transition.memoryless else B
    out = []
    for values in (np.einsum("ab,kab->k", phi, chain.step(Sz)), np.einsum("ab,kab->k", phi, Sz)):
        Q = np.zeros((D, D))
        Q[i, j] = values
        Q[j, i] = values
        out.append(Q)
    return out[0], out[1]


ORACLE_CASES = [(*c[:3], "gaussian", 0.3, 2) for c in CASES] + [
    ("page-nc", LS, {"q": 0.3, "batch_prime": 2}, "coordinates", 0.7, 1),
    ("mvr-nc", LS_WIDE, {"b": 0.3, "batch": 2, "batch0": 3}, "haar", 0.7, 2),
    ("sgd-pl", LS, {"batch": 2}, "haar", 0.7, 1),
    ("marina-nc", FED, {"q": 0.3, "compressor": RANDK}, "coordinates", 0.3, 2),
    ("qgd-pl", FED, {"compressor": RANDK}, "haar", 0.7, 1),
]


@pytest.mark.parametrize(("theorem", "problem", "params", "sk", "p", "r"), ORACLE_CASES,
                         ids=[f"{c[0]}-{c[1].split(':')[0]}-{c[3]}-p{c[4]}" for c in ORACLE_CASES])
def test_adjoint_form_equals_the_basis_method(theorem: str, problem: str, params: dict, sk: str, p: float,
                                              r: int) -> None:
    """Q_next = 𝒯*(Φ̂) (and Q_Φ, pulled back through the lift when memoryless) equals the form read off the forward
    one-step map on every symmetric basis matrix, to 1e-12 of its size."""
    prep = _prep(theorem, problem, params, sketch=sk, p=p, r=r)
    chain = chain_for(prep)
    k = _phi_k(prep)
    forms = one_step_forms(chain, 1.0, k, "grad_sq")
    lay = chain.layout
    phi = np.zeros((lay.Dz, lay.Dz))
    phi[:lay.N, :lay.N] = 0.5 * chain.quad.A
    if chain.transition.error is not None:
        phi += k * chain.transition.error
    nxt, now = _basis_forms(chain, phi)
    assert forms.next.shape == nxt.shape and forms.phi.shape == now.shape
    assert np.max(np.abs(forms.next - nxt)) <= 1e-12 * np.max(np.abs(nxt)), np.max(np.abs(forms.next - nxt))
    assert np.max(np.abs(forms.phi - now)) <= 1e-12 * np.max(np.abs(now))


@pytest.mark.parametrize(("theorem", "problem", "params", "tight"), CASES, ids=IDS)
def test_one_step_inequality_holds_for_every_state_at_gamma_max(theorem: str, problem: str, params: dict,
                                                                tight: bool) -> None:
    prep = _prep(theorem, problem, params)
    assert prep.gamma == pytest.approx(prep.gamma_max)
    cert = certify(prep)
    assert cert.holds, cert.describe()
    assert cert.witness is None
    assert cert.lambda_max <= cert.tol
    if tight:
        assert cert.tightness == pytest.approx(1.0, abs=1e-6), cert.describe()
        a, c = _stronger(cert)
        mutated = certify(prep, a=a, c=c)
        assert not mutated.holds, mutated.describe()
        w = mutated.witness
        assert w is not None and w.lhs > w.rhs and w.excess == pytest.approx(w.lhs - w.rhs)
        assert w.excess > 1e3 * mutated.tol * max(1.0, float(w.x @ w.x))
    else:
        assert cert.tightness > 1.02, cert.describe()
    # the tightness is where the claim breaks: 1 % beyond it fails
    s = 1.01 * cert.tightness
    beyond = certify(prep, c=s * cert.c) if cert.c > 0 else certify(prep, a=1 - s * (1 - cert.a))
    assert not beyond.holds and beyond.witness is not None


def test_a_wrong_sketch_constant_is_refuted_with_a_witness() -> None:
    """gd-nc with a λ_min^p 5 % too large (as if the coin were p for the wrong side) is refuted on a tight instance."""
    prep = _prep("gd-nc", ISO, {})
    cert = certify(prep, c=1.05 * prep.gamma * prep.constants["lambda_min_p"].value / 2)
    assert not cert.holds
    # the worst state is any W ≠ W*: the form is a multiple of ‖W − W*‖² (isotropic), its direction the witness
    assert cert.witness.lhs > cert.witness.rhs


def _mc_next(prep, W: np.ndarray, state, samples: int, seed: int):  # noqa: ANN001, ANN202
    """Monte Carlo of Φ_{t+1} from (W, state) with the real algorithm (memoryless: G^t redrawn), mean and s.e."""
    rng = np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=(seed,)))
    problem, est = prep.problem, prep.estimator
    algo = Algorithm(est, prep.projector, prep.stepsize)
    W_rep = np.broadcast_to(W, (samples, *W.shape)).copy()
    if est.memoryless:
        st = est.init(problem, W_rep, problem.grad(W_rep), rng)
    else:
        st = np.broadcast_to(state, (samples, *state.shape)).copy()
    W1, g1, s1 = algo.step(problem, 0, W_rep, st, rng)
    f_star = float(problem.constants["f_star"].value)
    phi = problem.f(W1) - f_star + _phi_k(prep) * est.error(s1, problem, W1, g1)
    return phi.mean(), phi.std(ddof=1) / np.sqrt(samples)


def _phi_k(prep) -> float:  # noqa: ANN001
    return symbolic.value(prep.theorem.one_step.k, theorem_values(prep), prep.theorem)


@pytest.mark.parametrize(("theorem", "problem", "params"), [
    ("page-nc", LS, {"q": 0.3, "batch_prime": 2}),
    ("sgd-nc", ISO_NOISE, {}),
    ("mvr-pl", ISO_NOISE, {"b": 0.3, "batch": 2, "batch0": 3}),
])
def test_exact_conditional_expectation_matches_the_real_step(theorem: str, problem: str, params: dict) -> None:
    """x ↦ xᵀ Q_next x is E_t Φ_{t+1} of the real algorithm: 3 random states, 20 000 draws each, two-sided
    t intervals (Bonferroni over the 9 tests, level 1e-4)."""
    prep = _prep(theorem, problem, params, sketch="haar", p=0.7, r=1)
    chain = chain_for(prep)
    k = _phi_k(prep)
    forms = one_step_forms(chain, 1.0, k, "grad_sq")
    rng = np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=(7,)))
    crit = sps.t.ppf(1 - 1e-4 / 18, df=20_000 - 1)
    m, n = prep.problem.shape
    for j in range(3):
        x = np.append(rng.standard_normal(forms.dim - 1), 1.0)
        W = chain.quad.W(x[:m * n])
        state = None if forms.memoryless else unvec(x[m * n:m * n + chain.layout.Ds], (m, n))
        mean, se = _mc_next(prep, W, state, 20_000, j)
        exact = forms.value(forms.next, x)
        assert abs(mean - exact) <= crit * se, (mean, exact, se)


def test_forms_above_the_former_limit_are_certified() -> None:
    """page-nc on an 8×4 problem: a form of dimension 65 (the basis method refused above 64) holds at γ_max and
    fails with a witness 1 % beyond its tightness."""
    prep = _prep("page-nc", "least-squares:m=8,n=4,N=8", {"q": 0.3})
    cert = certify(prep)
    assert cert.dim == 65 and cert.holds, cert.describe()
    beyond = certify(prep, c=1.01 * cert.tightness * cert.c)
    assert not beyond.holds and beyond.witness is not None


def test_unsupported_theorems_are_refused() -> None:
    prep = _prep("gd-nc", ISO, {}, sketch="scaled-gaussian")
    with pytest.raises(ExactUnsupported, match="scaled-gaussian"):
        certify(prep)
    with pytest.raises(ExactUnsupported, match="ns-const: (progress|its Lyapunov)"):
        certify(_prep("ns-const", "norm-distance:m=3,n=2", {}))
