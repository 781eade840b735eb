"""The registry of built-in problem families and the ``"name:key=value,…"`` spec parser."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from verify.errors import UserError
from verify.problems.base import Problem
from verify.problems.federated_ls import federated_ls
from verify.problems.l1_regression import l1_regression
from verify.problems.least_squares import least_squares
from verify.problems.nonconvex_reg import nonconvex_reg
from verify.problems.norm_distance import norm_distance
from verify.problems.pl_sine import pl_sine
from verify.problems.quadratic import isotropic_quadratic

FAMILIES: dict[str, Callable[..., Problem]] = {
    "isotropic-quadratic": isotropic_quadratic,
    "least-squares": least_squares,
    "nonconvex-reg": nonconvex_reg,
    "pl-sine": pl_sine,
    "federated-ls": federated_ls,
    "l1-regression": l1_regression,
    "norm-distance": norm_distance,
}


def names() -> list[str]:
    """Names of the built-in problem families."""
    return list(FAMILIES)


def _factory(name: str) -> Callable[..., Problem]:
    if name not in FAMILIES:
        raise UserError(f"unknown problem {name!r}; known problems: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def defaults(name: str) -> dict[str, object]:
    """The default parameters of family ``name`` (from its factory's signature)."""
    return {k: p.default for k, p in inspect.signature(_factory(name)).parameters.items()}


def describe(name: str) -> str:
    """One line: what family ``name`` is and its default parameters."""
    summary = inspect.getdoc(_factory(name)).splitlines()[0].rstrip(".")
    return f"{name}: {summary}. Defaults: " + ", ".join(f"{k}={v}" for k, v in defaults(name).items())


def _value(text: str) -> int | float | str:
    """Parse a spec value as ``int``, else ``float``, else the string itself."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, int | float | str]]:
    """Split ``"name"`` or ``"name:key=value,key=value"`` into the name and the parsed parameters."""
    if not isinstance(spec, str):
        raise UserError(f"problem spec {spec!r} is not allowed; write 'name' or 'name:key=value,…'")
    name, _, rest = spec.partition(":")
    name = name.strip()
    kwargs: dict[str, int | float | str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, text = (s.strip() for s in item.partition("="))
        if not eq or not key or not text:
            raise UserError(f"problem spec item {item!r} in {spec!r} is not allowed; write key=value")
        if key in kwargs:
            raise UserError(f"problem spec {spec!r} gives {key!r} twice; give each key once")
        kwargs[key] = _value(text)
    return name, kwargs


def make(spec: str) -> Problem:
    """Build a problem from ``"name"`` or ``"name:key=value,key=value"``, or a user's problem from
    ``"path/to/file.py:FACTORY"`` or ``"MODULE:FACTORY"`` (:mod:`verify.problems.user`).

    Values are parsed as ``int``, then ``float``, then kept as strings; e.g.
    ``make("least-squares:m=6,kappa=100,spectrum=linear")`` or ``make("nonconvex-reg:m=64,n=64,N=10000")``.

    Raises
    ------
    UserError
        Unknown name (the message lists the known names), unknown key (lists the family's keys), or a
        value of the wrong type or out of range (names the key, the value and what is allowed).
    """
    from verify.problems import user

    if isinstance(spec, str) and user.is_user_spec(spec, FAMILIES):
        return user.load(spec)
    name, kwargs = parse_spec(spec)
    factory = _factory(name)
    allowed = defaults(name)
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise UserError(f"{name}: unknown parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    return factory(**kwargs)
