r"""The audit of a check's certified constants: every declared constant against an independent witness.

A theorem check is only as good as the constants it is evaluated with.  A wrong ``L``, ``mu``, ``f*``,
``omega`` or ``E0`` makes the bound wrong while the runs look fine, so block 0 of every check also
confronts each constant it uses with a witness computed from the **oracles** (never from the code that
produced the constant) and :func:`decide` turns a contradicted constant into a violated check.

Exact witnesses (no sampling; compared with relative tolerance :data:`RTOL`):

* **Quadratic problems** (those with ``quadratic()``): the Hessian ``A`` is read off the gradient oracle,
  column by column, ``A e_j = vec(∇f(W0 + E_j) − ∇f(W0))`` (exact for an affine gradient up to rounding),
  a minimiser by one Newton step ``W* = W0 − mat(A⁺ vec ∇f(W0))`` and ``f* = f(W*)``.  Then
  ``L = λ_max(A)``, ``mu = λ_min⁺(A)`` (for ``f − f* = ½ wᵀA w``, ``½‖A w‖² ≥ λ_min⁺ · ½ wᵀA w`` with
  equality on the smallest eigenvector), ``f_star = f(W*)``; federated problems give ``L_i = λ_max(A_i)``
  from ``client_grads``, so ``L_max = max_i L_i`` and ``L_tilde = ((1/M) Σ L_i²)^{1/2}``.  The exact
  oracle's own model (``quadratic().A``) must equal the read-off Hessian.
* **Secants** (problems without ``quadratic()`` that declare ``L``): every ``‖∇f(W + h v) − ∇f(W)‖ /
  (h‖v‖)`` is a lower bound on any Lipschitz constant of ``∇f``; a power iteration of such secants at ``W0``
  and three points around it gives the largest one found, which ``L`` must not undercut (relative
  tolerance 1e-6, for the rounding of the difference).
* **Along the runs** (every problem): every visited point is a witness of ``f(W) ≥ f*`` and, with a PŁ
  constant, of ``½‖∇f(W)‖² ≥ mu (f(W) − f*)``.
* **The measure at its first point**, a deterministic identity: every measure at ``T' = 1`` involves
  ``W^0`` only (``avg_grad_sq`` and ``weighted_grad_sq`` equal ``‖∇f(W^0)‖²``, ``gap_avg_iterate`` and
  ``gap_best`` equal ``f(W^0) − f*``) and ``gap_last`` at ``T' = 0`` is ``f(W^0) − f*``; every run's value
  must equal that, computed from the oracles at ``W^0``.  A one-sided bound cannot see a measure that is
  computed too small (a best iterate taken at the last one, an average that includes ``W^T``); this can.

Sampled witnesses (one-sided or two-sided skew-aware confidence bounds, :func:`verify.stats.moment_bounds`,
each column one test of the check's Bonferroni split):

* **The initial estimator error**: the runs' ``err[:, 0]`` (the Lyapunov term at ``t = 0``) has mean at most
  the declared ``E0``.
* **The stochastic oracle** at ``W0`` (for the theorems that use it), with the estimator's minibatch ``b``:
  ``E g = ∇f`` per coordinate (two-sided) and ``E‖g − ∇f‖² ≤ sigma2/b`` or ``(2 var_A (f − f*) + var_C)/b``.
* **The compressor** at witnesses ``x`` (all ones, ``e_1``, a fixed Gaussian vector):
  ``E‖Q(x) − x‖² ≤ omega ‖x‖²`` (unbiased class, with ``E Q(x) = x`` per coordinate at ``x = 1``) or
  ``‖C(x) − x‖² ≤ (1 − alpha) ‖x‖²`` in mean (contractive class).  Top-k attains its ``alpha`` at ``x = 1``,
  rand-k its ``omega`` at every ``x``.

A witness can only contradict a constant, never certify it: a constant that passes the audit may still be
wrong in a direction no witness reached.  The audit record lists every item with its declared value, the
witness and, once decided, whether it holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from verify import stats
from verify.blocks import Moments
from verify.exact.quadratic import unvec, vec
from verify.measures import measure_values
from verify.problems.base import SAFE_DIRECTION

#: Relative tolerance of the exact comparisons (float64 eigenvalues of matrices of size <= MAX_EXACT_DIM).
RTOL = 1e-8
#: The Hessian is read off the gradient oracle only up to this many entries m n (an (mn)² eigenproblem).
MAX_EXACT_DIM = 1024
#: Samples per sampled witness.
SAMPLES = 2000

_SAFE = {"exact": "equal", "upper": "upper", "lower": "lower"}


def _direction(key: str, kind: str) -> str:
    """The witness's direction: that of the constant's kind, or, for an estimate, the one that keeps a check
    sound (:data:`~verify.problems.base.SAFE_DIRECTION`)."""
    return SAFE_DIRECTION.get(key, "equal") if kind == "estimate" else _SAFE[kind]


#: Theorem constants that say the method uses the stochastic oracle (then the oracle is audited).
STOCHASTIC = {"A", "C", "sigma2", "Lms"}


def _exact(constant: str, declared: float, witness: float, direction: str, how: str, scale: float) -> dict[str, Any]:
    return {"constant": constant, "declared": float(declared), "witness": float(witness), "direction": direction,
            "sampled": False, "scale": float(scale), "how": how}


def _sampled(constant: str, declared: float, X: np.ndarray, direction: str, how: str) -> dict[str, Any]:
    """A sampled item: the moments of the columns of ``X`` (samples, columns) against ``declared``."""
    X = np.asarray(X, dtype=float)
    X = X.reshape(X.shape[0], -1)
    return {"constant": constant, "declared": float(declared), "direction": direction, "sampled": True,
            "moments": Moments.of(X).to_record(), "how": how}


def _hessian(oracle: Any, W0: np.ndarray) -> np.ndarray:
    """``(..., mn, mn)`` Hessian of an affine gradient oracle ``(R, m, n) → (R, ..., m, n)`` at ``W0``."""
    m, n = W0.shape
    d = m * n
    E = unvec(np.eye(d), (m, n))                                   # E[j] = unvec(e_j), column-major
    G = oracle(np.concatenate([W0[None], W0[None] + E]))
    cols = vec(G[1:] - G[:1])                                      # (d, ..., d): column j of each Hessian
    A = np.moveaxis(cols, 0, -1)
    return (A + np.swapaxes(A, -1, -2)) / 2


def _quadratic_items(problem: Any) -> list[dict[str, Any]]:
    if not hasattr(problem, "quadratic") or int(np.prod(problem.shape)) > MAX_EXACT_DIM:
        return []
    consts = problem.constants
    W0 = np.asarray(problem.W0, dtype=float)
    A = _hessian(problem.grad, W0)
    eig = np.linalg.eigvalsh(A)
    top = float(eig[-1])
    items = []
    model = np.asarray(problem.quadratic().A, dtype=float)
    items.append(_exact("quadratic model", 0.0, float(np.max(np.abs(model - A))), "equal",
                        "max |A_model - A| with A read off the gradient oracle (the exact oracle's Hessian)", top))
    if "L" in consts:
        items.append(_exact("L", consts["L"].value, top, _direction("L", consts["L"].kind),
                            "lambda_max of the Hessian read off the gradient oracle", top))
    positive = eig[eig > RTOL * max(top, 1e-300) * len(eig)]
    if "mu" in consts and positive.size:
        items.append(_exact("mu", consts["mu"].value, float(positive[0]), _direction("mu", consts["mu"].kind),
                            "smallest positive eigenvalue of the Hessian read off the gradient oracle", top))
    if "f_star" in consts:
        g0 = vec(problem.grad(W0[None])[0])
        step = np.linalg.lstsq(A, g0, rcond=None)[0]
        m, n = problem.shape
        W_star = W0 - unvec(step, (m, n))
        f_pair = problem.f(np.stack([W_star, W0]))
        fs = consts["f_star"]
        items.append(_exact("f_star", fs.value, float(f_pair[0]), _direction("f_star", fs.kind),
                            "f at the Newton step W0 - A^+ grad f(W0) (a minimiser of the quadratic)",
                            max(abs(float(f_pair[1]) - float(f_pair[0])), abs(float(f_pair[0])), 1e-300)))
    if hasattr(problem, "client_grads") and ("L_max" in consts or "L_tilde" in consts):
        L_i = np.linalg.eigvalsh(_hessian(problem.client_grads, W0))[..., -1]
        for key, witness, how in (("L_max", float(np.max(L_i)), "max_i lambda_max(A_i)"),
                                  ("L_tilde", float(np.sqrt(np.mean(L_i**2))), "sqrt(mean_i lambda_max(A_i)^2)")):
            if key in consts:
                items.append(_exact(key, consts[key].value, witness, _direction(key, consts[key].kind),
                                    f"{how}, client Hessians A_i read off client_grads", witness))
    return items


#: Secant power iterations per point of the L witness of a non-quadratic problem.
SECANT_STEPS = 12


def _secant_items(problem: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``L`` against secants ``‖∇f(W + h v) − ∇f(W)‖ / (h ‖v‖)``, each a lower bound on any Lipschitz
    constant of ``∇f``, along a power iteration at ``W0`` and three points around it."""
    if hasattr(problem, "quadratic") or "L" not in problem.constants:
        return []
    W0 = np.asarray(problem.W0, dtype=float)
    m, n = W0.shape
    radius = max(1.0, float(np.linalg.norm(W0)) / np.sqrt(m * n))
    P = np.concatenate([W0[None], W0[None] + radius * rng.standard_normal((3, m, n))])
    V = rng.standard_normal(P.shape)
    h = 1e-3 * radius
    best = 0.0
    G0 = problem.grad(P)
    for _ in range(SECANT_STEPS):
        V /= np.sqrt(np.einsum("kij,kij->k", V, V))[:, None, None]
        D = (problem.grad(P + h * V) - G0) / h
        ratios = np.sqrt(np.einsum("kij,kij->k", D, D))
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            best = max(best, float(ratios.max()))
        V = np.where(np.isfinite(D), D, rng.standard_normal(D.shape)) + 1e-12 * rng.standard_normal(D.shape)
    c = problem.constants["L"]
    return [_exact("L", c.value, best, _direction("L", c.kind) if c.kind != "exact" else "upper",
                   f"largest secant ||grad f(W + h v) - grad f(W)|| / (h ||v||) of a power iteration at W0 and 3 "
                   f"points around it (h = {h:.3g})", best * 1e2)]


def _trajectory_items(problem: Any, trace: Any) -> list[dict[str, Any]]:
    consts = problem.constants
    f = np.asarray(trace.f, dtype=float)
    ok = np.isfinite(f)
    if "f_star" not in consts or not ok.any():
        return []
    f_star = consts["f_star"].value
    spread = float(np.max(np.abs(f[ok] - f_star)))
    scale = max(spread, abs(f_star), 1e-300)
    items = [_exact("f_star", f_star, float(np.min(f[ok])), "lower",
                    "the smallest f over every visited point of the runs (f >= f* everywhere)", scale)]
    if "mu" in consts:
        gap = f - f_star
        # only points well above the rounding floor of f - f*: there the ratio is meaningful
        usable = ok & np.isfinite(trace.grad_sq) & (gap > 1e-6 * scale)
        if usable.any():
            ratio = float(np.min(0.5 * trace.grad_sq[usable] / gap[usable]))
            items.append(_exact("mu", consts["mu"].value, ratio, "lower",
                                "min over visited points of (1/2)||grad f||^2 / (f - f*) with the declared f*",
                                max(ratio, 1e-300) * 1e2))
    return items


#: The measures' closed form at their first point: (T', "grad_sq" or "gap").
_FIRST_POINT = {"avg_grad_sq": (1, "grad_sq"), "weighted_grad_sq": (1, "grad_sq"), "gap_avg_iterate": (1, "gap"),
                "gap_best": (1, "gap"), "gap_last": (0, "gap")}


def _measure_items(problem: Any, measure: str, trace: Any, shape: dict[str, float]) -> list[dict[str, Any]]:
    if measure not in _FIRST_POINT or "f_star" not in problem.constants:
        return []
    T1, kind = _FIRST_POINT[measure]
    f_star = problem.constants["f_star"].value
    W0 = np.asarray(problem.W0, dtype=float)[None]
    g0 = problem.grad(W0)
    f0 = float(problem.f(W0)[0])
    expected = float(np.sum(g0 * g0)) if kind == "grad_sq" else f0 - f_star
    X = measure_values(measure, trace, np.array([T1]), f_star, **shape)[:, 0]
    X = X[np.isfinite(X)]
    if X.size == 0:
        return []
    worst = float(X[np.argmax(np.abs(X - expected))])
    what = "||grad f(W^0)||^2" if kind == "grad_sq" else "f(W^0) - f*"
    scale = max(abs(expected), abs(f0), abs(f_star), 1e-300) * 1e2
    return [_exact(f"measure {measure} at T = {T1}", expected, worst, "equal",
                   f"every run's {measure} at T' = {T1} must be {what} (it involves W^0 only); the farthest run",
                   scale)]


def _initial_error_items(values: dict[str, float], trace: Any) -> list[dict[str, Any]]:
    err0 = np.asarray(trace.err[:, 0], dtype=float)
    if "E0" not in values or not np.all(np.isfinite(err0)) or err0.size < 2:
        return []
    return [_sampled("E0", values["E0"], err0[:, None], "upper",
                     "the runs' initial estimator error E||G^0 - grad f(W^0)||^2 (Lyapunov term at t = 0)")]


def _oracle_items(problem: Any, estimator: Any, values: dict[str, float],
                  rng: np.random.Generator) -> list[dict[str, Any]]:
    if not hasattr(problem, "sample_xi") or not STOCHASTIC & set(values):
        return []
    consts = problem.constants
    b = int(getattr(estimator, "batch", 1) or 1)
    W0 = np.asarray(problem.W0, dtype=float)
    W = np.broadcast_to(W0, (SAMPLES, *W0.shape))
    noise = problem.stochastic_grad(W, problem.sample_xi(rng, SAMPLES, b)) - problem.grad(W0[None])
    items = [_sampled("unbiased oracle", 0.0, noise, "equal",
                      f"E g(W0; xi) - grad f(W0) per entry, minibatch {b}")]
    if "sigma2" in consts:
        declared, how = consts["sigma2"].value / b, "sigma2/b"
    elif "var_A" in consts and "var_C" in consts:
        gap = float(problem.f(W0[None])[0]) - consts["f_star"].value
        declared = (2 * consts["var_A"].value * gap + consts["var_C"].value) / b
        how = "(2 var_A (f(W0) - f*) + var_C)/b"
    else:
        return items
    items.append(_sampled("variance", declared, np.einsum("rij,rij->r", noise, noise)[:, None], "upper",
                          f"E||g(W0; xi) - grad f(W0)||^2 against {how}, minibatch {b}"))
    return items


def _compressor_items(shape: tuple[int, int], compressor: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    if compressor is None:
        return []
    m, n = shape
    d = m * n
    witnesses = {"x = 1": np.ones((m, n)), "x = e_1": np.eye(1, d).reshape(m, n),
                 "x Gaussian": rng.standard_normal((m, n))}
    items = []
    unbiased = bool(getattr(compressor, "unbiased", False))
    declared = compressor.omega(d) if unbiased else 1.0 - compressor.alpha(d)
    name = "omega" if unbiased else "1 - alpha_c"
    for label, x in witnesses.items():
        X = np.broadcast_to(x, (SAMPLES, m, n))
        err = compressor.compress(X, rng) - X
        ratio = np.einsum("rij,rij->r", err, err) / float(np.sum(x * x))
        items.append(_sampled(name, declared, ratio[:, None], "upper",
                              f"E||C(x) - x||^2/||x||^2 at {label}, {compressor!r} at d = {d}"))
        if unbiased and label == "x = 1":
            items.append(_sampled("unbiased compressor", 0.0, err, "equal",
                                  f"E C(x) - x per entry at {label}, {compressor!r}"))
    return items


def audit_record(prep: Any, trace: Any, values: dict[str, float], rng: np.random.Generator,
                 shape: dict[str, float]) -> dict[str, Any]:
    """Block 0's audit items (module docstring) for a prepared check whose runs gave ``trace``; ``shape`` holds
    the one-step ``a`` and ``k`` the measure needs (:func:`verify.measures.measure_values`)."""
    problem, estimator = prep.problem, prep.estimator
    items = (_quadratic_items(problem) + _secant_items(problem, rng) + _trajectory_items(problem, trace)
             + _measure_items(problem, prep.theorem.measure, trace, shape) + _initial_error_items(values, trace)
             + _oracle_items(problem, estimator, values, rng)
             + _compressor_items(problem.shape, getattr(estimator, "compressor", None), rng))
    return {"items": items}


def tests(record: dict[str, Any] | None) -> int:
    """How many one-sided statistical tests the record's sampled items make: one per column, two for a
    two-sided (``equal``) column, each at the level :func:`decide` is given."""
    if not record:
        return 0
    return sum(len(it["moments"]["mean"]) * (2 if it["direction"] == "equal" else 1)
               for it in record["items"] if it["sampled"])


def _holds_exact(it: dict[str, Any]) -> bool:
    declared, witness, tol = it["declared"], it["witness"], RTOL * it["scale"]
    if it["direction"] == "upper":
        return declared >= witness - tol
    if it["direction"] == "lower":
        return declared <= witness + tol
    return abs(declared - witness) <= tol


def decide(record: dict[str, Any] | None, alpha_each: float) -> tuple[dict[str, Any] | None, str | None]:
    """The decided record (``holds`` per item) and the first contradiction in words, or None.

    A sampled item with declared value ``c`` is contradicted when the lower confidence bound of a column's
    mean exceeds ``c`` (``upper``: ``c`` is claimed to bound the mean from above) or, for ``equal``, when
    the two-sided interval at ``alpha_each`` per side excludes ``c``.
    """
    if not record:
        return record, None
    out, first = [], None
    for it in record["items"]:
        it = dict(it)
        if it["sampled"]:
            mom = Moments.from_record(it["moments"])
            b = stats.moment_bounds(mom, alpha_each)
            c = it["declared"]
            tol = RTOL * max(abs(c), 1e-300)
            low_bad = b.lower > c + tol
            high_bad = (b.upper < c - tol) if it["direction"] == "equal" else np.zeros_like(low_bad)
            bad = np.where(np.isnan(b.lower), False, low_bad | high_bad)
            it["holds"] = not bool(bad.any())
            j = int(np.argmax(bad)) if bad.any() else int(np.argmax(np.abs(b.mean - c)))
            it["witness"] = float(b.mean[j])
            it["interval"] = [float(b.lower[j]), float(b.upper[j])]
            del it["moments"]
        else:
            it["holds"] = _holds_exact(it)
        if not it["holds"] and first is None:
            shown = (f"{it['witness']:.6g}" if "interval" not in it
                     else "confidence interval [{:.6g}, {:.6g}]".format(*it["interval"]))
            claim = {"upper": "an upper bound on", "lower": "a lower bound on", "equal": "equal to"}[it["direction"]]
            first = (f"certified constant {it['constant']} = {it['declared']:.6g}, claimed {claim} its witness, "
                     f"is contradicted by it: {shown} ({it['how']})")
        out.append(it)
    return {"items": out}, first
