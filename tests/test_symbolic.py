"""Symbolic checks of every registered theorem, and proof that the checks can fail."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import theorems
from theorems.lemmas import EF21_BETA, EF21_S, EF21_THETA
from theorems.projection import GAUSSIAN, lambda_max_p_expr, lambda_min_p_expr
from theorems.rac_lora import REDUCES_TO
from theorems.symbols import (
    E0,
    A,
    B,
    C,
    Delta0,
    L,
    T,
    alpha_c,
    b,
    beta,
    gamma,
    lambda_max_p,
    lambda_min_H,
    lambda_min_p,
    m,
    mu,
    n,
    omega,
    p,
    q,
    r,
    sigma2,
    theta,
)
from verify import symbolic

REGISTRY = theorems.registry()


@pytest.mark.parametrize("thm_id", list(REGISTRY))
def test_every_symbolic_check_is_proved(thm_id):
    proofs = symbolic.all_proofs(REGISTRY[thm_id])
    failed = [f"{pr.name}: {pr.detail}" for pr in proofs if not pr.ok]
    assert not failed, failed
    assert len(proofs) >= 6


ALL_IDS = ["gd-nc", "gd-pl", "sgd-nc", "sgd-pl", "mvr-nc", "mvr-pl", "page-nc", "page-pl", "qgd-nc", "qgd-pl",
           "marina-nc", "marina-pl", "ef21-nc", "ef21-pl", "ns-const", "ns-polyak"]


def test_registry_ids_and_records():
    assert list(REGISTRY) == ALL_IDS
    for thm in REGISTRY.values():
        assert thm.paper_ref and thm.provenance.source and thm.statement and thm.doc
        names = {s.name for s in thm.symbols}
        assert "lambda_min_p" in names
        assert ("gamma" in names) == (thm.stepsize_rule == "constant")
    refs = {REGISTRY[i].paper_ref for i in ("sgd-nc", "mvr-nc", "page-nc", "qgd-nc", "marina-nc", "ef21-nc", "sgd-pl")}
    assert refs == {f"Theorem {k}" for k in range(2, 9)}


@pytest.mark.parametrize("thm_id", ALL_IDS)
def test_a_bound_ten_percent_too_small_is_refuted(thm_id):
    bad = _mutant(thm_id, bound=REGISTRY[thm_id].bound * sp.Rational(9, 10))
    assert not all(pr.ok for pr in symbolic.prove_unrolling(bad))


@pytest.mark.parametrize("thm_id", ALL_IDS)
def test_a_one_step_inequality_too_good_is_refuted(thm_id):
    """Claiming 10 % more decrease (or a 1 % faster contraction) than the lemmas give breaks the assembly proof."""
    step = REGISTRY[thm_id].one_step
    better = (dataclasses.replace(step, a=step.a - sp.Rational(1, 100) * (1 - step.a) - sp.Rational(1, 100))
              if step.pl_applied else dataclasses.replace(step, c=step.c * sp.Rational(11, 10)))
    assert not all(pr.ok for pr in symbolic.prove_one_step(_mutant(thm_id, one_step=better)))


def _mutant(thm_id, **changes):
    return dataclasses.replace(REGISTRY[thm_id], **changes)


def test_telescoping_proof_fails_for_a_bound_too_small():
    bad = _mutant("gd-nc", bound=REGISTRY["gd-nc"].bound * sp.Rational(9, 10))
    assert not all(pr.ok for pr in symbolic.prove_unrolling(bad))


def test_contraction_proof_fails_for_a_rate_too_fast():
    bad = _mutant("gd-pl", bound=(1 - 2 * gamma * mu * lambda_min_p) ** T * Delta0)
    assert not all(pr.ok for pr in symbolic.prove_unrolling(bad))


def test_requirements_fail_for_a_stepsize_too_large():
    bad = _mutant("gd-nc", stepsize_condition=(sp.Le(gamma, 3 / L),), gamma_max=3 / L)
    assert not all(pr.ok for pr in symbolic.prove_requirements(bad))


def test_gamma_max_check_fails_when_inconsistent():
    bad = _mutant("gd-nc", gamma_max=2 / L)
    assert not symbolic.prove_gamma_max(bad).ok


def test_nonnegativity_prover_is_not_vacuous():
    thm = REGISTRY["gd-nc"]
    assert symbolic.prove_nonnegative(1 - L * gamma, thm)
    assert not symbolic.prove_nonnegative(1 - 2 * L * gamma, thm)  # false at gamma = 1/L
    assert not symbolic.prove_nonnegative(gamma - 1 / (2 * L), thm)


def test_gaussian_lambda_p_closed_form():
    lam = lambda_min_p_expr.subs(GAUSSIAN)
    assert sp.simplify(lam - (p * r / m + (1 - p) * r / n)) == 0
    assert sp.simplify(lam - lambda_max_p_expr.subs(GAUSSIAN)) == 0  # isotropic: lambda_min = lambda_max
    square = sp.simplify(lam.subs(m, n))
    assert square == r / n and p not in square.free_symbols


@pytest.mark.parametrize("thm_id", sorted(REDUCES_TO))
def test_p_in_0_1_recovers_rac_lora(thm_id):
    """At p = 1 (or 0) lambda_min^p is RAC-LoRA's lambda_min^H and the bound is RAC-LoRA's theorem."""
    thm = REGISTRY[thm_id]
    for p_val, side in ((1, GAUSSIAN), (0, GAUSSIAN)):
        lam = lambda_min_p_expr.subs(p, p_val)
        assert len(lam.free_symbols) == 1  # only one side survives
        assert sp.simplify(thm.bound.subs(lambda_min_p, lam).subs(lam, lambda_min_H) - REDUCES_TO[thm_id]) == 0
        assert side  # Gaussian closed form is defined for both sides


def test_gd_pl_at_gamma_1_over_L_gives_rac_lora_rate():
    rate = REGISTRY["gd-pl"].bound.subs(gamma, 1 / L).subs(lambda_min_p, lambda_min_p_expr.subs(GAUSSIAN))
    assert sp.simplify(rate.subs(p, 1) - (1 - mu * r / (L * m)) ** T * Delta0) == 0
    assert sp.simplify(rate.subs(p, 0) - (1 - mu * r / (L * n)) ** T * Delta0) == 0


@st.composite
def _constants(draw):
    """Every constant of every theorem, inside its structural range."""
    pos = st.floats(1e-2, 1e2)
    L_val = draw(pos)
    lam_max = draw(st.floats(1e-3, 1.0))
    return {
        "L": L_val, "mu": draw(st.floats(1e-2, 1.0)) * L_val, "lambda_max_p": lam_max,
        "lambda_min_p": draw(st.floats(1e-2, 1.0)) * lam_max * 0.999, "Delta0": draw(pos),
        "A": draw(st.floats(0, 1e2)), "B": draw(st.floats(1, 10)), "C": draw(st.floats(0, 1e2)),
        "sigma2": draw(st.floats(0, 1e2)), "Lms": draw(pos), "L_max": draw(pos), "L_tilde": draw(pos),
        "Delta_inf": draw(st.floats(0, 1e2)), "E0": draw(st.floats(0, 1e2)), "L0": draw(pos), "R0": draw(pos),
        "q": draw(st.floats(1e-3, 1.0)), "b": draw(st.floats(1e-3, 1.0)), "alpha_c": draw(st.floats(1e-3, 1.0)),
        "b_prime": float(draw(st.integers(1, 100))), "M": float(draw(st.integers(1, 50))),
        "omega": draw(st.floats(0, 50)),
    }


@settings(max_examples=80, deadline=None)
@given(thm_id=st.sampled_from(ALL_IDS), values=_constants(), g_frac=st.floats(1e-3, 1.0), T0=st.integers(1, 5000))
def test_bounds_positive_and_decreasing_in_T(thm_id, values, g_frac, T0):
    thm = REGISTRY[thm_id]
    if thm.stepsize_rule == "constant":
        values["T"] = T0
        values["gamma"] = g_frac * min(symbolic.gamma_max_value(thm, values), 1e6)
        assert symbolic.stepsize_satisfied(thm, values)
    expr = symbolic.substitute(thm.bound, values, thm)
    b0, b1 = (sp.N(expr.subs(T, t), 50) for t in (T0, T0 + 1))  # 50 digits: no underflow
    assert b0 > 0 and b1 > 0
    # every bound decreases in T except ns-const, whose gamma is tuned to the horizon and fixed here
    assert b1 <= b0 or thm_id == "ns-const"


def test_mpmath_evaluation_keeps_precision():
    thm = REGISTRY["gd-pl"]
    vals = {"gamma": 1.0, "mu": 1.0, "lambda_min_p": 1e-20, "Delta0": 1.0}
    got = symbolic.evaluate(thm.bound, vals, [10**22])[0]
    assert got == pytest.approx(float(sp.exp(-100)), rel=1e-12)  # float64 would give 1.0


def test_evaluate_refuses_missing_constants():
    with pytest.raises(ValueError, match="no value"):
        symbolic.evaluate(REGISTRY["gd-pl"].bound, {"gamma": 1.0}, [1])


def test_theorems_package_imports_sympy_only():
    import pathlib

    root = pathlib.Path(theorems.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import numpy" not in text and "from verify" not in text and "import verify" not in text, path


def _bounds_equal(a, b):
    return sp.simplify(a - b) == 0


def test_q_equal_1_reduces_page_and_marina_to_gd():
    for prefix in ("page", "marina"):
        for kind in ("nc", "pl"):
            thm, gd = REGISTRY[f"{prefix}-{kind}"], REGISTRY[f"gd-{kind}"]
            assert _bounds_equal(thm.bound.subs({q: 1, E0: 0}), gd.bound)
            assert _bounds_equal(symbolic.stepsize_bounds(thm)[0].subs(q, 1), 1 / L)


def test_identity_compressor_reduces_qgd_marina_ef21_to_gd():
    iso = {lambda_max_p: lambda_min_p}
    assert _bounds_equal(REGISTRY["qgd-nc"].bound.subs(omega, 0), REGISTRY["gd-nc"].bound)
    assert _bounds_equal(REGISTRY["qgd-nc"].gamma_max.subs(iso), 1 / L)
    assert _bounds_equal(REGISTRY["marina-nc"].bound.subs({omega: 0, E0: 0}), REGISTRY["gd-nc"].bound)
    assert _bounds_equal(REGISTRY["marina-nc"].gamma_max.subs(omega, 0), 1 / L)
    ef = REGISTRY["ef21-nc"]
    ident = {theta: EF21_THETA.subs(alpha_c, 1), beta: EF21_BETA.subs(alpha_c, 1)}
    assert ident == {theta: 1, beta: 0}
    assert _bounds_equal(ef.bound.subs(ident).subs(E0, 0), REGISTRY["gd-nc"].bound)
    assert _bounds_equal(ef.gamma_max.subs(ident), 1 / L)
    # the PŁ variants keep the extra min with kappa/(2 mu lambda), which is >= 1/L when kappa = 1 and mu <= L
    assert _bounds_equal(REGISTRY["ef21-pl"].bound.subs(ident).subs(E0, 0), REGISTRY["gd-pl"].bound)


def test_zero_noise_sgd_gives_gd_rates():
    zero = {A: 0, C: 0, B: 1}
    assert _bounds_equal(REGISTRY["sgd-nc"].bound.subs(zero), REGISTRY["gd-nc"].bound)
    # PŁ: the SGD proof keeps half of the decrease, so its rate is (1 - gamma mu lambda/2)^T >= GD's
    thm = REGISTRY["sgd-pl"]
    gap = thm.bound.subs(zero) - REGISTRY["gd-pl"].bound
    assert symbolic.prove_nonnegative(sp.simplify(gap.subs(T, 1)), thm)


def test_mvr_with_b_equal_1_is_sgd_and_its_bound_is_valid_for_sgd():
    """b = 1 makes MVR plain SGD (A = 0, B = 1, C = sigma2); MVR's bound is then implied by, not equal to, SGD's."""
    mvr = REGISTRY["mvr-nc"].bound.subs({b: 1, E0: sigma2})
    sgd = REGISTRY["sgd-nc"].bound.subs({A: 0, B: 1, C: sigma2})
    gap = sp.simplify(mvr - sgd)  # = gamma lam_max E0/(gamma lam T) + sigma2 lam_max (2 - L gamma)/lam >= 0
    assert symbolic.prove_nonnegative(gap, REGISTRY["gd-nc"])


def test_ef21_young_parameter_gives_theta_and_beta():
    s_, a_ = EF21_S, alpha_c
    assert sp.simplify((1 - a_) * (1 + s_) - (1 - EF21_THETA)) == 0
    assert sp.simplify((1 - a_) * (1 + 1 / s_) - EF21_BETA) == 0
