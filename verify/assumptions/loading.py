"""Load a problem from ``MODULE:FACTORY`` (any importable module) or ``builtin:SPEC`` (the registry)."""

from __future__ import annotations

import importlib
import os
import sys

from verify.errors import UserError, require
from verify.problems import make

__all__ = ["BUILTIN_PREFIX", "load_problem"]

BUILTIN_PREFIX = "builtin:"


def _import(module: str) -> object:
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


def load_problem(spec: str) -> object:
    """The object ``FACTORY()`` from ``"MODULE:FACTORY"``, or the built-in problem of ``"builtin:NAME[:k=v,…]"``.

    Parameters
    ----------
    spec : str
        ``"examples.my_problem:make_problem"`` imports ``examples.my_problem`` (the current directory is
        searched first) and calls ``make_problem()`` with no arguments; ``"builtin:least-squares:noise=0.5"``
        is ``verify.problems.make("least-squares:noise=0.5")``.

    Raises
    ------
    UserError
        Malformed spec, module not importable, factory missing or not callable, or the factory raised.
        What the factory returns is checked later, by :func:`~verify.assumptions.adapter.adapt`.
    """
    require(isinstance(spec, str) and spec.strip() != "",
            f"problem {spec!r} is not allowed; write MODULE:FACTORY or builtin:NAME[:key=value,...]")
    spec = spec.strip()
    if spec.startswith(BUILTIN_PREFIX):
        return make(spec[len(BUILTIN_PREFIX):])
    module, sep, factory = spec.partition(":")
    require(bool(sep) and module != "" and factory.isidentifier(),
            f"problem {spec!r} is not allowed; write MODULE:FACTORY (e.g. examples.my_problem:make_problem) "
            "or builtin:NAME[:key=value,...]")
    mod = _import(module)
    require(hasattr(mod, factory), f"module {module!r} has no attribute {factory!r}")
    fn = getattr(mod, factory)
    require(callable(fn), f"{module}:{factory} is not callable (it is a {type(fn).__name__})")
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the user's factory may raise anything
        raise UserError(f"{module}:{factory}() raised {type(exc).__name__}: {exc}") from None
