"""The numpy MLP: exact backpropagation against finite differences, batching, one-layer objective, HVP."""

from __future__ import annotations

import numpy as np
import pytest

from verify.errors import UserError
from verify.networks import mlp


def _net(seed: int = 0, sizes=(5, 7, 6, 4), N: int = 13):
    rng = np.random.default_rng(seed)
    params = mlp.init_params(sizes, rng)
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], N)
    return rng, params, X, y


@pytest.mark.parametrize("activation", mlp.ACTIVATIONS)
def test_gradient_matches_central_differences(activation):
    rng, params, X, y = _net()
    _, grads = mlp.loss_and_grads(params, X, y, activation)
    for li in range(len(params)):
        for k in range(2):
            E = rng.standard_normal(params[li][k].shape)

            def f(t, li=li, k=k, E=E):
                q = mlp.copy_params(params)
                pair = list(q[li])
                pair[k] = pair[k] + t * E
                q[li] = tuple(pair)
                return float(mlp.loss_and_grads(q, X, y, activation)[0])

            fd = (f(1e-6) - f(-1e-6)) / 2e-6
            assert abs(fd - float((grads[li][k] * E).sum())) <= 1e-6 * (1 + abs(fd))


def test_loss_is_the_mean_cross_entropy():
    _, params, X, y = _net(1)
    logits = mlp.forward(params, X)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.isclose(float(mlp.loss_and_grads(params, X, y)[0]), -np.log(p[np.arange(len(y)), y]).mean())


def test_batched_networks_equal_one_at_a_time():
    rng = np.random.default_rng(2)
    params = mlp.init_params((5, 7, 4), rng, R=3)
    X = rng.standard_normal((3, 9, 5))
    y = rng.integers(0, 4, (3, 9))
    loss, grads = mlp.loss_and_grads(params, X, y, "tanh")
    assert loss.shape == (3,)
    for r in range(3):
        one = [(W[r], b[r]) for W, b in params]
        lr, gr = mlp.loss_and_grads(one, X[r], y[r], "tanh")
        assert np.isclose(loss[r], lr)
        assert all(np.allclose(grads[li][k][r], gr[li][k]) for li in range(2) for k in range(2))
    assert mlp.accuracy(params, X, y).shape == (3,)


def test_layer_objective_and_hvp():
    rng, params, X, y = _net(3)
    obj = mlp.layer_objective(params, 1, X, y, "tanh")
    assert np.isclose(obj.f(obj.W0), float(mlp.loss_and_grads(params, X, y, "tanh")[0]))
    V = rng.standard_normal(obj.W0.shape)
    # the directional second derivative of f along V equals <V, H V>
    h = 1e-4
    second = (obj.f(obj.W0 + h * V) - 2 * obj.f(obj.W0) + obj.f(obj.W0 - h * V)) / h**2
    HV = mlp.hvp(obj.grad, obj.W0, V)
    assert np.isclose(second, float((V * HV).sum()), rtol=1e-4)
    # symmetry of the Hessian: <U, H V> = <V, H U>
    U = rng.standard_normal(obj.W0.shape)
    assert np.isclose(float((U * HV).sum()), float((V * mlp.hvp(obj.grad, obj.W0, U)).sum()), rtol=1e-5)
    # frozen: changing params afterwards does not change obj
    params[0][0][:] = 0.0
    assert np.isclose(obj.f(obj.W0), float(mlp.loss_and_grads(_net(3)[1], X, y, "tanh")[0]))


def test_bad_inputs_raise_user_errors():
    _, params, X, y = _net()
    with pytest.raises(UserError, match="activation"):
        mlp.forward(params, X, "sigmoid")
    with pytest.raises(UserError, match="layer"):
        mlp.layer_objective(params, 3, X, y)
    with pytest.raises(UserError, match="shape"):
        mlp.layer_objective(params, 0, X, y).f(np.zeros((2, 2)))
    with pytest.raises(UserError, match="sizes"):
        mlp.init_params((5,), np.random.default_rng(0))
