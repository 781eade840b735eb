"""The batched runner: the LoRA factor-form equivalence, determinism, divergence and degenerate sketches."""

from __future__ import annotations

import numpy as np
import pytest

from verify import problems, sketch
from verify.estimators import FullGradient
from verify.projection import BernoulliProjector
from verify.runner import Algorithm, run
from verify.stepsizes import ConstantStep


def _factor_grad(f, W, direction_of, shape, h=1e-6):
    """Central finite differences of phi(X) = f(W + direction_of(X)) at X = 0 (an independent oracle)."""
    g = np.zeros(shape)
    for idx in np.ndindex(*shape):
        E = np.zeros(shape)
        E[idx] = h
        g[idx] = (f(W + direction_of(E)) - f(W + direction_of(-E))) / (2 * h)
    return g


@pytest.mark.parametrize("p", [1.0, 0.0, 0.5])
def test_projected_step_equals_literal_lora_chain_step(p):
    """W - gamma H_B G (resp. G H_A) equals W + (alpha/r) B_S A_hat with A_hat one scaled gradient step from 0.

    Left branch: phi(A) = f(W + (alpha/r) B_S A), A_hat = -eta (B_S^T B_S)^+ grad phi(0),
    W+ = W + (alpha/r) B_S A_hat.  Right branch: phi(B) = f(W + (alpha/r) B A_S),
    B_hat = -eta grad phi(0) (A_S A_S^T)^+, W+ = W + (alpha/r) B_hat A_S.  Both equal the projected
    step with gamma = eta (alpha/r)^2.
    """
    prob = problems.make("least-squares:m=6,n=5,N=20,noise=0.3")
    m, n = prob.shape
    R, r, alpha, eta = 6, 2, 3.0, 0.7
    gamma = eta * (alpha / r) ** 2
    proj = BernoulliProjector(p=p, r=r, left=sketch.make("gaussian"), right=sketch.make("gaussian"))
    algo = Algorithm(FullGradient(), proj, ConstantStep(gamma))
    rng = np.random.default_rng(np.random.SeedSequence(7).spawn(1)[0])
    W = rng.standard_normal((R, m, n))
    draw = proj.draw(np.random.default_rng(11), R, m, n)
    W_next, _, _ = algo.step(prob, 0, W, prob.grad(W), np.random.default_rng(11))

    def f1(X):
        return float(prob.f(X[None])[0])

    iB = iA = 0
    for i in range(R):
        if draw.left[i]:
            B_S = draw.B_S[iB]
            iB += 1
            g = _factor_grad(f1, W[i], lambda A, B_S=B_S: (alpha / r) * B_S @ A, (r, n))
            A_hat = -eta * np.linalg.pinv(B_S.T @ B_S) @ g
            lora = W[i] + (alpha / r) * B_S @ A_hat
        else:
            A_S = draw.A_S[iA]
            iA += 1
            g = _factor_grad(f1, W[i], lambda B, A_S=A_S: (alpha / r) * B @ A_S, (m, r))
            B_hat = -eta * g @ np.linalg.pinv(A_S @ A_S.T)
            lora = W[i] + (alpha / r) * B_hat @ A_S
        np.testing.assert_allclose(W_next[i], lora, rtol=1e-6, atol=1e-7)
    assert (iB, iA) == (int(draw.left.sum()), int((~draw.left).sum()))


def _gd(p=0.5, r=2, dist="gaussian", gamma=1.0):
    proj = BernoulliProjector(p=p, r=r, left=sketch.make(dist), right=sketch.make(dist))
    return Algorithm(FullGradient(), proj, ConstantStep(gamma))


def test_same_seed_same_numbers_different_seed_different():
    prob = problems.make("least-squares")
    a = run(prob, _gd(), 8, 30, np.random.default_rng(np.random.SeedSequence(5)))
    b = run(prob, _gd(), 8, 30, np.random.default_rng(np.random.SeedSequence(5)))
    c = run(prob, _gd(), 8, 30, np.random.default_rng(np.random.SeedSequence(6)))
    assert np.array_equal(a.f, b.f) and np.array_equal(a.grad_sq, b.grad_sq)
    assert not np.allclose(a.f[:, -1], c.f[:, -1])
    assert a.f.shape == (8, 31) and np.all(a.f[:, 0] == a.f[0, 0])


def test_gd_is_monotone_at_gamma_1_over_L():
    """With gamma <= 1/L every Bernoulli-LoRA-GD step decreases f (f(W+) <= f - gamma/2 ||G_hat||^2)."""
    prob = problems.make("nonconvex-reg")
    tr = run(prob, _gd(gamma=1 / prob.constants["L"].value), 16, 100, np.random.default_rng(0))
    assert np.all(np.diff(tr.f, axis=1) <= 1e-12 * np.abs(tr.f[:, :-1]))


def test_divergence_is_recorded_not_raised():
    prob = problems.make("isotropic-quadratic")
    tr = run(prob, _gd(p=1.0, r=8, gamma=1e3), 4, 400, np.random.default_rng(0))
    assert not np.isfinite(tr.f[:, -1]).all()


def test_degenerate_sketch_never_reaches_the_missing_directions():
    """Fixed-subspace sketches leave the block of W - W* outside rows/cols 0..r-1 untouched: f stalls there."""
    prob = problems.make("isotropic-quadratic")
    L = prob.constants["L"].value
    r = 2
    tr = run(prob, _gd(r=r, dist="degenerate", gamma=1 / L), 32, 400, np.random.default_rng(1),
             snapshot_at=[400])
    W_T = tr.snapshots[400][0]
    D0 = prob.W0 - _w_star(prob)
    unreachable = D0[r:, r:]
    expected = np.broadcast_to(unreachable, (32, *unreachable.shape))
    np.testing.assert_allclose(W_T[:, r:, r:] - _w_star(prob)[r:, r:], expected)
    stall = 0.5 * L * np.sum(unreachable**2)
    assert np.all(tr.f[:, -1] >= stall * (1 - 1e-12))
    assert np.allclose(tr.f[:, -1], stall, rtol=1e-6)  # everything reachable has converged


def _w_star(prob):
    """The isotropic quadratic's minimiser, recovered from its gradient at 0: grad f(0) = -L W*."""
    m, n = prob.shape
    return -prob.grad(np.zeros((1, m, n)))[0] / prob.constants["L"].value


@pytest.mark.parametrize("spec", ["nonconvex-reg:m=5,n=4,N=30", "least-squares:m=5,n=4,N=30"])
def test_trace_records_f_and_grad_of_the_iterates(spec):
    """The runner's single oracle call per step (value_and_grad where the problem has it) gives f(W^t) and
    ‖∇f(W^t)‖² of the iterates it moves to."""
    prob = problems.make(spec)
    proj = BernoulliProjector(p=0.5, r=2, left=sketch.make("gaussian"), right=sketch.make("gaussian"))
    algo = Algorithm(FullGradient(), proj, ConstantStep(0.5 / prob.constants["L"].value))
    trace = run(prob, algo, 5, 6, np.random.default_rng(3), snapshot_at=(0, 3, 6))
    for t, (W, _) in trace.snapshots.items():
        np.testing.assert_allclose(trace.f[:, t], prob.f(W), rtol=1e-12)
        g = prob.grad(W)
        np.testing.assert_allclose(trace.grad_sq[:, t], np.einsum("rij,rij->r", g, g), rtol=1e-12)
    assert np.all(np.diff(trace.f, axis=1) < 0)  # GD at gamma < 1/L descends: the runs moved
