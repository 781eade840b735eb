"""Atomic files and JSON: the one home of how the package writes what it writes.

* :func:`atomic_write`: a temporary file in the target's folder, then an atomic rename, so a killed run never
  leaves a half-written file;
* :func:`json_safe`: numpy scalars and arrays to Python numbers and lists, recursively, with NaN and
  infinities as ``None`` (JSON has no such numbers); :func:`finite_or_none` for one number;
* :func:`json_default`: the ``default=`` of :func:`json.dumps` for numpy scalars.

Block records (:mod:`verify.blocks`) keep non-finite floats as strings instead, because they are read back
exactly; the assumption findings (:func:`verify.assumptions.findings.jsonable`) do too, to say which
infinity a bound is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_write", "finite_or_none", "json_default", "json_safe"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_or_none(x: float) -> float | None:
    """``float(x)`` if finite, else ``None``."""
    return float(x) if np.isfinite(x) else None


def json_safe(obj: Any) -> Any:
    """``obj`` with dicts, lists, tuples and arrays walked, numpy numbers made Python numbers and non-finite
    floats made ``None``."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return finite_or_none(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def json_default(obj: Any) -> Any:
    """``default=`` of :func:`json.dumps`: a numpy scalar as its Python value (TypeError otherwise)."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
