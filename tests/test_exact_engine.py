"""Tests of the exact second-moment recursion's parts (verify/exact): the blockwise sketch operator against an
exact enumeration of the projections, the problems' quadratic structure against their oracles, the
compressors' moments against enumeration, the combinators' algebra, the adjoints (every combinator and every
estimator's chain: ⟨Y, 𝒯(S)⟩ = ⟨𝒯*(Y), S⟩; the sketch maps are self-adjoint), and the refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from verify import problems, sketch
from verify.compressors import make_compressor
from verify.estimators import make_estimator
from verify.exact.engine import exact_chain, sketch_operator
from verify.exact.maps import Compressed, Embed, ExactUnsupported, Fixed, MeanOfIid, Mixture, Noise, Sum, Uniform
from verify.exact.quadratic import unvec, vec
from verify.moments import coordinates, fixed_support, isotropic, rademacher
from verify.projection import BernoulliProjector
from verify.stepsizes import ConstantStep, PolyakStep

SEED = 20250812


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=key))


def _coordinate_projections(d: int, r: int) -> list[np.ndarray]:
    out = []
    for idx in itertools.combinations(range(d), r):
        H = np.zeros((d, d))
        H[idx, idx] = 1.0
        out.append(H)
    return out


@pytest.mark.parametrize(("m", "n", "r", "p"), [(3, 2, 1, 0.3), (2, 4, 2, 0.7), (3, 3, 2, 0.5), (4, 2, 1, 1.0),
                                                (2, 3, 1, 0.0)])
def test_sketch_operator_equals_enumeration_of_every_projection(m: int, n: int, r: int, p: float) -> None:
    """E[P] and E[P Y P] with P = I_n ⊗ H_B (prob p) or H_A ⊗ I_m, every coordinate sketch enumerated, on
    column-major vec; checked also against the runner's projector (vec(P G) = P vec G)."""
    dist = sketch.make("coordinates")
    proj = BernoulliProjector(p, r, dist, dist)
    op = sketch_operator(proj, m, n)
    N = m * n
    HBs, HAs = _coordinate_projections(m, r), _coordinate_projections(n, r)
    Ps = [(p / len(HBs), np.kron(np.eye(n), hb)) for hb in HBs] + [((1 - p) / len(HAs), np.kron(ha, np.eye(m)))
                                                                   for ha in HAs]
    Y = _rng(1, m, n).standard_normal((3, N, N))  # a batch of non-symmetric matrices
    mean = sum(w * P for w, P in Ps)
    second = sum(w * P @ Y @ P for w, P in Ps)
    assert np.allclose(op.mean, mean, atol=1e-14)
    assert np.allclose(op.second(Y), second, atol=1e-13)
    # the vec convention is the runner's: vec(H_B G) = (I_n ⊗ H_B) vec G, vec(G H_A) = (H_A ⊗ I_m) vec G
    G = _rng(2, m, n).standard_normal((m, n))
    HB, HA = _coordinate_projections(m, r)[0], _coordinate_projections(n, r)[-1]
    assert np.allclose(vec(HB @ G), np.kron(np.eye(n), HB) @ vec(G))
    assert np.allclose(vec(G @ HA), np.kron(HA, np.eye(m)) @ vec(G))
    assert np.allclose(unvec(vec(G), (m, n)), G)


@pytest.mark.parametrize("name", ["gaussian", "haar"])
def test_isotropic_sketch_operator_mean_is_lambda_p_times_identity(name: str) -> None:
    dist = sketch.make(name)
    m, n, r, p = 5, 3, 2, 0.3
    op = sketch_operator(BernoulliProjector(p, r, dist, dist), m, n)
    lam = p * r / m + (1 - p) * r / n
    assert np.allclose(op.mean, lam * np.eye(m * n))
    # trace identity of a projection: tr E[P Y P] = tr(E[P] Y)
    Y = _rng(3).standard_normal((m * n, m * n))
    assert np.isclose(np.trace(op.second(Y)), np.trace(op.mean @ Y))


SPECS = ["isotropic-quadratic:m=4,n=3,sigma=0.5", "isotropic-quadratic:m=3,n=2", "least-squares:m=4,n=3,N=8,noise=0.5",
         "least-squares:m=4,n=3,sigma=0.3,noise=0.2", "federated-ls:m=4,n=3,M=3,N_i=6"]


@pytest.mark.parametrize("spec", SPECS)
def test_quadratic_structure_reproduces_the_oracles(spec: str) -> None:
    P = problems.make(spec)
    q = P.quadratic()
    W = _rng(4).standard_normal((3, *P.shape))
    w = q.w(W)
    assert np.allclose(q.A, q.A.T)
    assert np.allclose(q.f_star + 0.5 * np.einsum("ri,ij,rj->r", w, q.A, w), P.f(W), rtol=1e-12, atol=1e-12)
    assert np.allclose(w @ q.A.T, vec(P.grad(W)), atol=1e-12)
    assert np.allclose(P.grad(q.W_star[None]), 0.0, atol=1e-12)
    assert np.isclose(float(P.f(q.W_star[None])[0]), float(P.constants["f_star"].value), rtol=1e-12, atol=1e-14)
    if q.components is not None:
        idx = np.array([[1], [4], [7]])
        expected = np.einsum("rij,rj->ri", q.components.ops[idx[:, 0]], w) + q.components.offsets[idx[:, 0]]
        assert np.allclose(vec(P.stochastic_grad(W, idx)), expected, atol=1e-12)
        assert np.allclose(q.components.ops.mean(axis=0), q.A, atol=1e-12)
    if q.noise_cov is not None:
        assert np.allclose(q.noise_cov, P.sigma**2 * np.eye(q.N))
    if q.clients is not None:
        expected = np.einsum("kij,rj->rki", q.clients.ops, w) + q.clients.offsets
        assert np.allclose(vec(P.client_grads(W)), expected, atol=1e-12)
        assert np.allclose(q.clients.ops.mean(axis=0), q.A, atol=1e-12)


@pytest.mark.parametrize(("spec", "d"), [("rand-k:k=2", 5), ("rand-k:k=4", 4), ("rand-k:k=1", 6), ("identity", 4)])
def test_linear_compressor_moments_equal_enumeration(spec: str, d: int) -> None:
    comp = make_compressor(spec)
    scale, moment = comp.linear_moments(d)
    Y = _rng(5, d).standard_normal((d, d))
    k = getattr(comp, "k", d)
    masks = [np.diag(np.isin(np.arange(d), S).astype(float)) * (d / k) for S in itertools.combinations(range(d), k)]
    assert np.isclose(scale, 1.0)
    assert np.allclose(moment.apply(Y), np.mean([Q @ Y @ Q.T for Q in masks], axis=0), atol=1e-13)
    assert np.allclose(np.mean(masks, axis=0), np.eye(d))


def test_nonlinear_compressors_have_no_linear_moments() -> None:
    assert make_compressor("top-k:k=2").linear_moments(6) is None
    assert make_compressor("dither:s=2").linear_moments(6) is None


def test_combinators_match_enumeration() -> None:
    """Sum of independent parts, the mean of i.i.d. copies, a mixture and additive noise, against brute force."""
    rng = _rng(6)
    cols, rows = 4, 3
    mats = rng.standard_normal((3, rows, cols))
    F = rng.standard_normal((rows, cols))
    S = rng.standard_normal((cols, cols))
    S = S @ S.T
    cov = np.diag([1.0, 2.0, 3.0])
    U = Uniform(mats)
    # mean of 2 iid draws: enumerate the 9 ordered pairs
    pair = np.mean([(mats[i] + mats[j]) / 2 @ S @ ((mats[i] + mats[j]) / 2).T for i in range(3) for j in range(3)],
                   axis=0)
    assert np.allclose(MeanOfIid(U, 2).second(S), pair)
    both = np.mean([(F + mats[i]) @ S @ (F + mats[i]).T for i in range(3)], axis=0)
    noise = Noise(cov, cols, one=cols - 1)
    assert np.allclose(Sum([Fixed(F), U, noise]).second(S), both + cov * S[-1, -1])
    assert np.allclose(Sum([Fixed(F), U]).mean, F + mats.mean(axis=0))
    mix = Mixture([0.25, 0.75], [Fixed(F), U])
    assert np.allclose(mix.second(S), 0.25 * F @ S @ F.T + 0.75 * np.mean([M @ S @ M.T for M in mats], axis=0))
    # batched and linear
    S2 = np.stack([S, 2 * S])
    assert np.allclose(mix.second(S2)[1], 2 * mix.second(S))


def _sym(rng: np.random.Generator, *shape: int) -> np.ndarray:
    X = rng.standard_normal(shape)
    return X + np.swapaxes(X, -1, -2)


def _inner(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Frobenius ``⟨X, Y⟩`` matrix by matrix of a batch."""
    return np.einsum("...ij,...ij->...", X, Y)


def _assert_adjoint(forward, adjoint, S: np.ndarray, Y: np.ndarray, rtol: float = 1e-12) -> None:  # noqa: ANN001
    """⟨Y, forward(S)⟩ = ⟨adjoint(Y), S⟩ for a batch, relative to the sizes of the terms."""
    lhs, rhs = _inner(Y, forward(S)), _inner(adjoint(Y), S)
    size = np.sqrt(_inner(Y, Y) * _inner(S, S)) * (1 + np.abs(lhs))
    assert np.all(np.abs(lhs - rhs) <= rtol * size), (lhs, rhs)


def _combinators(rng: np.random.Generator) -> dict:
    """Every combinator (and nestings the estimators use), on 4 columns (the last is the constant) → 3 rows."""
    cols, rows = 4, 3
    mats = rng.standard_normal((3, rows, cols))
    mats[:, :, 1] = 0.0                                  # a column no M_i uses
    F = rng.standard_normal((rows, cols))
    G = rng.standard_normal((rows, cols))
    G[:, 0] = 0.0
    L = rng.standard_normal((rows, rows))
    cov = L @ L.T
    U = Uniform(mats)
    noise = Noise(cov, cols, one=cols - 1)
    _, randk = make_compressor("rand-k:k=2").linear_moments(rows)
    return {
        "fixed": Fixed(F),
        "noise": noise,
        "uniform": U,
        "sum": Sum([Fixed(F), U, noise]),
        "mean-of-iid": MeanOfIid(U, 3),
        "mixture": Mixture([0.25, 0.75], [Fixed(G), Sum([Fixed(F), MeanOfIid(U, 2)])]),
        "compressed": Compressed(1.0, randk, Sum([Fixed(F), U])),
        "embed": Embed(Compressed(1.0, randk, Fixed(G)), 2, 7),
        "sum-of-embeds": Sum([Fixed(rng.standard_normal((6, cols))), Embed(Compressed(1.0, randk, Fixed(F)), 0, 6),
                              Embed(Compressed(1.0, randk, Fixed(G)), 3, 6)]),
    }


@pytest.mark.parametrize("name", ["fixed", "noise", "uniform", "sum", "mean-of-iid", "mixture", "compressed", "embed",
                                  "sum-of-embeds"])
def test_combinator_adjoint_is_the_adjoint_of_its_second_moment(name: str) -> None:
    """⟨Y, E[U S Uᵀ]⟩ = ⟨E[Uᵀ Y U], S⟩ for random symmetric S and Y, single and batched; the adjoints are
    symmetric and linear."""
    rng = _rng(10, len(name))
    U = _combinators(rng)[name]
    S, Y = _sym(rng, U.cols, U.cols), _sym(rng, U.rows, U.rows)
    _assert_adjoint(U.second, U.adjoint_second, S, Y)
    Sb, Yb = _sym(rng, 2, 5, U.cols, U.cols), _sym(rng, 2, 5, U.rows, U.rows)
    _assert_adjoint(U.second, U.adjoint_second, Sb, Yb)
    out = U.adjoint_second(Yb)
    assert out.shape == (2, 5, U.cols, U.cols)
    assert np.allclose(out, np.swapaxes(out, -1, -2), rtol=0, atol=1e-12 * np.max(np.abs(out)))
    assert np.allclose(out[1, 2], U.adjoint_second(Yb[1, 2]), rtol=1e-13, atol=1e-13)


def test_combinator_adjoints_match_enumeration() -> None:
    """E[Uᵀ Y U] by brute force: a mean of 2 i.i.d. uniform draws (9 ordered pairs), a fixed part plus a uniform
    part plus noise (E[ξᵀYξ] = tr(Σ_ξ Y) on the constant), and a rand-k compressed map (every mask)."""
    rng = _rng(11)
    cols, rows = 4, 3
    mats = rng.standard_normal((3, rows, cols))
    F = rng.standard_normal((rows, cols))
    Y = _sym(rng, rows, rows)
    cov = np.diag([1.0, 2.0, 3.0])
    U = Uniform(mats)
    pairs = [(mats[i] + mats[j]) / 2 for i in range(3) for j in range(3)]
    assert np.allclose(MeanOfIid(U, 2).adjoint_second(Y), np.mean([M.T @ Y @ M for M in pairs], axis=0))
    expected = np.mean([(F + M).T @ Y @ (F + M) for M in mats], axis=0)
    expected[-1, -1] += np.trace(cov @ Y)
    assert np.allclose(Sum([Fixed(F), U, Noise(cov, cols, one=cols - 1)]).adjoint_second(Y), expected)
    comp = make_compressor("rand-k:k=2")
    scale, moment = comp.linear_moments(rows)
    masks = [np.diag(np.isin(np.arange(rows), S).astype(float)) * (rows / 2)
             for S in itertools.combinations(range(rows), 2)]
    expected = np.mean([F.T @ Q.T @ Y @ Q @ F for Q in masks], axis=0)
    assert np.allclose(Compressed(scale, moment, Fixed(F)).adjoint_second(Y), expected)


@pytest.mark.parametrize("moment", [isotropic(5, 2), coordinates(5, 2, False), coordinates(4, 3, True),
                                    rademacher(4, 2), fixed_support(4, 2)],
                         ids=["isotropic", "coordinates", "coordinates-wr", "rademacher", "fixed-support"])
def test_second_moment_maps_are_self_adjoint(moment) -> None:  # noqa: ANN001
    """Y ↦ M ∘ Y + b (Yᵀ + tr(Y) I) is self-adjoint for the Frobenius inner product, on any (non-symmetric)
    matrices: so E[Hᵀ Y H] = E[H Y H] is the same map (a compressor's E[Qᵀ Y Q] likewise)."""
    rng = _rng(12, moment.d)
    S, Y = rng.standard_normal((3, moment.d, moment.d)), rng.standard_normal((3, moment.d, moment.d))
    _assert_adjoint(moment.apply, moment.apply, S, Y)
    assert np.allclose(moment.matrix(), moment.matrix().T)


@pytest.mark.parametrize("name", ["gaussian", "haar", "coordinates"])
@pytest.mark.parametrize(("m", "n", "p"), [(4, 3, 0.3), (2, 5, 0.7)])
def test_sketch_operator_is_self_adjoint(name: str, m: int, n: int, p: float) -> None:
    """⟨Y, E[P S P]⟩ = ⟨E[P Y P], S⟩ on non-symmetric matrices, P = I_n ⊗ H_B or H_A ⊗ I_m (symmetric):
    SketchOperator.second also serves as Y ↦ E[Pᵀ Y P] in the adjoint of the move."""
    dist = sketch.make(name)
    op = sketch_operator(BernoulliProjector(p, 2, dist, dist), m, n)
    rng = _rng(13, m, n)
    S, Y = rng.standard_normal((2, m * n, m * n)), rng.standard_normal((2, m * n, m * n))
    _assert_adjoint(op.second, op.second, S, Y)
    assert np.allclose(op.mean, op.mean.T)


LS_ = "least-squares:m=4,n=3,N=8,kappa=5,noise=0.5"
LS_NOISY = "least-squares:m=4,n=3,kappa=5,sigma=0.3,noise=0.2"
FED_ = "federated-ls:m=4,n=3,M=3,N_i=6,kappa=5"
#: Every estimator's exact chain (as in test_exact_model; EF21 takes no linear compressor but the identity).
CHAINS = [
    ("gd", LS_, "gd", {}),
    ("sgd-noise", "isotropic-quadratic:m=4,n=3,sigma=0.5", "sgd", {}),
    ("sgd-rows", LS_, "sgd", {"batch": 2}),
    ("page-rows", LS_, "page", {"q": 0.3, "batch_prime": 2}),
    ("page-noise", "isotropic-quadratic:m=4,n=3,sigma=0.5", "page", {"q": 0.3, "batch_prime": 2}),
    ("mvr-noise", LS_NOISY, "mvr", {"b": 0.3, "batch": 2, "batch0": 3}),
    ("mvr-rows", LS_, "mvr", {"b": 0.3, "batch": 2, "batch0": 3}),
    ("qgd-randk", FED_, "qgd", {"compressor": "rand-k:k=3"}),
    ("marina-randk", FED_, "marina", {"q": 0.3, "compressor": "rand-k:k=3"}),
    ("ef21-identity", FED_, "ef21", {"compressor": "identity"}),
]


@pytest.mark.parametrize("sk", ["gaussian", "haar", "coordinates"])
@pytest.mark.parametrize(("label", "spec", "name", "params"), CHAINS, ids=[c[0] for c in CHAINS])
def test_chain_adjoints(label: str, spec: str, name: str, params: dict, sk: str) -> None:
    """⟨Y, 𝒯(S)⟩ = ⟨𝒯*(Y), S⟩ for the lift, the move, the update and the step (𝒯* = move* ∘ update*), on random
    symmetric batches, p = 0.3, m ≠ n; the adjoint step is the pull-back of a form: E_t[ẑ⁺ᵀ Y ẑ⁺] = ẑᵀ 𝒯*(Y) ẑ."""
    P = problems.make(spec)
    dist = sketch.make(sk)
    chain = exact_chain(P, make_estimator(name, **params), BernoulliProjector(0.3, 2, dist, dist),
                        0.3 / float(P.constants["L"].value))
    lay = chain.layout
    rng = _rng(14, CHAINS.index((label, spec, name, params)), len(sk))
    Sz, Yz, Sy = _sym(rng, 3, lay.Dz, lay.Dz), _sym(rng, 3, lay.Dz, lay.Dz), _sym(rng, 3, lay.Dy, lay.Dy)
    _assert_adjoint(chain.lift, chain.adjoint_lift, _sym(rng, 3, lay.N + 1, lay.N + 1), Yz)
    _assert_adjoint(chain.move, chain.adjoint_move, Sz, _sym(rng, 3, lay.Dy, lay.Dy))
    _assert_adjoint(chain.update, chain.adjoint_update, Sy, Yz)
    _assert_adjoint(chain.step, chain.adjoint_step, Sz, Yz)
    z = rng.standard_normal(lay.Dz)
    z[-1] = 1.0
    assert np.isclose(_inner(Yz[0], chain.step(np.outer(z, z))), z @ chain.adjoint_step(Yz[0]) @ z, rtol=1e-12)


def _gd(spec: str = "least-squares:m=4,n=3,N=8", sk: str = "gaussian", r: int = 1) -> tuple:
    P = problems.make(spec)
    dist = sketch.make(sk)
    return P, make_estimator("gd"), BernoulliProjector(0.3, r, dist, dist)


def test_gd_on_full_rank_sketch_is_deterministic_gradient_descent() -> None:
    """r = min(m, n) with coordinates on a square problem: P = I, so the chain is plain GD, Σ = w wᵀ."""
    P, est, _ = _gd("least-squares:m=3,n=3,N=6")
    dist = sketch.make("coordinates")
    proj = BernoulliProjector(0.3, 3, dist, dist)
    gamma = 0.7
    traj = exact_chain(P, est, proj, ConstantStep(gamma)).run(P.W0, 5)
    W = np.array(P.W0, dtype=float)[None]
    for t in range(6):
        assert np.isclose(traj.gap[t], float(P.f(W)[0] - P.constants["f_star"].value), rtol=1e-12)
        W = W - gamma * P.grad(W)


def test_refusals_name_the_reason() -> None:
    P, est, proj = _gd()
    with pytest.raises(ExactUnsupported, match="above the exact recursion's limit 100"):
        exact_chain(problems.make("isotropic-quadratic:m=12,n=9"), est, proj, 0.5)
    with pytest.raises(ExactUnsupported, match="not constant"):
        exact_chain(P, est, proj, PolyakStep(f_star=0.0))
    scaled = sketch.make("scaled-gaussian")
    with pytest.raises(ExactUnsupported, match="scaled-gaussian.*no closed-form second moment"):
        exact_chain(P, est, BernoulliProjector(0.3, 1, scaled, scaled), 0.5)
    with pytest.raises(ExactUnsupported, match="no quadratic structure"):
        exact_chain(problems.make("pl-sine:m=3,n=2"), est, proj, 0.5)
    fed = problems.make("federated-ls:m=3,n=2,M=2,N_i=4")
    with pytest.raises(ExactUnsupported, match="top-k.*not linear"):
        exact_chain(fed, make_estimator("ef21", compressor="top-k:k=2"), proj, 0.5)
    with pytest.raises(ExactUnsupported, match="dither.*not linear"):
        exact_chain(fed, make_estimator("qgd", compressor="dither:s=2"), proj, 0.5)
    with pytest.raises(ExactUnsupported, match="no stochastic oracle"):
        exact_chain(problems.make("isotropic-quadratic:m=3,n=2"), make_estimator("sgd"), proj, 0.5)
    with pytest.raises(ExactUnsupported, match="no clients"):
        exact_chain(P, make_estimator("qgd", compressor="identity"), proj, 0.5)


@pytest.mark.parametrize("measure", ["avg_grad_sq", "weighted_grad_sq", "gap_last", "lyapunov"])
def test_exact_measures_are_those_of_verify_measures(measure: str) -> None:
    """ExactTrajectory.measure forms each measure from the expectations exactly as verify.measures does from a
    trace (the measures are linear in the per-step quantities)."""
    from verify.measures import measure_values
    from verify.runner import Trace

    P = problems.make("least-squares:m=4,n=3,N=8,noise=0.5")
    dist = sketch.make("gaussian")
    chain = exact_chain(P, make_estimator("page", q=0.3, batch_prime=2), BernoulliProjector(0.3, 2, dist, dist), 0.3)
    traj = chain.run(P.W0, 12)
    f_star = float(P.constants["f_star"].value)
    trace = Trace((traj.gap + f_star)[None], traj.grad_sq[None], traj.err[None], np.full((1, 13), np.nan), {})
    T = np.array([1, 2, 5, 12])
    expected = measure_values(measure, trace, T, f_star, a=1.07, k=0.8)[0]
    assert np.allclose(traj.measure(measure, T, a=1.07, k=0.8), expected, rtol=1e-12)
    with pytest.raises(ExactUnsupported, match="gap_best"):
        traj.measure("gap_best", T)
