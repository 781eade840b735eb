"""Tests of federated-ls: client oracles against the data, every constant against brute force (lstsq)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from verify.problems import Federated, Problem, make, transpose

SPECS = [
    "federated-ls",
    "federated-ls:m=3,n=2,M=3,N_i=5,kappa=2,hetero=0,noise=0,seed=1",
    "federated-ls:m=5,n=4,M=6,N_i=5,kappa=30,hetero=0.3,noise=0.5,seed=2",
    "federated-ls:m=4,n=3,M=1,N_i=9,noise=0.2,seed=3",
]


@functools.cache
def built(spec: str) -> Problem:
    return make(spec)


def points(p: Problem, R: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return p.W0 + np.logspace(-2, 1, R)[:, None, None] * rng.standard_normal((R, *p.shape))


def client_values(p: Problem, W: np.ndarray) -> np.ndarray:
    """``f_i(W_r) = ‖X_i W_r − Y_i‖²/(2 N_i)`` from the data: ``(R, M)``."""
    res = np.einsum("kim,rmn->rkin", p.X, W) - p.Y
    return np.sum(res**2, axis=(2, 3)) / (2 * p.X.shape[1])


def brute(p: Problem) -> dict[str, object]:
    """Every constant from the raw data ``X_i``, ``Y_i`` by eigvalsh and lstsq (no closed forms)."""
    M, N_i, m = p.X.shape
    H_i = np.einsum("kim,kil->kml", p.X, p.X) / N_i
    L_i = np.array([np.linalg.eigvalsh(h)[-1] for h in H_i])
    f_i = []
    for Xi, Yi in zip(p.X, p.Y, strict=True):
        Wi = np.linalg.lstsq(Xi, Yi, rcond=None)[0]
        f_i.append(np.sum((Xi @ Wi - Yi) ** 2) / (2 * N_i))
    # f = ‖X̃W − Ỹ‖²/2 with the clients stacked and weighted by 1/sqrt(M N_i).
    Xs = np.concatenate(p.X) / np.sqrt(M * N_i)
    Ys = np.concatenate(p.Y) / np.sqrt(M * N_i)
    Ws = np.linalg.lstsq(Xs, Ys, rcond=None)[0]
    f_star = 0.5 * np.sum((Xs @ Ws - Ys) ** 2)
    eig = np.linalg.eigvalsh(H_i.mean(axis=0))
    return {"L": eig[-1], "mu": eig[0], "f_star": f_star, "L_i": L_i, "f_i_star": np.array(f_i),
            "L_max": L_i.max(), "L_tilde": np.sqrt(np.mean(L_i**2)), "Delta_inf": f_star - np.mean(f_i),
            "W_star": Ws}


@pytest.mark.parametrize("spec", SPECS)
def test_clients_average_to_f_and_grad(spec):
    p = built(spec)
    assert isinstance(p, Federated) and p.clients == p.params["M"] == len(p.X)
    W = points(p, 6, 1)
    np.testing.assert_allclose(client_values(p, W).mean(axis=1), p.f(W), rtol=1e-10)
    G = p.client_grads(W)
    assert G.shape == (6, p.clients, *p.shape) and G.dtype == np.float64
    N_i = p.X.shape[1]
    direct = np.einsum("kim,rkin->rkmn", p.X, np.einsum("kim,rmn->rkin", p.X, W) - p.Y) / N_i
    np.testing.assert_allclose(G, direct, rtol=1e-9, atol=1e-11 * np.abs(direct).max())
    np.testing.assert_allclose(G.mean(axis=1), p.grad(W), rtol=1e-10, atol=1e-12 * np.abs(G).max())


@pytest.mark.parametrize("spec", SPECS)
def test_client_gradients_match_central_differences(spec):
    p = built(spec)
    W = points(p, 4, 2)
    D = np.random.default_rng(3).standard_normal(W.shape)
    h = 1e-5
    fd = (client_values(p, W + h * D) - client_values(p, W - h * D)) / (2 * h)
    an = np.einsum("rkmn,rmn->rk", p.client_grads(W), D)
    assert np.abs(fd - an).max() < 1e-7 * np.abs(an).max()


@pytest.mark.parametrize("spec", SPECS)
def test_constants_equal_brute_force(spec):
    p = built(spec)
    b = brute(p)
    c = p.constants
    for key in ("L", "mu", "L_max", "L_tilde"):
        assert c[key].value == pytest.approx(b[key], rel=1e-10), key
    scale = max(1.0, b["f_star"])
    assert c["f_star"].value == pytest.approx(b["f_star"], rel=1e-9, abs=1e-13 * scale)
    assert c["Delta_inf"].value == pytest.approx(b["Delta_inf"], rel=1e-8, abs=1e-12 * scale)
    np.testing.assert_allclose(p.params["L_i"], b["L_i"], rtol=1e-10)
    np.testing.assert_allclose(p.params["f_i_star"], b["f_i_star"], rtol=1e-9, atol=1e-14)
    assert all(c[k].kind == "exact" for k in c) and c["Delta_inf"].value >= 0
    np.testing.assert_allclose(p.W_hat, b["W_star"], rtol=1e-9, atol=1e-12)
    assert np.abs(p.grad(b["W_star"][None])).max() < 1e-10
    json.dumps(dict(p.params))


@pytest.mark.parametrize("spec", SPECS)
def test_each_client_is_L_i_smooth_and_bounded_below_by_f_i_star(spec):
    p = built(spec)
    L_i, f_i = np.array(p.params["L_i"]), np.array(p.params["f_i_star"])
    W, V = points(p, 100, 4), points(p, 100, 5)
    sec = np.linalg.norm(p.client_grads(W) - p.client_grads(V), axis=(2, 3))
    assert np.all(sec <= L_i * np.linalg.norm(W - V, axis=(1, 2))[:, None] * (1 + 1e-10))
    assert np.all(client_values(p, W) >= f_i * (1 - 1e-12))
    # L_i attained along the top eigenvector of client i's H_i; f_i* attained at its minimiser.
    for i in range(p.clients):
        top = np.linalg.eigh(p.client_hess[i])[1][:, -1]
        D = np.outer(top, np.ones(p.shape[1]))[None]
        ratio = np.linalg.norm(p.client_grads(W[:1] + D)[0, i] - p.client_grads(W[:1])[0, i]) / np.linalg.norm(D)
        assert ratio == pytest.approx(L_i[i], rel=1e-10)
        assert client_values(p, p.client_min[i][None])[0, i] == pytest.approx(f_i[i], rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("spec", SPECS)
def test_pl_holds_and_is_attained(spec):
    p = built(spec)
    mu, f_star = p.constants["mu"].value, p.constants["f_star"].value
    rng = np.random.default_rng(6)
    W = p.W_hat + np.logspace(-3, 1, 200)[:, None, None] * rng.standard_normal((200, *p.shape))
    half_sq = 0.5 * np.sum(p.grad(W) ** 2, axis=(1, 2))
    assert np.all(half_sq >= mu * (p.f(W) - f_star) * (1 - 1e-9) - 1e-14 * max(f_star, 1))
    bottom = np.linalg.eigh(p.H)[1][:, 0]
    D = np.outer(bottom, rng.standard_normal(p.shape[1]))[None]
    gap = 0.5 * np.einsum("rij,ik,rkj->r", D, p.H, D)  # f − f* along D, without cancellation
    assert 0.5 * np.sum(p.grad(p.W_hat + D) ** 2) / gap[0] == pytest.approx(mu, rel=1e-9)


def test_heterogeneity_is_zero_without_hetero_and_noise_and_grows_with_hetero():
    assert built(SPECS[1]).constants["Delta_inf"].value == 0.0
    assert built(SPECS[1]).constants["f_star"].value == 0.0
    values = [make(f"federated-ls:hetero={h},noise=0").constants["Delta_inf"].value for h in (0, 0.5, 1, 2)]
    assert values[0] == 0.0
    # With noise = 0, every client minimiser is W* + hetero D_i: Delta_inf scales exactly as hetero².
    np.testing.assert_allclose(values[1:], values[2] * np.array([0.25, 1, 4]), rtol=1e-10)
    # One client: no heterogeneity, and L_max = L_tilde = L.
    one = built(SPECS[3])
    assert one.constants["Delta_inf"].value == 0.0
    assert one.constants["L_max"].value == one.constants["L_tilde"].value == pytest.approx(one.constants["L"].value)


def test_clients_have_different_curvatures_in_the_default():
    c = built("federated-ls").constants
    L_i = built("federated-ls").params["L_i"]
    np.testing.assert_allclose(L_i, np.linspace(1, 0.5, 4), rtol=1e-10)
    assert c["L"].value < c["L_tilde"].value < c["L_max"].value


@pytest.mark.parametrize("spec", SPECS[:2])
def test_transpose_carries_the_client_oracle(spec):
    p = built(spec)
    t = transpose(p)
    assert t.clients == p.clients and isinstance(t, Federated)
    W = points(p, 3, 7)
    np.testing.assert_allclose(t.client_grads(W.transpose(0, 2, 1)), p.client_grads(W).transpose(0, 1, 3, 2),
                               rtol=1e-14, atol=1e-15)
    assert {k: c.value for k, c in t.constants.items()} == {k: c.value for k, c in p.constants.items()}
    assert not hasattr(transpose(make("least-squares")), "client_grads")
    assert not hasattr(transpose(make("least-squares")), "clients")
