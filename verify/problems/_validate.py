"""Validation of family parameters: each raises :class:`~verify.errors.UserError` with a one-line message
naming the family, the key, the value received and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from verify.errors import UserError


def _fail(family: str, key: str, value: object, allowed: str) -> UserError:
    return UserError(f"{family}: {key}={value!r} is not allowed; {key} must be {allowed}")


def integer(family: str, key: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _fail(family, key, value, f"an integer >= {minimum}")
    return int(value)


def real(
    family: str, key: str, value: object, minimum: float | None = None, strict: bool = False,
    maximum: float | None = None,
) -> float:
    """Return ``value`` as a finite ``float`` in ``[minimum, maximum]`` (``(minimum, …`` if ``strict``)."""
    lo = "" if minimum is None else (f"> {minimum}" if strict else f">= {minimum}")
    hi = "" if maximum is None else f"<= {maximum}"
    allowed = "a finite number" + (" " if lo or hi else "") + " and ".join(s for s in (lo, hi) if s)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(family, key, value, allowed)
    x = float(value)
    ok = math.isfinite(x)
    ok = ok and (minimum is None or (x > minimum if strict else x >= minimum))
    ok = ok and (maximum is None or x <= maximum)
    if not ok:
        raise _fail(family, key, value, allowed)
    return x


def choice(family: str, key: str, value: object, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        raise _fail(family, key, value, "one of " + ", ".join(repr(o) for o in options))
    return str(value)
