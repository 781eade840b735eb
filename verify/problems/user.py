r"""A user's own problem, from ``FILE.py:FACTORY`` or ``MODULE:FACTORY``, as a batched :class:`Problem`.

One protocol serves every command: the factory returns either a batched built-in-style
:class:`~verify.problems.base.Problem`, used as it is, or a **user object** with plain numpy oracles on
one ``(m, n)`` matrix (``shape``, ``f``, ``grad``, optionally ``W0``, ``f_star``, ``stochastic_grad(W, rng)``,
components, clients and the batched twins ``f_batch``/``grad_batch``/…; the full table is in
:mod:`verify.assumptions.adapter`, whose :class:`~verify.assumptions.adapter.Oracles` does the batching and
validation here too).  ``verify assumptions``, ``verify run --problem``, ``CheckSpec(problem=...)``,
``verify sweep`` and the pytest entry point all build problems through :func:`verify.problems.make`, which
sends such specs here.

**Constants.**  A user object may declare them in a mapping attribute ``constants``: a number, a
:class:`~verify.problems.base.Constant`, or a pair ``(value, how)``.  A bare number is recorded as
"declared by the user (not verified)" with the safe kind of its key: ``L`` an upper bound, ``mu`` a lower
bound, ``f_star`` exact (the gap measures need the exact ``inf f``).  An ``f_star`` attribute is the same as
``constants["f_star"]``.  Whatever is declared is still confronted with witnesses by every check
(:mod:`verify.audit`): a declared ``L`` below a secant of the gradient, an ``f*`` above a visited ``f``, a
``mu`` above a visited PŁ ratio make the check violated.

**Estimated constants** (``verify run --estimate-constants``; :func:`with_estimates`): constants the user
did not declare are taken from ``verify assumptions``' estimates and recorded with kind ``"estimate"``:
a sampled ``L`` is only a lower bound on the true one and a sampled ``mu`` an upper bound, so no end of
an interval makes the check sound; the check's result is marked **conditional on estimated constants**.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verify.errors import UserError, require
from verify.problems.base import SAFE_DIRECTION, Constant, Problem

__all__ = ["UserProblem", "factory_object", "is_user_spec", "load", "with_estimates"]

#: The kind a bare declared number gets: its safe direction (:data:`~verify.problems.base.SAFE_DIRECTION`),
#: except ``f_star``, which is taken as exact because the gap measures need the exact ``inf f``.
SAFE_KIND = {**SAFE_DIRECTION, "f_star": "exact"}
DECLARED = "declared by the user (not verified)"


def is_user_spec(spec: str, families: Mapping[str, Any]) -> bool:
    """Whether ``spec`` names a factory (``path/to/file.py:FACTORY`` or ``MODULE:FACTORY``) rather than a
    registered family (``NAME`` or ``NAME:key=value,…``)."""
    left, sep, right = spec.strip().rpartition(":")
    return bool(sep) and right.isidentifier() and left.split(":")[0] not in families


def _import_file(path: str) -> object:
    file = Path(path).expanduser()
    require(file.is_file(), f"problem file {path!r} does not exist; write path/to/file.py:FACTORY")
    name = f"verify_user_problem_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    require(spec is not None and spec.loader is not None, f"cannot import {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module may raise anything
        del sys.modules[name]
        raise UserError(f"importing {path!r} raised {type(exc).__name__}: {exc}") from None
    return module


def _import_module(module: str) -> object:
    """Import ``module`` with the current directory on ``sys.path`` (as ``python -m`` does)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"cannot import module {module!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - importing user code may raise anything
        raise UserError(f"importing module {module!r} raised {type(exc).__name__}: {exc}") from None


def factory_object(spec: str) -> object:
    """What ``FACTORY()`` returns for ``spec`` = ``path/to/file.py:FACTORY`` or ``MODULE:FACTORY``."""
    left, sep, factory = spec.strip().rpartition(":")
    require(bool(sep) and left != "" and factory.isidentifier(),
            f"problem {spec!r} is not allowed; write path/to/file.py:FACTORY or MODULE:FACTORY "
            "(e.g. examples/logreg.py:make_problem)")
    module = _import_file(left) if left.endswith(".py") else _import_module(left)
    require(hasattr(module, factory), f"{left!r} has no attribute {factory!r} (problem {spec!r})")
    fn = getattr(module, factory)
    require(callable(fn), f"{left}:{factory} is not callable (it is a {type(fn).__name__})")
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the user's factory may raise anything
        raise UserError(f"{left}:{factory}() raised {type(exc).__name__}: {exc}") from None


def _declared(obj: object, who: str) -> dict[str, Constant]:
    raw = dict(getattr(obj, "constants", None) or {})
    if getattr(obj, "f_star", None) is not None:
        require("f_star" not in raw, f"{who}: f_star is declared twice (attribute and constants); give it once")
        raw["f_star"] = obj.f_star
    out: dict[str, Constant] = {}
    for key, value in raw.items():
        require(key in SAFE_KIND, f"{who}: constant {key!r} is not allowed; known: {', '.join(SAFE_KIND)}")
        if isinstance(value, Constant):
            out[key] = value
        elif isinstance(value, tuple) and len(value) == 2:
            out[key] = Constant(value[0], f"{value[1]} ({DECLARED})", SAFE_KIND[key])
        else:
            out[key] = Constant(value, DECLARED, SAFE_KIND[key])
    return out


@dataclass(frozen=True, eq=False)
class UserProblem:
    """A user object behind the batched :class:`Problem` interface (module docstring).

    ``f``/``grad`` map ``(R, m, n)`` batches through the validated :class:`~verify.assumptions.adapter.Oracles`
    (one call per matrix, or one call of the user's batched twin).  With a stochastic oracle it also has
    ``sample_xi(rng, R, batch)`` and ``stochastic_grad(W, xi)``: a minibatch of ``batch`` one-sample
    gradients, averaged.  Pickled as its spec (and estimated constants), so worker processes rebuild it.
    """

    name: str
    spec: str
    params: dict[str, Any]
    shape: tuple[int, int]
    W0: np.ndarray
    constants: dict[str, Constant]
    oracles: Any = field(repr=False)

    def f(self, W: np.ndarray) -> np.ndarray:
        """``(R, m, n) → (R,)``."""
        return self.oracles.f(W)

    def grad(self, W: np.ndarray) -> np.ndarray:
        """``(R, m, n) → (R, m, n)``."""
        return self.oracles.grad(W)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        estimated = {k: c for k, c in self.constants.items() if c.kind == "estimate"}
        return _rebuild, (self.spec, estimated)


class StochasticUserProblem(UserProblem):
    """:class:`UserProblem` with the user's stochastic oracle (``stochastic_grad(W, rng)`` or components)."""

    def sample_xi(self, rng: np.random.Generator, R: int, batch: int) -> np.ndarray:
        """The randomness of ``R`` minibatches of ``batch`` one-sample gradients: leading axes ``(R, batch)``."""
        xi = self.oracles.sample(rng, R * batch)
        return xi.reshape(R, batch, *xi.shape[1:])

    def stochastic_grad(self, W: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``(1/batch) Σ_b g(W_r; ξ_{r,b})``: ``(R, m, n), (R, batch, …) → (R, m, n)``."""
        W = np.asarray(W, dtype=float)
        R, batch = xi.shape[:2]
        Wrep = np.repeat(W, batch, axis=0)
        g = self.oracles.stochastic_grad(Wrep, xi.reshape(R * batch, *xi.shape[2:]))
        return g.reshape(R, batch, *self.shape).mean(axis=1)


def _rebuild(spec: str, estimated: dict[str, Constant]) -> UserProblem:
    problem = load(spec)
    if not isinstance(problem, UserProblem):
        problem = _wrap(problem, spec)
    if estimated:
        problem = _replace_constants(problem, {**problem.constants, **estimated})
    return problem


def _from_oracles(orc: Any, name: str, spec: str, params: dict[str, Any], constants: dict[str, Constant]
                  ) -> UserProblem:
    """The :class:`UserProblem` (stochastic when the oracles have a stochastic gradient) behind ``orc``."""
    cls = StochasticUserProblem if orc.has_stochastic else UserProblem
    W0 = np.array(orc.W0, dtype=float)
    W0.setflags(write=False)
    return cls(name, spec.strip(), params, tuple(orc.shape), W0, constants, orc)


def _wrap(problem: Problem, spec: str) -> UserProblem:
    """A batched :class:`Problem` from a user's factory behind :class:`UserProblem` (whose constants can be
    replaced and which pickles as its spec)."""
    from verify.assumptions.adapter import adapt

    return _from_oracles(adapt(problem), problem.name, spec, dict(problem.params), dict(problem.constants))


def _replace_constants(problem: UserProblem, constants: dict[str, Constant]) -> UserProblem:
    cls = type(problem)
    return cls(problem.name, problem.spec, problem.params, problem.shape, problem.W0, constants, problem.oracles)


def load(spec: str) -> Problem:
    """The problem of ``spec`` = ``path/to/file.py:FACTORY`` or ``MODULE:FACTORY`` (module docstring).

    A batched :class:`Problem` returned by the factory is used as it is; a user object is wrapped in a
    :class:`UserProblem` named after the factory.  UserError on a missing file, module or factory, a
    factory that raises, or a malformed object.
    """
    from verify.assumptions.adapter import adapt

    obj = factory_object(spec)
    if isinstance(obj, Problem):
        return obj
    who = spec.strip().rpartition(":")[2]
    return _from_oracles(adapt(obj, who=who), str(getattr(obj, "name", who)), spec, {"factory": spec.strip()},
                         _declared(obj, who))


def with_estimates(problem: Problem, spec: str, keys: tuple[str, ...] = ("L", "mu", "f_star"), seed: int = 0
                   ) -> Problem:
    """``problem`` (built from ``spec``) with the constants among ``keys`` that it does not declare taken from
    ``verify assumptions``' estimates (kind ``"estimate"``; module docstring).  Only a user's own problem
    (``spec`` = ``FILE.py:FACTORY`` or ``MODULE:FACTORY``, whether its factory returns a user object or a
    batched problem such as a torch model's) takes estimates; a built-in problem certifies its constants."""
    from verify.problems.registry import FAMILIES

    require(is_user_spec(spec, FAMILIES),
            f"--estimate-constants applies to your own problem (FILE.py:FACTORY or MODULE:FACTORY), not {spec!r}, "
            "whose constants are certified")
    if not isinstance(problem, UserProblem):
        problem = _wrap(problem, spec)
    missing = [k for k in keys if k not in problem.constants]
    if not missing:
        return problem
    from verify.assumptions import check_assumptions

    report = check_assumptions(problem.oracles, seed=seed)
    where = {"L": "smooth", "mu": "pl", "f_star": "lower_bounded"}
    consts = dict(problem.constants)
    for key in missing:
        finding = report.findings[where[key]]
        value = (finding.estimate or {}).get(key)
        if finding.status == "holds" and value is not None and np.isfinite(float(value)):
            consts[key] = Constant(float(value), f"estimated by verify assumptions ({where[key]}: {finding.method})",
                                   "estimate")
    return _replace_constants(problem, consts)
