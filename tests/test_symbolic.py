"""Symbolic checks of every registered theorem, and proof that the checks can fail."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import theorems
from theorems.projection import GAUSSIAN, lambda_max_p_expr, lambda_min_p_expr
from theorems.rac_lora import REDUCES_TO
from theorems.symbols import Delta0, L, T, gamma, lambda_min_H, lambda_min_p, m, mu, n, p, r
from verify import symbolic

REGISTRY = theorems.registry()


@pytest.mark.parametrize("thm_id", list(REGISTRY))
def test_every_symbolic_check_is_proved(thm_id):
    proofs = symbolic.all_proofs(REGISTRY[thm_id])
    failed = [f"{pr.name}: {pr.detail}" for pr in proofs if not pr.ok]
    assert not failed, failed
    assert len(proofs) >= 6


def test_registry_ids_and_records():
    assert {"gd-nc", "gd-pl"} <= set(REGISTRY)
    for thm in REGISTRY.values():
        assert thm.paper_ref and thm.provenance.source and thm.statement and thm.doc
        names = {s.name for s in thm.symbols}
        assert "gamma" in names and "lambda_min_p" in names


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


@settings(max_examples=60, deadline=None)
@given(
    thm_id=st.sampled_from(sorted(REGISTRY)),
    L_val=st.floats(0.01, 100),
    mu_frac=st.floats(0.01, 1.0),
    lam=st.floats(1e-3, 0.999),  # at gamma mu lambda = 1 the PL bound is exactly 0 for T >= 1
    g_frac=st.floats(1e-3, 1.0),
    delta0=st.floats(1e-3, 1e3),
    T0=st.integers(1, 5000),
)
def test_bounds_positive_and_decreasing_in_T(thm_id, L_val, mu_frac, lam, g_frac, delta0, T0):
    thm = REGISTRY[thm_id]
    values = {"L": L_val, "mu": mu_frac * L_val, "lambda_min_p": lam, "lambda_max_p": lam, "Delta0": delta0}
    values["gamma"] = g_frac * symbolic.value(thm.gamma_max, values)
    assert symbolic.stepsize_satisfied(thm, values)
    expr = symbolic.substitute(thm.bound, values)
    b0, b1 = (sp.N(expr.subs(T, t), 50) for t in (T0, T0 + 1))  # 50 digits: no underflow
    assert b0 > 0 and b1 > 0
    assert b1 <= b0


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
