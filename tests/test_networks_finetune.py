"""§7.2 in miniature: adapter steps equal projected steps, parameter counts, the command, the theorem check."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from verify.cli import main  # noqa: E402
from verify.errors import UserError  # noqa: E402
from verify.networks import adapters, local_theory, mlp  # noqa: E402
from verify.networks.adapters import Method  # noqa: E402
from verify.networks.finetune import Config, run  # noqa: E402
from verify.projection import orthonormal_basis, project_left, project_right  # noqa: E402


def _net(seed=0, sizes=(6, 5, 4, 3), N=20):
    rng = np.random.default_rng(seed)
    params = mlp.init_params(sizes, rng)
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], N)
    return rng, params, X, y


def test_factor_steps_move_W_by_the_projected_gradient():
    rng = np.random.default_rng(1)
    B_S, A_S = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 2, 4))
    G = rng.standard_normal((3, 5, 4))
    A0, B0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 5, 2))
    dA = adapters._left_step(A0, B_S, G, 0.7) - A0
    assert np.allclose(B_S @ dA, -0.7 * project_left(orthonormal_basis(B_S), G))
    dB = adapters._right_step(B0, A_S, G, 0.7) - B0
    assert np.allclose(dB @ A_S, -0.7 * project_right(orthonormal_basis(A_S.transpose(0, 2, 1)), G))


def test_bernoulli_chain_equals_projected_sgd_on_W():
    """p = 1: every round a fresh Gaussian B_S, A trained from 0, merged; the same as W <- W - gamma H_B G."""
    _, params, X, y = _net(2)
    seed = np.random.SeedSequence(5)
    gamma, K, rounds, batch = 0.3, 2, 3, 7
    curves = adapters.finetune(Method("bernoulli", gamma, p=1.0), params, X, y, X, y, [seed], layers=(1,),
                               steps=K * rounds, round_len=K, batch=batch, eval_every=K * rounds)
    g = np.random.default_rng(seed)
    W = params[1][0].copy()
    for _ in range(rounds):
        assert g.random() < 1.0  # the coin
        S = g.standard_normal((W.shape[0], 1))
        H = S @ S.T / float(S[:, 0] @ S[:, 0])
        for _ in range(K):
            idx = g.integers(0, len(y), batch)
            net = [params[0], (W, params[1][1]), params[2]]
            W = W - gamma * H @ mlp.loss_and_grads(net, X[idx], y[idx])[1][1][0]
    expected = float(mlp.loss_and_grads([params[0], (W, params[1][1]), params[2]], X, y)[0])
    assert np.isclose(curves.train_loss[0, -1], expected, rtol=1e-10)
    assert curves.train_loss.shape == (1, 2)
    assert np.isclose(curves.train_loss[0, 0], mlp.loss_and_grads(params, X, y)[0])


def test_trainable_parameter_counts():
    _, params, _, _ = _net(sizes=(64, 64, 64, 10))
    layers = (1, 2)
    assert np.isclose(Method("bernoulli", 0.1, p=0.99).trainable(params, layers, 1), 64 + 0.99 * 64 + 0.01 * 10)
    assert Method("rac", 0.1).trainable(params, layers, 1) == (128 + 74) / 2
    assert Method("cola", 0.1).trainable(params, layers, 1) == 128 + 74 == Method("lora", 0.1).trainable(params,
                                                                                                         layers, 1)
    assert Method("asym", 0.1).trainable(params, layers, 2) == 2 * (64 + 10)
    n_all = 2 * 64 * 64 + 10 * 64 + 64 + 64 + 10
    assert Method("full", 0.1).trainable(params, layers, 1) == mlp.n_params(params) == n_all


def test_bad_method_parameters_are_user_errors():
    with pytest.raises(UserError, match="kind"):
        Method("dora", 0.1)
    with pytest.raises(UserError, match="p="):
        Method("bernoulli", 0.1, p=1.5)
    with pytest.raises(UserError, match="only a parameter"):
        Method("rac", 0.1, p=0.5)
    with pytest.raises(UserError, match="gamma"):
        Method("lora", -1.0)
    _, params, X, y = _net()
    seeds = [np.random.SeedSequence(0)]
    with pytest.raises(UserError, match="rank r=5"):
        adapters.finetune(Method("rac", 0.1), params, X, y, X, y, seeds, layers=(1,), r=5, steps=2, round_len=1,
                          batch=2, eval_every=1)
    with pytest.raises(UserError, match="layers"):
        adapters.finetune(Method("rac", 0.1), params, X, y, X, y, seeds, layers=(3,), steps=2, round_len=1,
                          batch=2, eval_every=1)


def test_without_scikit_learn_the_command_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["finetune", "--runs", "2", "--steps", "2", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install" in err and "networks" in err


def test_command_writes_table_and_outputs(tmp_path, capsys):
    assert main(["finetune", "--runs", "2", "--steps", "20", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for label in ("Full fine-tuning", "Bernoulli-LoRA (p=0.99)", "RAC-LoRA", "COLA", "Asymmetric LoRA", "LoRA",
                  "96.46 ± 0.17", "MNIST", "layer 1 (64×64), layer 2 (10×64)"):
        assert label in out
    assert (tmp_path / "finetune.md").read_text().count("| Bernoulli-LoRA") == 3
    assert main(["finetune", "--runs", "1", "--out", str(tmp_path)]) == 2


def test_minibatch_variance_is_the_per_example_formula():
    _, params, X, y = _net(4)
    sub = params[1:]
    H = np.maximum(X @ params[0][0].T + params[0][1], 0.0)
    W = sub[0][0]
    per = np.stack([mlp.layer_objective(sub, 0, H[i:i + 1], y[i:i + 1]).grad(W) for i in range(len(y))])
    expected = np.mean(np.sum((per - per.mean(axis=0)) ** 2, axis=(1, 2))) / 5
    assert np.isclose(local_theory._minibatch_variance(sub, H, y, W, 5), expected)


def test_trajectory_ratios_are_the_secant_and_descent_lemma_formulas():
    _, params, X, y = _net(6, sizes=(6, 5, 4, 3))
    sub = params[1:]
    H = np.maximum(X @ params[0][0].T + params[0][1], 0.0)
    obj = mlp.layer_objective(sub, 0, H, y)
    cfg = local_theory.TheoryConfig(steps=6)
    runs = local_theory._trajectories(sub, H, y, obj.W0, 0.3, cfg, np.random.SeedSequence(2).spawn(3), 4)
    for t in range(cfg.steps):
        W, W_next = runs.path[t], runs.path[t + 1]
        dW, G = W_next - W, obj.grad(W)
        assert np.isclose(runs.secant[0, t], np.linalg.norm(obj.grad(W_next) - G) / np.linalg.norm(dW))
        expected = 2 * (obj.f(W_next) - obj.f(W) - np.sum(G * dW)) / np.sum(dW * dW)
        assert np.isclose(runs.descent[0, t], expected, rtol=1e-8, atol=1e-8)
    assert np.allclose(runs.f[0], [obj.f(W) for W in runs.path])


def test_power_iteration_finds_the_top_eigenvalue_of_a_quadratic():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((4, 4))
    S = M @ M.T + np.diag([0, 0, 0, 9.0])  # f(W) = 0.5 <W, S W>, Hessian I_3 (x) S in the vec of W (4x3)
    est = local_theory.power_iteration(lambda W: S @ W, rng.standard_normal((4, 3)), rng, 200)
    assert np.isclose(est, np.linalg.eigvalsh(S)[-1], rtol=1e-6)


def test_theory_check_evaluates_theorem_1_with_the_local_constants():
    from verify.executors import blas_limit

    with blas_limit(1):
        exp = run(Config(runs=2, steps=5, round_len=5, pre_steps=100, methods=(Method("full", 0.3),)), 0)
        cfg = local_theory.TheoryConfig(steps=15, points=3, iters=5, reference_steps=30, head_steps=30)
        res = local_theory.run_theory(exp, 4, 0, cfg)
    gd, sgd = res.checks
    v = gd.values
    assert v["lambda_min_p"] == pytest.approx(1 / 64) and v["L"] == res.L_local >= res.L0 * 0.5
    assert np.allclose(gd.bound, 2 * v["Delta0"] / (v["gamma"] * v["lambda_min_p"] * gd.T), rtol=1e-12)
    assert gd.stepsize_ok == (res.gamma <= 1 / res.L_local * (1 + 1e-12)) == res.within_conditions
    # gamma from the pilot: 1/(margin * L_pilot), L_pilot at least L(W0)
    assert res.gamma == pytest.approx(1 / (cfg.pilot_margin * res.L_pilot), rel=1e-12) and res.L_pilot >= res.L0
    assert ("within" if res.within_conditions else "OUTSIDE") in res.verdict_line()
    assert res.descent_ok == (res.descent_max.max() <= res.L_hat * (1 + 1e-12))
    assert res.descent_max.shape == res.secant_max.shape == (cfg.steps,) and 0 <= res.secant_above <= 1
    assert np.allclose(sgd.bound - gd.bound, v["L"] * v["gamma"] * sgd.values["C"], rtol=1e-9)
    assert res.f_low <= res.f0 and np.all(res.sigma2 > 0) and np.all(res.pl_min > 0)
    assert gd.verdict in ("holds", "violated", "inconclusive")
    assert np.all(gd.lower <= gd.mean) and np.all(gd.mean <= gd.upper)


@pytest.mark.slow
def test_the_papers_ordering_holds_at_the_default_settings():
    """Full FT above the chains, chains far above one rank-1 LoRA, Bernoulli-LoRA within a point of RAC-LoRA
    (8 runs of the default experiment; the README's table uses 20)."""
    from verify.executors import blas_limit
    from verify.networks.finetune import table_rows

    with blas_limit(1):
        rows = {row["method"]: row["mean"] for row in table_rows(run(Config(runs=8), 0))}
    chains = [rows[k] for k in ("Bernoulli-LoRA (p=0.99)", "RAC-LoRA", "COLA")]
    assert rows["Full fine-tuning"] > max(chains)
    assert min(chains) > rows["LoRA"] + 5
    assert abs(rows["Bernoulli-LoRA (p=0.99)"] - rows["RAC-LoRA"]) < 1.0


def test_cola_probe_is_the_tables_cola_and_a_warmup_at_the_same_gamma_changes_nothing():
    from verify.networks import cola_probe

    _, params, X, y = _net(7)
    seeds = np.random.SeedSequence(3).spawn(3)
    kw = dict(layers=(1, 2), steps=12, round_len=4, batch=5)
    curves = adapters.finetune(Method("cola", 0.2), params, X, y, X, y, seeds, r=1, eval_every=12, **kw)
    plain = cola_probe.probe(cola_probe.Variant(0.2), params, X, y, seeds, **kw)
    assert np.allclose(plain, curves.train_loss[:, -1], rtol=1e-12)
    assert np.array_equal(cola_probe.probe(cola_probe.Variant(0.2, 2, 0.2), params, X, y, seeds, **kw), plain)
    assert not np.allclose(cola_probe.probe(cola_probe.Variant(0.2, 1, 0.05), params, X, y, seeds, **kw), plain)
    f0, sigma = cola_probe.initial_gradients(params, X, y, (1, 2))
    assert np.isclose(f0, mlp.loss_and_grads(params, X, y)[0]) and len(sigma) == 2 and min(sigma) > 0
    with pytest.raises(UserError, match="warmup_gamma"):
        cola_probe.Variant(0.2, 1)
