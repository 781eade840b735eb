"""``verify assumptions``: each estimator on the correct side of the certified constants of the built-in families,
tight where the supremum is attained, and each kind of violation caught with a witness.

Bounds from sampling are one-sided: a sampled ``L``, ``L0``, ``Lms``, ``L_max`` is a lower bound (asserted
``<=`` the certified value, up to rounding), the smallest sampled PŁ ratio an upper estimate of ``mu``
(asserted ``>=``).  Where the supremum is attained (isotropic quadratic everywhere, least squares along the
top eigenvector, ``‖subgradient‖ = L0`` off the kinks) the estimate is asserted within a stated factor.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import theorems
from verify.assumptions import NAMES, Budget, add_parser, check_assumptions, main
from verify.assumptions.adapter import adapt
from verify.compressors import RandK
from verify.problems import make, transpose

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the examples/ folder lives at the repository root
    sys.path.insert(0, str(ROOT))

from examples.double_well import DoubleWell  # noqa: E402
from examples.my_problem import make_problem  # noqa: E402

ROUND = 1e-6  # relative rounding allowance of a sampled secant ratio against a closed-form constant

FAMILIES = ["isotropic-quadratic", "isotropic-quadratic:sigma=0.5", "least-squares",
            "least-squares:noise=0.5,sigma=0.3", "nonconvex-reg", "pl-sine", "federated-ls", "l1-regression",
            "norm-distance"]


@functools.cache
def report(spec: str):
    return check_assumptions(make(spec), compressor="rand-k:k=4", seed=1)


def status(rep, name: str) -> str:
    return rep.findings[name].status


def est(rep, name: str) -> dict:
    return dict(rep.findings[name].estimate)


# ------------------------------------------------------------------------------------------------------------------
# Estimates on the correct side of the certified constants
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", FAMILIES)
def test_estimates_on_the_correct_side(spec):
    p, rep = make(spec), report(spec)
    c = {k: v.value for k, v in p.constants.items()}
    assert status(rep, "oracle") == "holds"
    if "L" in c:
        assert status(rep, "smooth") == "holds"
        assert est(rep, "smooth")["L"] <= c["L"] * (1 + ROUND)
    if "mu" in c:
        assert status(rep, "pl") == "holds"
        assert est(rep, "pl")["mu"] >= c["mu"] * (1 - ROUND)
    if "L0" in c:
        assert status(rep, "lipschitz") == "holds"
        assert est(rep, "lipschitz")["L0"] <= c["L0"] * (1 + ROUND)
    if "Lms" in c:
        assert est(rep, "mean_square_smooth")["confidence_interval"][0] <= c["Lms"] * (1 + ROUND)
    if "sigma2" in c:
        assert status(rep, "bounded_variance") == "holds"
        lo, hi = est(rep, "bounded_variance")["confidence_interval"]
        assert lo <= c["sigma2"] <= hi * 1.2
    if "var_A" in c:
        # the fitted line is the lowest above the upper confidence bounds; the certified line lies above the true
        # variance, so at the fitting gap it is not below the fitted one by more than the confidence slack
        e = est(rep, "expected_smoothness")
        g = e["fitted_at_gap"]
        assert 2 * e["A"] * g + e["C"] <= 1.25 * (2 * c["var_A"] * g + c["var_C"]) + 1e-9
    if "L_max" in c and "L_tilde" in c:
        e = est(rep, "federated")
        assert e["L_max"] <= c["L_max"] * (1 + ROUND) and e["L_tilde"] <= c["L_tilde"] * (1 + ROUND)
    lb = est(rep, "lower_bounded")
    f0 = float(p.f(p.W0[None])[0])
    if p.constants["f_star"].kind == "exact":
        assert lb["Delta0"] == pytest.approx(f0 - c["f_star"], rel=1e-12)
    else:  # certified lower bound: the solver's f* is an upper estimate of inf f, so Delta0 is at most the certified
        assert lb["Delta0"] <= f0 - c["f_star"]


def test_tight_where_the_supremum_is_attained():
    iso = report("isotropic-quadratic")  # ||grad f(x) - grad f(y)|| = L ||x - y|| and PL ratio = L everywhere
    assert est(iso, "smooth")["L"] == pytest.approx(1.0, rel=1e-9)
    assert est(iso, "pl")["mu"] == pytest.approx(1.0, rel=1e-9)
    ls = report("least-squares")  # power iteration reaches the top eigenvector; descent aligns with the bottom one
    assert est(ls, "smooth")["L"] >= 0.99 * 1.0
    assert est(ls, "pl")["mu"] <= 1.1 * 0.1
    for spec in ("l1-regression", "norm-distance"):  # every subgradient off the kinks has norm exactly L0
        assert est(report(spec), "lipschitz")["L0"] == pytest.approx(make(spec).constants["L0"].value, rel=1e-9)
    fed, c = report("federated-ls"), make("federated-ls").constants
    assert est(fed, "federated")["L_max"] >= 0.99 * c["L_max"].value
    assert est(fed, "federated")["Delta_inf"] == pytest.approx(c["Delta_inf"].value, rel=1e-6)
    noisy = report("isotropic-quadratic:sigma=0.5")  # additive noise: V = sigma^2 m n exactly, Lms = L
    e = est(noisy, "expected_smoothness")  # the line may tilt within the confidence slack of far points
    assert e["A"] <= 1e-3 and 2 * e["A"] * e["fitted_at_gap"] + e["C"] == pytest.approx(0.25 * 96, rel=0.15)
    assert est(noisy, "mean_square_smooth")["Lms"] == pytest.approx(1.0, rel=1e-6)


def test_projection_interval_contains_the_closed_form():
    e = est(report("least-squares"), "positive_expected_projection")
    lo, hi = e["lambda_min_p_interval"]
    assert lo <= e["closed_form"]["lambda_min_p"] <= hi and lo > 0


# ------------------------------------------------------------------------------------------------------------------
# Violations, each with a witness
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["l1-regression", "norm-distance"])
def test_non_smooth_is_not_L_smooth(spec):
    f = report(spec).findings["smooth"]
    assert f.status == "violated"
    w = f.witness
    x, y = np.array(w["x"]), np.array(w["y"])
    g = make(spec).grad(np.stack([x, y]))
    assert np.linalg.norm(g[0] - g[1]) / np.linalg.norm(x - y) == pytest.approx(w["ratio"], rel=1e-6)
    # the ratio grows like 1/distance over the sweep: at least 1000-fold from the first recorded distance
    ratios = [r for _, r in w["ratio_by_distance"]]
    assert ratios[-1] >= 500 * ratios[0]


@pytest.mark.parametrize("spec", ["nonconvex-reg", "pl-sine"])
def test_non_convex_is_not_convex(spec):
    f = report(spec).findings["convex"]
    assert f.status == "violated"
    p, w = make(spec), f.witness
    x, y = np.array(w["x"]), np.array(w["y"])
    fx, fy = p.f(np.stack([x, y]))
    if w["test"].startswith("midpoint"):
        gap = 0.5 * (fx + fy) - p.f(0.5 * (x + y)[None])[0]
    else:
        gap = fy - fx - np.sum(p.grad(x[None])[0] * (y - x))
    assert gap == pytest.approx(w["gap"], rel=1e-6) and gap < -1e-6 * abs(fx)


def test_expected_statuses_and_theorems():
    ls, noisy = report("least-squares"), report("least-squares:noise=0.5,sigma=0.3")
    assert status(ls, "bounded_variance") == "violated"  # row sampling: variance grows with ||W||
    assert status(noisy, "bounded_variance") == "holds"
    assert status(ls, "lipschitz") == "violated" and status(report("pl-sine"), "pl") == "holds"
    assert set(ls.applicable) == {"gd-nc", "gd-pl", "sgd-nc", "sgd-pl", "page-nc", "page-pl"}
    for spec in ("l1-regression", "norm-distance"):  # convex and Lipschitz, not smooth
        assert set(report(spec).applicable) == {"ns-const", "ns-polyak"}
    fed = set(report("federated-ls").applicable)  # rand-k is unbiased, not contractive: no EF21
    assert {"qgd-pl", "marina-pl"} <= fed and "ef21-pl" not in fed
    top = set(check_assumptions(make("federated-ls"), compressor="top-k:k=8", budget=FAST).applicable)
    assert "ef21-pl" in top and "qgd-pl" not in top
    for spec in FAMILIES:
        rep = report(spec)
        registry = theorems.registry()
        for tid in rep.applicable:
            assert all(status(rep, a) == "holds" for a in registry[tid].assumptions)
            assert all(v is not None for v in rep.constants[tid].values())


def test_norm_distance_is_not_pl_because_the_ratio_decays():
    f = report("norm-distance").findings["pl"]
    assert f.status == "violated" and f.witness["kind"] == "ratio decays along a ray"
    r = f.witness["ratios"]
    assert r[-1] < 0.05 * r[0]  # ratio = L0 / (2 ||W - W*||)


def test_double_well_has_a_non_global_stationary_point():
    for problem in (DoubleWell(), _without_f_star(DoubleWell())):
        rep = check_assumptions(problem, seed=3)
        f = rep.findings["pl"]
        assert f.status == "violated" and f.witness["kind"] == "non-global stationary point"
        W = np.array(f.witness["point"])
        assert np.linalg.norm(problem.grad(W)) < 1e-6 and problem.f(W) - f.witness["f_star"] > 1.0
        assert status(rep, "convex") == "violated" and "gd-pl" not in rep.applicable


def _without_f_star(problem):
    class NoFStar:
        shape, W0 = problem.shape, problem.W0
        f, grad = staticmethod(problem.f), staticmethod(problem.grad)
    return NoFStar()


class Quartic:
    """``f(W) = Σ w⁴/4 − ⟨A, W⟩``; ``grad`` can be made wrong."""

    def __init__(self, wrong: str = "") -> None:
        self.shape = (3, 4)
        self.A = np.arange(12.0).reshape(3, 4) / 10
        self.wrong = wrong

    def f(self, W):
        return float(np.sum(W**4) / 4 - np.sum(self.A * W))

    def grad(self, W):
        if self.wrong == "other function":  # the gradient of sum(W^2)/2 - <A, W>
            return W - self.A
        if self.wrong == "one entry":
            G = W**3 - self.A
            G[1, 2] *= 1.01
            return G
        return W**3 - self.A


@pytest.mark.parametrize("wrong", ["other function", "one entry"])
def test_wrong_gradient_is_caught(wrong):
    f = check_assumptions(Quartic(wrong), budget=FAST).findings["oracle"]
    assert f.status == "violated" and f.witness["test"].startswith("grad vs central finite differences")
    assert f.witness["relative_error"] > 1e-4
    assert status(check_assumptions(Quartic(), budget=FAST), "oracle") == "holds"


FAST = Budget(points=2, power_iters=20, gd_steps=100, solver_starts=3, solver_iters=200, bias_samples=200,
              variance_samples=64, mss_samples=32, compressor_samples=1000, projection_samples=1000)


class NoisyQuadratic:
    """``f = ½‖W‖²`` with ``g = W + bias + N(0, 1)`` noise; the noise source can be the wrong one."""

    shape = (3, 2)

    def __init__(self, bias: float = 0.0, own_rng: bool = True) -> None:
        self.bias, self.own_rng = bias, own_rng
        self.W0 = np.ones(self.shape)
        self._global = np.random.default_rng(123)

    def f(self, W):
        return 0.5 * float(np.sum(W * W))

    def grad(self, W):
        return W

    def stochastic_grad(self, W, rng):
        noise = (rng if self.own_rng else self._global).standard_normal(self.shape)
        return W + self.bias + noise


def test_biased_stochastic_gradient_is_caught():
    good = check_assumptions(NoisyQuadratic(), budget=FAST, seed=2)
    assert status(good, "oracle") == "holds" and status(good, "bounded_variance") == "holds"
    assert est(good, "bounded_variance")["confidence_interval"][0] <= 6.0  # sigma^2 = m n = 6
    bad = check_assumptions(NoisyQuadratic(bias=0.5), budget=FAST, seed=2).findings["oracle"]
    assert bad.status == "violated" and bad.witness["test"].startswith("stochastic gradient unbiased")
    lo, hi = bad.witness["confidence_interval"]
    assert not lo <= bad.witness["grad"] <= hi


def test_noise_not_drawn_from_rng_is_caught():
    rep = check_assumptions(NoisyQuadratic(own_rng=False), budget=FAST)
    assert rep.findings["oracle"].witness["test"] == "stochastic_grad reproducible from its rng"
    assert status(rep, "mean_square_smooth") == "unverified"


def test_unbounded_below_has_no_minimiser():
    class Linear:
        shape = (2, 2)

        def f(self, W):
            return float(W.sum())

        def grad(self, W):
            return np.ones((2, 2))

    rep = check_assumptions(Linear(), budget=FAST)
    assert status(rep, "lower_bounded") == "violated" and rep.findings["lower_bounded"].witness["f"] < -1e9
    assert status(rep, "convex") == "violated" and status(rep, "pl") == "unverified" and rep.applicable == ()


def test_compressor_checks():
    rep = report("least-squares")
    e = est(rep, "compressor")
    assert status(rep, "compressor") == "holds" and e["omega"] == 96 / 4 - 1
    lo, hi = e["sampled_ratio_ci"]
    assert lo <= e["omega"] <= hi  # rand-k attains omega on every X

    class Understated(RandK):
        def omega(self, d):
            return 0.5 * super().omega(d)

    f = check_assumptions(make("isotropic-quadratic"), compressor=Understated(4), budget=FAST).findings["compressor"]
    assert f.status == "violated" and f.witness["ratio_mean_lower_upper"][1] > f.witness["closed_form"]["omega"]
    top = check_assumptions(make("isotropic-quadratic"), compressor="top-k:k=8", budget=FAST)
    e = est(top, "compressor")
    assert e["alpha_c"] == 8 / 96 and e["ratio_by_matrix"]["equal_magnitudes"] == pytest.approx(1 - 8 / 96)


def test_degenerate_sketch_violates_assumption_1():
    f = check_assumptions(make("isotropic-quadratic"), sketch="degenerate", r=2, budget=FAST).findings[
        "positive_expected_projection"]
    assert f.status == "violated" and f.estimate["lambda_min_p_interval"][0] == 0.0
    assert "positive_expected_projection" not in {n for n, g in report("least-squares").findings.items()
                                                    if g.status != "holds"}


class Clients:
    """``f = (1/M) Σ_i (s_i/2)‖W − C_i‖²`` as clients and as components: ``L_i = s_i``, ``f_i* = 0``,
    ``Ŵ = Σ s_i C_i / Σ s_i`` and ``Delta_inf = f(Ŵ)``."""

    shape = (2, 3)

    def __init__(self, offset: float = 0.0) -> None:
        rng = np.random.default_rng(7)
        self.s, self.C, self.offset = np.array([1.0, 2.0, 4.0]), rng.standard_normal((3, 2, 3)), offset
        self.n_clients = self.n_components = 3

    def f(self, W):
        return float(np.mean([0.5 * s * np.sum((W - C) ** 2) for s, C in zip(self.s, self.C, strict=True)]))

    def grad(self, W):
        return np.mean([s * (W - C) for s, C in zip(self.s, self.C, strict=True)], axis=0)

    def client_grad(self, W, i):
        return self.s[i] * (W - self.C[i]) + self.offset

    component_grad = client_grad


def test_user_clients_and_components():
    p = Clients()
    rep = check_assumptions(p, budget=FAST, compressor="rand-k:k=2")
    e = est(rep, "federated")
    W_hat = np.einsum("i,ijk->jk", p.s, p.C) / p.s.sum()
    assert status(rep, "federated") == "holds" and e["M"] == 3
    assert e["L_max"] == pytest.approx(4.0, rel=1e-9) and e["Delta_inf"] == pytest.approx(p.f(W_hat), rel=1e-6)
    assert status(rep, "oracle") == "holds" and status(rep, "expected_smoothness") == "holds"  # components sampled
    assert "qgd-pl" in rep.applicable
    bad = check_assumptions(Clients(offset=0.1), budget=FAST).findings["oracle"]
    assert bad.status == "violated" and bad.witness["test"] == "components average to the gradient"


# ------------------------------------------------------------------------------------------------------------------
# Errors in the user's code, and the adapter
# ------------------------------------------------------------------------------------------------------------------


class Fragile:
    """A quadratic whose oracles fail in places."""

    shape = (3, 3)

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def f(self, W):
        if self.mode == "nan far" and np.linalg.norm(W) > 40:
            return float("nan")
        return 0.5 * float(np.sum(W * W))

    def grad(self, W):
        if self.mode == "raise far" and np.linalg.norm(W) > 40:
            raise ValueError("out of domain")
        if self.mode == "shape":
            return W.ravel()
        return W


@pytest.mark.parametrize("mode", ["raise far", "nan far", "shape"])
def test_errors_in_user_code_are_reported_per_assumption(mode):
    rep = check_assumptions(Fragile(mode), budget=FAST)
    hit = {n: f for n, f in rep.findings.items() if f.witness is not None and "error" in f.witness}
    assert hit, "some check must report the error"
    for f in hit.values():
        assert f.status == "unverified" and f.witness["point"] is not None
        if mode != "shape":
            assert np.linalg.norm(f.witness["point"]) > 40  # the point where it happened
    assert status(rep, "positive_expected_projection") == "holds"  # the run went on
    if mode == "shape":
        assert "shape" in hit["smooth"].confidence
    else:
        assert status(rep, "oracle") == "holds" and status(rep, "convex") == "holds"


def test_user_object_and_batched_problem_agree():
    """Metamorphic: a built-in problem called one matrix at a time gives the same estimates as the batched one."""
    p = make("pl-sine")

    class Unbatched:
        shape, W0, f_star = p.shape, p.W0, 0.0

        def f(self, W):
            return float(p.f(W[None])[0])

        def grad(self, W):
            return p.grad(W[None])[0]

    a, b = check_assumptions(p, seed=5, budget=FAST), check_assumptions(Unbatched(), seed=5, budget=FAST)
    for name in NAMES:
        assert a.findings[name].status == b.findings[name].status, name
    assert est(a, "smooth")["L"] == pytest.approx(est(b, "smooth")["L"], rel=1e-9)
    assert est(a, "pl")["mu"] == pytest.approx(est(b, "pl")["mu"], rel=1e-9)
    assert adapt(Unbatched()).origin.startswith("user") and adapt(p).origin == "batched Problem"


def test_metamorphic_transpose_and_rescale():
    """``g(V) = f(Vᵀ)`` has the same constants; ``c·f`` has ``c·L`` and ``c·mu`` (same seed, same points)."""
    base, flipped = report("least-squares"), check_assumptions(transpose(make("least-squares")), seed=1,
                                                                compressor="rand-k:k=4")
    assert {n: f.status for n, f in base.findings.items()} == {n: f.status for n, f in flipped.findings.items()}
    assert est(flipped, "smooth")["L"] == pytest.approx(est(base, "smooth")["L"], rel=1e-3)
    assert est(flipped, "pl")["mu"] == pytest.approx(est(base, "pl")["mu"], rel=0.1)
    p = make("least-squares")

    class Scaled:
        shape, W0 = p.shape, p.W0

        def __init__(self, c):
            self.c, self.f_star = c, 0.0

        def f(self, W):
            return self.c * float(p.f(W[None])[0])

        def grad(self, W):
            return self.c * p.grad(W[None])[0]

    one, ten = (check_assumptions(Scaled(c), seed=4, budget=FAST) for c in (1.0, 10.0))
    assert est(ten, "smooth")["L"] == pytest.approx(10 * est(one, "smooth")["L"], rel=1e-6)
    assert est(ten, "pl")["mu"] == pytest.approx(10 * est(one, "pl")["mu"], rel=1e-2)


# ------------------------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    """``MODULE:FACTORY`` is imported relative to the current directory, as on the command line."""
    monkeypatch.chdir(ROOT)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_theorem_assumption_is_checked():
    assert set(theorems.ASSUMPTIONS) | {"oracle"} == set(NAMES)
    assert all(set(t.assumptions) <= set(NAMES) for t in theorems.registry().values())


def test_json_output_schema(capsys):
    code, out, err = _run(capsys, "builtin:least-squares:noise=0.5", "--json", "--compressor", "rand-k:k=4")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"assumptions", "applicable_theorems", "constants"}
    assert set(data["assumptions"]) == set(NAMES)
    for entry in data["assumptions"].values():
        assert set(entry) == {"status", "estimate", "method", "witness"}
        assert entry["status"] in ("holds", "violated", "unverified") and "Confidence:" in entry["method"]
    assert set(data["constants"]) == set(data["applicable_theorems"]) <= set(theorems.registry())
    assert data["constants"]["gd-pl"]["L"] == data["assumptions"]["smooth"]["estimate"]["L"]


def test_example_problem_table_and_time(capsys):
    start = time.perf_counter()
    code, out, err = _run(capsys, "examples.my_problem:make_problem")
    assert code == 0, err
    assert time.perf_counter() - start < 10
    assert "lower bound" in out and "Applicable theorems" in out and "gd-pl" in out
    assert "Methods and confidence" not in out and "--verbose" in out and len(out.splitlines()) <= 45
    assert make_problem().shape == (12, 8)
    code, verbose, err = _run(capsys, "examples.my_problem:make_problem", "--verbose")
    assert code == 0, err
    methods = verbose.split("Methods and confidence:")[1]
    assert "Confidence:" in methods and len(verbose.splitlines()) > len(out.splitlines()) + 10


@pytest.mark.parametrize("argv, needle", [
    (["no_such_module_xyz:make"], "cannot import module"),
    (["examples.my_problem:no_factory"], "has no attribute"),
    (["examples.my_problem:np"], "not callable"),
    (["examples.my_problem"], "MODULE:FACTORY"),
    (["verify.errors:UserError"], "no callable f(W)"),
    (["builtin:least-squares", "--r", "0"], "--r"),
    (["builtin:least-squares", "--r", "9"], "rank r=9"),
    (["builtin:least-squares", "--p", "1.5"], "--p"),
    (["builtin:least-squares", "--compressor", "rand-k:k=500"], "k=500"),
    (["builtin:least-squares", "--sketch", "nope"], "unknown sketch"),
    (["builtin:no-such-problem"], "unknown problem"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_add_parser_wires_into_a_verify_parser(capsys):
    parser = argparse.ArgumentParser(prog="verify")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["assumptions", "builtin:isotropic-quadratic:m=3,n=2", "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["applicable_theorems"] == ["gd-nc", "gd-pl"]
