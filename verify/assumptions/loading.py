"""Load a problem from ``MODULE:FACTORY``, ``path/to/file.py:FACTORY`` (:func:`verify.problems.user.factory_object`)
or ``builtin:SPEC`` (the registry)."""

from __future__ import annotations

from verify.errors import require
from verify.problems import make
from verify.problems.user import factory_object

__all__ = ["BUILTIN_PREFIX", "load_problem"]

BUILTIN_PREFIX = "builtin:"


def load_problem(spec: str) -> object:
    """The object ``FACTORY()`` from ``"MODULE:FACTORY"`` or ``"path/to/file.py:FACTORY"``, or the built-in problem
    of ``"builtin:NAME[:k=v,…]"``.

    Parameters
    ----------
    spec : str
        ``"examples/logreg.py:make_problem"`` imports that file; ``"examples.my_problem:make_problem"``
        imports ``examples.my_problem`` (the current directory is searched first); either calls
        ``make_problem()`` with no arguments.  ``"builtin:least-squares:noise=0.5"`` is
        ``verify.problems.make("least-squares:noise=0.5")``.

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
    return factory_object(spec)
