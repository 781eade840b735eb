"""Read a finished run back: ``results.json`` → its metadata and :class:`~verify.check.CheckResult` records.

A run is named either by its ``results.json`` or by the report folder that holds it.  Every problem
(missing file, unreadable file, invalid JSON, a missing key) is a :class:`~verify.errors.UserError` whose
one-line message names the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from verify.check import CheckResult
from verify.errors import UserError

RESULTS = "results.json"
#: The fields of a ``results.json`` record, in :class:`CheckResult` order.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CheckResult))
#: Fields added after the first release, with their value in older files: runs were then one block.
_DEFAULTS = {"block_runs": lambda rec: rec.get("seeds"), "sensitivity": lambda rec: None,
             "exact": lambda rec: None, "audit": lambda rec: None,
             "conditional": lambda rec: None}


def results_path(path: Path) -> Path:
    """``path`` itself if it is a file, ``path / results.json`` if it is a folder (UserError if neither exists)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise UserError(f"{path}: no such results file")
    return path


def read_json(path: Path) -> dict[str, Any]:
    """The top-level JSON object of ``path`` (UserError if unreadable, not JSON, or not an object)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object with keys 'meta' and 'checks', got {type(data).__name__}")
    return data


def _record(path: Path, i: int, rec: Any) -> CheckResult:
    if not isinstance(rec, dict):
        raise UserError(f"{path}: checks[{i}] is a {type(rec).__name__}, expected an object")
    rec = {**{k: default(rec) for k, default in _DEFAULTS.items() if k not in rec}, **rec}
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        raise UserError(f"{path}: checks[{i}] lacks key {missing[0]!r}"
                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    curve = rec["curve"]
    if not isinstance(curve, dict) or any(k not in curve for k in ("T", "mean", "lower", "upper", "bound", "runs")):
        raise UserError(f"{path}: checks[{i}] key 'curve' needs T, mean, lower, upper, bound and runs")
    return CheckResult(**{k: rec[k] for k in FIELDS})


def load_run(path: Path) -> tuple[dict[str, Any], list[CheckResult]]:
    """The metadata and check records of a run.

    Parameters
    ----------
    path : Path
        A ``results.json`` or a report folder holding one.

    Returns
    -------
    meta : dict
        ``data["meta"]``: seed, alpha, date, commit, versions, platform.
    results : list of CheckResult
        One per record of ``data["checks"]``, in file order.

    Raises
    ------
    UserError
        Missing or unreadable file, invalid JSON, or a missing key (the message names the file and key).
    """
    file = results_path(path)
    data = read_json(file)
    for key in ("meta", "checks"):
        if key not in data:
            raise UserError(f"{file}: lacks key {key!r}")
    meta, checks = data["meta"], data["checks"]
    if not isinstance(meta, dict):
        raise UserError(f"{file}: key 'meta' is not an object")
    if not isinstance(checks, list):
        raise UserError(f"{file}: key 'checks' is not a list")
    for key in ("seed", "alpha"):
        if key not in meta:
            raise UserError(f"{file}: meta lacks key {key!r}")
    return meta, [_record(file, i, rec) for i, rec in enumerate(checks)]
