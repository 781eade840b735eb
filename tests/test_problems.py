"""Tests of verify.problems: oracles against finite differences and direct formulas, constants proved."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from verify.errors import UserError
from verify.problems import (
    CONSTANT_KEYS,
    Constant,
    Problem,
    describe,
    from_functions,
    make,
    names,
    transpose,
)
from verify.problems.nonconvex_reg import regularizer_hess

SPECS = [
    "isotropic-quadratic",
    "isotropic-quadratic:m=3,n=5,L=2.5,seed=3",
    "least-squares",
    "least-squares:m=5,n=3,N=5,kappa=100,spectrum=linear,noise=0.3,seed=2",
    "least-squares:m=1,n=4,N=3,kappa=1,noise=1.0",
    "nonconvex-reg",
    "nonconvex-reg:m=3,n=5,N=40,lam=0.5,noise=1.0,effective_rank=2.5,seed=7",
    "isotropic-quadratic:m=3,n=2,sigma=0.7,seed=1",
    "least-squares:m=4,n=3,N=9,sigma=0.5,seed=5",
    "pl-sine",
    "pl-sine:m=3,n=4,cond=5,seed=2",
    "federated-ls",
    "federated-ls:m=3,n=2,M=3,N_i=5,kappa=2,hetero=0,noise=0,seed=1",
    "l1-regression",
    "l1-regression:m=3,n=2,N=6,seed=4",
    "norm-distance",
    "norm-distance:m=2,n=5,L0=3,seed=1",
]


@functools.cache
def built(spec: str) -> Problem:
    return make(spec)


@functools.cache
def built_any(spec: str) -> Problem:
    """``spec`` or, with a ``^T`` suffix, its transpose."""
    return transpose(built(spec[:-2])) if spec.endswith("^T") else built(spec)


ALL = SPECS + [s + "^T" for s in SPECS]


def points(problem: Problem, R: int, seed: int) -> np.ndarray:
    """``R`` points around ``W0`` at scales from 1e-2 to 10 (per-entry standard deviation)."""
    rng = np.random.default_rng(seed)
    scale = np.logspace(-2, 1, R)[:, None, None]
    return problem.W0 + scale * rng.standard_normal((R, *problem.shape))


def fd_error(problem: Problem, W: np.ndarray, seed: int, h: float = 1e-5) -> np.ndarray:
    """``|(f(W+hD) − f(W−hD))/(2h) − ⟨∇f(W), D⟩| / ‖∇f(W)‖`` for random unit directions ``D``."""
    D = np.random.default_rng(seed).standard_normal(W.shape)
    D /= np.linalg.norm(D, axis=(1, 2), keepdims=True)
    G = problem.grad(W)
    fd = (problem.f(W + h * D) - problem.f(W - h * D)) / (2 * h)
    return np.abs(fd - np.einsum("rij,rij->r", G, D)) / np.maximum(np.linalg.norm(G, axis=(1, 2)), 1e-300)


# ---------------------------------------------------------------- every family: oracles


@pytest.mark.parametrize("spec", ALL)
def test_shapes_types_and_records(spec):
    p = built_any(spec)
    m, n = p.shape
    W = points(p, 4, 0)
    assert p.W0.shape == (m, n) and not p.W0.flags.writeable
    assert p.f(W).shape == (4,) and p.f(W).dtype == np.float64
    assert p.grad(W).shape == (4, m, n) and p.grad(W).dtype == np.float64
    keys = set(p.constants)
    assert keys <= set(CONSTANT_KEYS) and "f_star" in keys
    # Smooth problems certify L; non-smooth ones L0 and R0 instead, with the closest minimiser W_star.
    assert ("L" in keys) != ({"L0", "R0"} <= keys)
    if "L0" in keys:
        assert p.W_star.shape == (m, n) and p.constants["f_star"].kind == "exact"
    # Each optional oracle comes with its constants, and only with them.
    assert hasattr(p, "stochastic_grad") == hasattr(p, "sample_xi") == ({"var_A", "var_C", "Lms"} <= keys)
    assert ("sigma2" in keys) <= hasattr(p, "stochastic_grad")
    assert hasattr(p, "client_grads") == hasattr(p, "clients") == ({"L_tilde", "Delta_inf"} <= keys)
    assert ("L_max" in keys) == (hasattr(p, "N") or hasattr(p, "clients"))
    assert all(isinstance(c, Constant) and c.how for c in p.constants.values())
    json.dumps(dict(p.params))
    with pytest.raises(ValueError, match=r"expected a batch of shape"):
        p.f(p.W0)  # unbatched input is refused, not silently broadcast


@pytest.mark.parametrize("spec", ALL)
def test_gradient_matches_central_differences(spec):
    p = built_any(spec)
    assert fd_error(p, points(p, 12, 1), seed=2).max() < 1e-6


def test_finite_difference_check_catches_a_wrong_gradient():
    p = built("least-squares")
    wrong = from_functions(lambda W: p.f(W[None])[0], lambda W: 1.001 * p.grad(W[None])[0], p.shape)
    # A 0.1% error in the gradient is seen at more than 10 times the tolerance used above.
    assert fd_error(wrong, points(p, 12, 1), seed=2).max() > 1e-5


@pytest.mark.parametrize("spec", ALL)
def test_batched_equals_per_run(spec):
    p = built_any(spec)
    W = points(p, 5, 3)
    f, g = p.f(W), p.grad(W)
    for r in range(len(W)):
        np.testing.assert_allclose(p.f(W[r : r + 1])[0], f[r], rtol=1e-13, atol=0)
        np.testing.assert_allclose(p.grad(W[r : r + 1])[0], g[r], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("spec", SPECS)
def test_construction_is_deterministic(spec):
    a, b = make(spec), make(spec)
    W = points(a, 3, 4)
    assert np.array_equal(a.W0, b.W0) and np.array_equal(a.f(W), b.f(W))
    assert {k: c.value for k, c in a.constants.items()} == {k: c.value for k, c in b.constants.items()}


# ---------------------------------------------------------------- isotropic quadratic


@pytest.mark.parametrize("spec", SPECS[:2])
def test_isotropic_smoothness_and_pl_hold_with_equality(spec):
    p = built(spec)
    L = p.constants["L"].value
    assert p.constants["mu"].value == L and p.constants["f_star"].value == 0.0
    assert p.params["L"] == L and np.all(p.W0 == 0)
    W, V = points(p, 20, 5), points(p, 20, 6)
    D = W - p.W_star
    np.testing.assert_allclose(p.f(W), 0.5 * L * np.sum(D**2, axis=(1, 2)), rtol=1e-13)
    num = np.linalg.norm(p.grad(W) - p.grad(V), axis=(1, 2))
    np.testing.assert_allclose(num / np.linalg.norm(W - V, axis=(1, 2)), L, rtol=1e-12)
    half_sq = 0.5 * np.sum(p.grad(W) ** 2, axis=(1, 2))
    np.testing.assert_allclose(half_sq / p.f(W), L, rtol=1e-12)
    assert p.f(p.W_star[None])[0] == 0.0


# ---------------------------------------------------------------- least squares

LS_SPECS = [s for s in SPECS if s.startswith("least-squares")]


def ls_direct(p, W):
    """``‖XW − Y‖²/(2N)`` and ``Xᵀ(XW − Y)/N`` from the data, not from the problem's Gram form."""
    N = p.X.shape[0]
    res = p.X @ W - p.Y
    return np.sum(res**2, axis=(1, 2)) / (2 * N), p.X.T @ res / N


@pytest.mark.parametrize("spec", LS_SPECS)
def test_least_squares_oracles_equal_the_data_formula(spec):
    p = built(spec)
    W = points(p, 6, 7)
    f, g = ls_direct(p, W)
    np.testing.assert_allclose(p.f(W), f, rtol=1e-11)
    np.testing.assert_allclose(p.grad(W), g, rtol=1e-9, atol=1e-12 * np.abs(g).max())


@pytest.mark.parametrize("spec", LS_SPECS)
def test_least_squares_spectrum_is_the_prescribed_one(spec):
    p = built(spec)
    m, N = p.shape[0], p.X.shape[0]
    L, kappa = p.params["L"], p.params["kappa"]
    if m == 1:
        expected = np.array([L])
    elif p.params["spectrum"] == "geometric":
        expected = np.geomspace(L / kappa, L, m)
    else:
        expected = np.linspace(L / kappa, L, m)
    eig = np.linalg.eigvalsh(p.X.T @ p.X / N)
    np.testing.assert_allclose(eig, expected, rtol=1e-10)
    assert p.constants["L"].value == pytest.approx(eig[-1], rel=1e-10)
    assert p.constants["mu"].value == pytest.approx(eig[0], rel=1e-10)
    assert p.constants["mu"].value == pytest.approx(L / kappa, rel=1e-12)
    assert all(p.constants[k].kind == "exact" for k in ("L", "mu", "f_star"))


@pytest.mark.parametrize("spec", LS_SPECS)
def test_least_squares_pl_holds_everywhere_and_is_attained(spec):
    p = built(spec)
    mu, f_star = p.constants["mu"].value, p.constants["f_star"].value
    rng = np.random.default_rng(8)
    R = 400
    W = p.W_hat + np.logspace(-4, 1, R)[:, None, None] * rng.standard_normal((R, *p.shape))
    gap = p.f(W) - f_star
    half_sq = 0.5 * np.sum(p.grad(W) ** 2, axis=(1, 2))
    assert np.all(gap > 0)
    # f − f* is a difference of floats: its absolute rounding error is a few eps·f*.
    rounding = 8 * np.finfo(float).eps * f_star
    assert np.all(half_sq >= mu * (gap * (1 - 1e-10) - rounding))
    # Attained: along the eigenvector of the smallest eigenvalue the PŁ ratio is exactly mu.
    N = p.X.shape[0]
    _, vecs = np.linalg.eigh(p.X.T @ p.X / N)
    u = rng.standard_normal(p.shape[1])
    W_min = p.W_hat + np.outer(vecs[:, 0], u)[None] * np.array([1e-3, 1.0, 30.0])[:, None, None]
    ratio = 0.5 * np.sum(p.grad(W_min) ** 2, axis=(1, 2)) / (p.f(W_min) - f_star)
    np.testing.assert_allclose(ratio, mu, rtol=1e-8)


@pytest.mark.parametrize("spec", LS_SPECS)
def test_least_squares_f_star_is_the_minimum(spec):
    p = built(spec)
    f_star = p.constants["f_star"].value
    W_ls = np.linalg.lstsq(p.X, p.Y, rcond=None)[0]
    f_ls, g_ls = ls_direct(p, W_ls[None])
    assert f_star == pytest.approx(f_ls[0], rel=1e-10, abs=1e-14)
    assert np.abs(g_ls).max() < 1e-12
    assert p.f(W_ls[None])[0] == pytest.approx(f_star, rel=1e-10, abs=1e-14)
    f_rand, _ = ls_direct(p, points(p, 200, 9))
    assert np.all(f_rand >= f_star)
    if p.params["noise"] == 0.0:
        assert f_star == 0.0


# ---------------------------------------------------------------- §7.1 non-convex regression

NC_SPECS = [s for s in SPECS if s.startswith("nonconvex-reg")]


def nc_direct(p, W):
    """``‖Ax − b‖²/(2N) + lam Σ x²/(1+x²)`` from the data ``A, b``."""
    x = W.reshape(len(W), -1)
    N = p.A.shape[0]
    return np.sum((x @ p.A.T - p.b) ** 2, axis=1) / (2 * N) + p.lam * np.sum(x**2 / (1 + x**2), axis=1)


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_oracles_equal_the_data_formula(spec):
    p = built(spec)
    W = points(p, 6, 10)
    np.testing.assert_allclose(p.f(W), nc_direct(p, W), rtol=1e-10)
    x = W.reshape(6, -1)
    N = p.A.shape[0]
    g = (x @ p.A.T - p.b) @ p.A / N + p.lam * 2 * x / (1 + x**2) ** 2
    np.testing.assert_allclose(p.grad(W).reshape(6, -1), g, rtol=1e-8, atol=1e-10 * np.abs(g).max())


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_value_and_grad_is_f_and_grad(spec):
    """The runner's one-call oracle (value from the gradient's Gram product) equals f and grad, also at x̂."""
    p = built(spec)
    W = np.concatenate([points(p, 6, 11), p.x_hat.reshape(1, *p.shape)])
    value, grad = p.value_and_grad(W)
    np.testing.assert_allclose(value, p.f(W), rtol=1e-12)
    np.testing.assert_allclose(grad, p.grad(W), rtol=1e-12, atol=1e-14 * np.abs(grad).max())
    assert np.all(value >= p.f_star)  # the quadratic part is clipped at 0, never below f_LS*


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_data_and_constants(spec):
    p = built(spec)
    N, d = p.A.shape
    assert d == p.shape[0] * p.shape[1] and N == p.params["N"]
    assert p.A.mean() == pytest.approx(1.0) and p.A.std() == pytest.approx(2.0)
    assert p.b.mean() == pytest.approx(1.0) and p.b.std() == pytest.approx(2.0)
    lam_max = np.linalg.eigvalsh(p.A.T @ p.A / N)[-1]
    if p.params["lam_rule"] == "auto":
        assert p.lam == pytest.approx(lam_max, rel=1e-10)
    else:
        assert p.lam == p.params["lam"]
    assert p.constants["L"].value == pytest.approx(lam_max + 2 * p.lam, rel=1e-10)
    assert "mu" not in p.constants and p.constants["f_star"].kind == "lower"
    assert p.params["pretrain_grad_sq"] < 1e-8 and p.params["pretrain_iters"] <= 10_000


def test_nonconvex_default_effective_rank_is_d_over_8():
    assert built("nonconvex-reg").params["effective_rank"] == 64 // 8


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_secants_never_exceed_L_and_reach_it_at_zero(spec):
    p = built(spec)
    L = p.constants["L"].value
    rng = np.random.default_rng(11)
    R = 300
    X = points(p, R, 12)
    scale = np.logspace(-6, 1, R)[:, None, None]
    # Partners near every point, and pairs straddling x_j = ±1 where the regulariser's curvature is −lam/2.
    Y = X + scale * rng.standard_normal(X.shape)
    X2 = np.sign(rng.standard_normal(X.shape)) + 0.3 * rng.standard_normal(X.shape)
    Y2 = X2 + 1e-3 * rng.standard_normal(X.shape)
    for A_, B_ in ((X, Y), (X2, Y2)):
        ratio = np.linalg.norm(p.grad(A_) - p.grad(B_), axis=(1, 2)) / np.linalg.norm(A_ - B_, axis=(1, 2))
        assert ratio.max() <= L * (1 + 1e-9)
    # L is the exact sup: at x = 0 along the top eigenvector of AᵀA/N the secant ratio tends to L.
    top = np.linalg.eigh(p.G)[1][:, -1].reshape(p.shape)
    t = np.array([1e-6, 1e-4])[:, None, None]
    ratio0 = np.linalg.norm(p.grad(t * top) - p.grad(-t * top), axis=(1, 2)) / (2 * t[:, 0, 0])
    np.testing.assert_allclose(ratio0, L, rtol=1e-6)


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_f_star_is_a_lower_bound(spec):
    p = built(spec)
    f_star = p.constants["f_star"].value
    N = p.A.shape[0]
    x_ls = np.linalg.lstsq(p.A, p.b, rcond=None)[0]
    assert f_star == pytest.approx(np.sum((p.A @ x_ls - p.b) ** 2) / (2 * N), rel=1e-9)
    assert np.all(nc_direct(p, points(p, 300, 13)) >= f_star)
    assert nc_direct(p, x_ls.reshape(1, *p.shape))[0] >= f_star


@pytest.mark.parametrize("spec", NC_SPECS)
def test_nonconvex_gd_iterates_descend_and_stay_above_f_star(spec):
    p = built(spec)
    L, f_star = p.constants["L"].value, p.constants["f_star"].value
    W = points(p, 6, 14)
    W[0] = p.W0
    f = p.f(W)
    for _ in range(300):
        g = p.grad(W)
        W = W - g / L
        f_new = p.f(W)
        # Descent lemma with the certified L: f(W − g/L) ≤ f(W) − ‖g‖²/(2L).
        assert np.all(f_new <= f - np.sum(g**2, axis=(1, 2)) / (2 * L) + 1e-12 * np.abs(f))
        assert np.all(nc_direct(p, W) >= f_star)
        f = f_new


def test_regularizer_curvature_lies_in_minus_half_to_two():
    # φ(t) = t²/(1+t²); the problem's Hessian bound needs φ'' ∈ [−1/2, 2].  Beyond |t| = 10, |φ''| ≤ 6/t⁴.
    h = 1e-4
    t = np.arange(-10.0, 10.0 + h / 2, h)
    phi = t**2 / (1 + t**2)
    second = (phi[2:] - 2 * phi[1:-1] + phi[:-2]) / h**2
    assert second.max() <= 2 + 1e-6 and second.min() >= -0.5 - 1e-6
    assert second.max() == pytest.approx(2, abs=1e-6) and second.min() == pytest.approx(-0.5, abs=1e-6)
    assert t[1:-1][second.argmin()] ** 2 == pytest.approx(1, abs=1e-3)
    np.testing.assert_allclose(regularizer_hess(t[1:-1]), second, atol=1e-5)


# ---------------------------------------------------------------- make / names / describe


def test_names_and_describe():
    assert names() == ["isotropic-quadratic", "least-squares", "nonconvex-reg", "pl-sine", "federated-ls",
                       "l1-regression", "norm-distance"]
    for name in names():
        line = describe(name)
        assert "\n" not in line and line.startswith(name + ":") and "Defaults:" in line
    assert "m=12, n=8, N=48, kappa=10.0, L=1.0, spectrum=geometric, noise=0.0, sigma=0.0, seed=0" in describe(
        "least-squares")
    assert "m=8, n=8, N=256" in describe("nonconvex-reg") and "lam=auto" in describe("nonconvex-reg")
    with pytest.raises(UserError, match="nope"):
        describe("nope")


def test_make_parses_values():
    p = make(" least-squares : m=6, kappa=100, L=2, spectrum=linear ")
    assert p.shape == (6, 8) and p.params["spectrum"] == "linear"
    assert isinstance(p.params["L"], float) and p.constants["L"].value == 2.0
    assert p.constants["mu"].value == pytest.approx(0.02)
    assert make("nonconvex-reg:m=2,n=3,N=20,lam=0").lam == 0.0
    assert make("isotropic-quadratic:").shape == (12, 8)


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ("no-such-problem", ["'no-such-problem'", "least-squares", "nonconvex-reg", "isotropic-quadratic"]),
        ("least-squares:foo=1", ["'foo'", "kappa", "spectrum"]),
        ("least-squares:m=0", ["m=0", ">= 1"]),
        ("least-squares:m=2.5", ["m=2.5", "integer"]),
        ("least-squares:m=six", ["m='six'", "integer"]),
        ("least-squares:kappa=0.5", ["kappa=0.5", ">= 1.0"]),
        ("least-squares:spectrum=cubic", ["spectrum='cubic'", "'geometric'", "'linear'"]),
        ("least-squares:m=5,N=4", ["N=4", "m=5"]),
        ("least-squares:m=1,kappa=10", ["kappa=10", "m=1"]),
        ("least-squares:seed=-1", ["seed=-1", ">= 0"]),
        ("least-squares:noise=-0.1", ["noise=-0.1", ">= 0"]),
        ("least-squares:m", ["'m'", "key=value"]),
        ("least-squares:m=3,m=4", ["'m'", "twice"]),
        ("isotropic-quadratic:L=0", ["L=0", "> 0"]),
        ("isotropic-quadratic:L=nan", ["L=nan", "finite"]),
        ("isotropic-quadratic:n=0", ["n=0"]),
        ("nonconvex-reg:lam=-1", ["lam=-1", ">= 0"]),
        ("nonconvex-reg:lam=big", ["lam='big'", "'auto'"]),
        ("nonconvex-reg:tail_strength=1.5", ["tail_strength=1.5", "<= 1.0"]),
        ("nonconvex-reg:effective_rank=0", ["effective_rank=0", "> 0"]),
        ("nonconvex-reg:N=1", ["N=1", ">= 2"]),
        ("nonconvex-reg:kappa=3", ["'kappa'", "lam", "effective_rank"]),
        ("least-squares:sigma=-1", ["sigma=-1", ">= 0"]),
        ("isotropic-quadratic:sigma=inf", ["sigma=inf", "finite"]),
        ("pl-sine:cond=0.5", ["cond=0.5", ">= 1.0"]),
        ("pl-sine:m=1,cond=2", ["cond=2", "m=1"]),
        ("federated-ls:M=0", ["M=0", ">= 1"]),
        ("federated-ls:m=5,N_i=4", ["N_i=4", "m=5"]),
        ("federated-ls:hetero=-0.5", ["hetero=-0.5", ">= 0"]),
        ("federated-ls:kappa=0.9", ["kappa=0.9", ">= 1.0"]),
        ("federated-ls:noise=x", ["noise='x'", "finite number"]),
        ("l1-regression:m=2,n=3,N=7", ["N=7", "m*n=6"]),
        ("l1-regression:N=0", ["N=0", ">= 1"]),
        ("norm-distance:L0=0", ["L0=0", "> 0"]),
        ("norm-distance:sigma=1", ["'sigma'", "L0"]),
    ],
)
def test_make_rejects_bad_specs_with_a_one_line_message(spec, needles):
    with pytest.raises(UserError) as info:
        make(spec)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_constant_rejects_bad_kind():
    with pytest.raises(UserError, match="kind='tight'"):
        Constant(1.0, "x", kind="tight")


# ---------------------------------------------------------------- transpose


@pytest.mark.parametrize("spec", SPECS)
def test_transpose_is_f_of_the_transpose(spec):
    p = built(spec)
    t = transpose(p)
    m, n = p.shape
    assert t.shape == (n, m) and t.name == p.name + "^T"
    assert np.array_equal(t.W0, p.W0.T)
    W = points(p, 5, 15)
    Wt = W.transpose(0, 2, 1)
    np.testing.assert_allclose(t.f(Wt), p.f(W), rtol=1e-14)
    np.testing.assert_allclose(t.grad(Wt), p.grad(W).transpose(0, 2, 1), rtol=1e-13, atol=1e-15)
    for key, c in p.constants.items():
        assert (t.constants[key].value, t.constants[key].kind) == (c.value, c.kind)
        assert "inherited" in t.constants[key].how and c.how in t.constants[key].how
    assert t.params["transpose_of"] == p.name


# ---------------------------------------------------------------- from_functions


def test_from_functions_wraps_plain_functions():
    C = np.arange(6.0).reshape(3, 2)
    p = from_functions(lambda W: float(np.sum((W - C) ** 4)), lambda W: 4 * (W - C) ** 3, (3, 2),
                       f_star=0.0, constants={"L": 7.0})
    assert p.shape == (3, 2) and np.all(p.W0 == 0) and p.name == "user"
    assert p.constants["f_star"] == Constant(0.0, "given by the user (not verified)")
    assert p.constants["L"].value == 7.0
    W = np.random.default_rng(16).standard_normal((4, 3, 2))
    np.testing.assert_array_equal(p.f(W), np.sum((W - C) ** 4, axis=(1, 2)))
    np.testing.assert_array_equal(p.grad(W), 4 * (W - C) ** 3)
    assert fd_error(p, W, seed=17).max() < 1e-6


def test_from_functions_does_not_let_user_code_mutate_the_batch():
    def f(W):
        W[:] = 0.0
        return 1.0

    p = from_functions(f, lambda W: W, (2, 2))
    W = np.ones((3, 2, 2))
    p.f(W)
    assert np.all(W == 1.0)


def test_from_functions_rejects_wrong_outputs_and_inputs():
    p = from_functions(lambda W: np.ones(2), lambda W: np.zeros((2, 3)), (3, 2), name="mine")
    W = np.zeros((2, 3, 2))
    with pytest.raises(ValueError, match=r"mine: the user's grad returned shape \(2, 3\), expected \(3, 2\)"):
        p.grad(W)
    with pytest.raises(ValueError, match=r"mine: the user's f returned shape \(2,\), expected a scalar"):
        p.f(W)
    with pytest.raises(UserError, match=r"shape=\(3, 0\)"):
        from_functions(np.sum, np.sign, (3, 0))
    with pytest.raises(UserError, match=r"W0 has shape \(2, 3\), expected \(3, 2\)"):
        from_functions(np.sum, np.sign, (3, 2), W0=np.zeros((2, 3)))
    with pytest.raises(UserError, match="twice"):
        from_functions(np.sum, np.sign, (3, 2), f_star=0.0, constants={"f_star": 0.0})


# ---------------------------------------------------------------- the paper's size (slow)


@pytest.mark.slow
def test_paper_size_builds_with_the_paper_constants():
    p = make("nonconvex-reg:m=64,n=64,N=10000,effective_rank=32")
    assert p.shape == (64, 64) and p.A.shape == (10000, 4096)
    lam_max = p.params["lam"]
    assert p.constants["L"].value == pytest.approx(3 * lam_max, rel=1e-12)
    assert fd_error(p, points(p, 3, 18), seed=19).max() < 1e-6
