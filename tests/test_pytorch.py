"""The torch adapter (optional extra ``torch``): autograd oracles, the LoRA round, and agreement with numpy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from verify import sketch  # noqa: E402
from verify.assumptions.findings import Budget  # noqa: E402
from verify.assumptions.run import check_assumptions  # noqa: E402
from verify.errors import UserError  # noqa: E402
from verify.networks import mlp  # noqa: E402
from verify.projection import BernoulliProjector  # noqa: E402
from verify.pytorch import LoRALinear, bernoulli_lora_round, from_module  # noqa: E402

SIZES = (5, 7, 3)
SMALL = Budget(points=2, fd_directions=2, power_iters=12, segments=2, halvings=12, gd_steps=40, solver_starts=3,
               solver_iters=60, stationary_starts=3, stationary_iters=20, bias_samples=64, variance_samples=32,
               mss_samples=16, compressor_samples=200, projection_samples=200)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def network(seed: int = 0, N: int = 48):
    """A tanh MLP 5 → 7 → 3 as numpy parameters and as the same torch model, with its data."""
    rng = np.random.default_rng(seed)
    params = mlp.init_params(SIZES, rng)
    X = rng.standard_normal((N, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=N)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    with torch.no_grad():
        for layer, (W, b) in zip((model[0], model[2]), params, strict=True):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                                         batch_size=8, shuffle=True)
    return params, X, y, model, loader


def problem(layer: int = 0):
    params, X, y, model, loader = network()
    return from_module(model, model[2 * layer].weight, torch.nn.functional.cross_entropy, loader)


def test_autograd_gradient_equals_central_differences():
    prob = problem()
    rng = np.random.default_rng(1)
    W = prob.W0[None] + 0.3 * rng.standard_normal((3, *prob.shape))
    V = rng.standard_normal(W.shape)
    h = 1e-6
    fd = (prob.f(W + h * V) - prob.f(W - h * V)) / (2 * h)
    directional = np.einsum("kij,kij->k", prob.grad(W), V)
    np.testing.assert_allclose(directional, fd, rtol=1e-7, atol=1e-9)


def test_gradient_and_hvp_match_the_numpy_network():
    params, X, y, model, loader = network()
    prob = from_module(model, model[0].weight, torch.nn.functional.cross_entropy, loader)
    obj = mlp.layer_objective(params, 0, X, y, activation="tanh")
    rng = np.random.default_rng(2)
    W = prob.W0 + 0.2 * rng.standard_normal(prob.shape)
    V = rng.standard_normal(prob.shape)
    assert prob.f(W[None])[0] == pytest.approx(obj.f(W), rel=1e-13)
    np.testing.assert_allclose(prob.grad(W[None])[0], obj.grad(W), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(prob.hvp(W[None], V[None])[0], mlp.hvp(obj.grad, W, V), rtol=1e-6, atol=1e-8)


def test_minibatch_gradients_average_to_the_gradient():
    prob = problem()
    idx = np.arange(prob.N)[:, None]
    comp = prob.stochastic_grad(np.repeat(prob.W0[None], prob.N, axis=0), idx)
    np.testing.assert_allclose(comp.mean(axis=0), prob.grad(prob.W0[None])[0], rtol=1e-12, atol=1e-15)
    f, g = prob.value_and_grad(prob.W0[None])
    assert f[0] == prob.f(prob.W0[None])[0]


def test_from_module_refuses_a_missing_or_non_matrix_weight():
    params, X, y, model, loader = network()
    with pytest.raises(UserError, match="not a parameter"):
        from_module(model, "nope.weight", torch.nn.functional.cross_entropy, loader)
    with pytest.raises(UserError, match="must be a matrix"):
        from_module(model, model[0].bias, torch.nn.functional.cross_entropy, loader)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("steps", [1, 2])
def test_a_factor_form_round_equals_the_projected_steps_on_W(seed, steps):
    """One round: re-sketch, ``steps`` scaled steps on the zeroed factor, merge == ``W ← W − γ Ĝ`` repeated with the
    same sketch (``Ĝ = H_B ∇f`` or ``∇f H_A``, the convention of verify.projection)."""
    params, X, y, model, loader = network()
    prob = from_module(model, model[0].weight, torch.nn.functional.cross_entropy, loader)
    r, p, gamma = 2, 0.4, 0.7
    model[0] = LoRALinear(model[0], r=r, lora_alpha=3.0)

    def loss():
        return torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))

    W = prob.W0.copy()
    rnd = bernoulli_lora_round(model[0], loss, p=p, gamma=gamma, rng=np.random.default_rng(seed), steps=steps)
    dist = sketch.make("gaussian")
    projector = BernoulliProjector(p, r, dist, dist)
    draw = projector.draw(np.random.default_rng(seed), 1, *prob.shape)
    assert rnd.left == bool(draw.left[0])
    for _ in range(steps):
        W = W - gamma * projector.apply(draw, prob.grad(W[None]))[0]
    np.testing.assert_allclose(model[0].base_layer.weight.detach().numpy(), W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rnd.delta, W - prob.W0, rtol=1e-12, atol=1e-14)
    trained = model[0].lora_A["default"].weight if rnd.left else model[0].lora_B["default"].weight
    assert torch.count_nonzero(trained) == 0  # merged: the layer computes the new W alone


def test_a_chain_of_rounds_decreases_the_loss():
    params, X, y, model, loader = network()
    model[0] = LoRALinear(model[0], r=1)
    model[2] = LoRALinear(model[2], r=1)

    def loss():
        return torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))

    rng = np.random.default_rng(0)
    start = float(loss().detach())
    for _ in range(30):
        for layer in (model[0], model[2]):
            bernoulli_lora_round(layer, loss, p=0.5, gamma=0.5, rng=rng)
    assert float(loss().detach()) < 0.9 * start


def test_verify_assumptions_on_the_torch_network_agrees_with_the_numpy_network():
    """The output layer (convex in W) of the same tanh network: numpy (exact backprop, one matrix per call, sample
    gradients as components) and torch (batched finite-sum problem) draw the same samples, so the findings agree
    up to rounding."""
    params, X, y, model, loader = network()
    prob = from_module(model, model[2].weight, torch.nn.functional.cross_entropy, loader)
    obj = mlp.layer_objective(params, 1, X, y, activation="tanh")

    class NumpyLayer:
        shape = prob.shape
        W0 = obj.W0
        f, grad = staticmethod(obj.f), staticmethod(obj.grad)
        n_components = len(X)

        @staticmethod
        def component_grad(W, i):
            return mlp.layer_objective(params, 1, X[i:i + 1], y[i:i + 1], activation="tanh").grad(W)

    a = check_assumptions(NumpyLayer(), budget=SMALL)
    b = check_assumptions(prob, budget=SMALL)
    assert {k: f.status for k, f in a.findings.items()} == {k: f.status for k, f in b.findings.items()}
    assert a.applicable == b.applicable
    for name, fa in a.findings.items():
        ea, eb = fa.estimate or {}, b.findings[name].estimate or {}
        for key, value in ea.items():
            if isinstance(value, float) and np.isfinite(value) and key in eb:
                assert eb[key] == pytest.approx(value, rel=1e-5, abs=1e-9), (name, key)


def test_the_round_runs_on_peft_lora_layers():
    peft = pytest.importorskip("peft")
    params, X, y, model, loader = network()
    prob = from_module(model, model[0].weight, torch.nn.functional.cross_entropy, loader)
    layer = peft.tuners.lora.Linear(model[0], "default", r=2, lora_alpha=2)
    layer.double()
    model[0] = layer

    def loss():
        return torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y))

    bernoulli_lora_round(layer, loss, p=0.5, gamma=0.5, rng=np.random.default_rng(3))
    dist = sketch.make("gaussian")
    projector = BernoulliProjector(0.5, 2, dist, dist)
    draw = projector.draw(np.random.default_rng(3), 1, *prob.shape)
    expected = prob.W0 - 0.5 * projector.apply(draw, prob.grad(prob.W0[None]))[0]
    np.testing.assert_allclose(layer.base_layer.weight.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
