"""PEPs solved here (needs the extra ``pep``; skipped cleanly without PEPit).  Default tests keep T <= 3."""

from __future__ import annotations

import pytest

pytest.importorskip("PEPit")

from PEPit import PEP  # noqa: E402
from PEPit.functions import SmoothConvexFunction  # noqa: E402

from verify.cli import main  # noqa: E402
from verify.pep.problems import Built  # noqa: E402
from verify.pep.sketch import grid, two_block  # noqa: E402
from verify.pep.tightness import solve, tightness  # noqa: E402


def _plain_gd_convex(N: int, L: float = 1.0, R: float = 1.0):
    """Gradient descent, γ = 1/L, N steps on L-smooth convex f with ‖x0 − x*‖ ≤ R; measure f(x_N) − f*."""
    def build() -> Built:
        pep = PEP()
        f = pep.declare_function(SmoothConvexFunction, L=L)
        x_star = f.stationary_point()
        x0 = pep.set_initial_point()
        pep.set_initial_condition((x0 - x_star) ** 2 <= R**2)
        x = x0
        for _ in range(N):
            x = x - (1 / L) * f.gradient(x)
        pep.set_performance_metric(f(x) - f(x_star))
        return Built(pep, "exact")
    return build


@pytest.mark.parametrize("N", [1, 2, 3])
def test_classic_gradient_descent_rate_is_reproduced(N):
    """Drori & Teboulle (2014), PEPit's gradient_descent example: for γ = 1/L the tight worst case is L R²/(4N + 2)."""
    solved = solve(_plain_gd_convex(N, L=2.0, R=1.5))
    assert solved.value == pytest.approx(2.0 * 1.5**2 / (4 * N + 2), rel=1e-6)
    assert solved.solver == "CLARABEL" and solved.accuracy < 1e-6


@pytest.mark.parametrize("p", [0.5, 0.9])
@pytest.mark.parametrize("T", [1, 2, 3])
def test_two_block_gd_nc_attains_the_bound_under_the_telescoped_condition(p, T):
    row = tightness("gd-nc", two_block(p), p, T, "telescoped")
    assert row.bound == pytest.approx(2 / (min(p, 1 - p) * T))  # 2 Δ0/(γ λ_min^p T), γ = 1/L = 1, Δ0 = 1
    assert row.verdict == "tight" and row.nature == "exact"
    assert row.worst_case == pytest.approx(row.bound, rel=1e-5)


def test_gap_condition_is_loose_and_symmetric_in_p():
    """Swapping the blocks (p ↔ 1 − p) is a relabelling: the worst case must not change."""
    a = tightness("gd-nc", two_block(0.3), 0.3, 2, "gap")
    b = tightness("gd-nc", two_block(0.7), 0.7, 2, "gap")
    assert a.worst_case == pytest.approx(b.worst_case, rel=1e-5)
    assert a.verdict == "holds" and a.ratio > 1.5  # with f(x0) - f* <= 1 the bound is loose


def test_bound_scaled_by_0_9_is_reported_violated(capsys):
    assert main(["pep", "gd-nc", "--T", "2", "--p", "0.7", "--initial", "telescoped", "--bound-scale", "0.9"]) == 1
    out = capsys.readouterr().out
    assert "violated: gd-nc (two-block, p=0.7, T=2, telescoped)" in out
    assert main(["pep", "gd-nc", "--T", "2", "--p", "0.7", "--initial", "telescoped"]) == 0
    assert "violated" not in capsys.readouterr().out


def test_a_relaxed_class_never_reports_violated():
    row = tightness("gd-nc", two_block(0.5), 0.5, 1, "gap", bound_scale=0.1)
    assert row.worst_case > row.bound and row.verdict == "inconclusive"


def test_one_step_descent_is_tight_and_a_stronger_claim_is_violated():
    row = tightness("gd-nc", two_block(0.7), 0.7, 1, "one-step")
    assert row.worst_case == pytest.approx(-0.3 / 2, rel=1e-6) and row.verdict == "tight"  # -γ λ_min^p / 2
    stronger = tightness("gd-nc", two_block(0.7), 0.7, 1, "one-step", bound_scale=0.9)
    assert stronger.bound == pytest.approx(-0.15 / 0.9) and stronger.verdict == "violated"


def test_polyak_one_step_exact_value():
    """At ‖g‖ = L0, δ = 1 the exact change of the H^-1 distance is −ρ(2 − ρ)/L0², ρ = λ_min^p/λ_max^p.

    The bound is −ρ/L0², so the ratio is 2 − ρ."""
    rho = 0.1 / 0.9
    row = tightness("ns-polyak", two_block(0.9), 0.9, 1, "one-step")
    assert row.worst_case == pytest.approx(-rho * (2 - rho), rel=1e-6)
    assert row.ratio == pytest.approx(2 - rho, rel=1e-6) and row.verdict == "holds"


def test_grid_sketch_gd_nc_is_tight_too():
    s = grid(0.9, 2, 1, 1)  # isotropic: λ = 0.9/2 + 0.1
    row = tightness("gd-nc", s, 0.9, 2, "telescoped")
    assert row.bound == pytest.approx(2 / (0.55 * 2)) and row.verdict == "tight"


def test_bad_inputs_exit_2():
    assert main(["pep", "gd-nc", "--initial", "distance"]) == 2
    assert main(["pep", "mvr-nc"]) == 2
    assert main(["pep", "gd-nc", "--T", "9", "--p", "0.5", "--initial", "telescoped"]) == 2  # 512 branches


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.99])
def test_two_block_gd_nc_tight_at_T4(p):
    row = tightness("gd-nc", two_block(p), p, 4, "telescoped")
    assert row.verdict == "tight"
