r"""Worst-case tightness of the bounds: exact worst cases from performance-estimation problems (PEPit).

``verify pep ID`` builds the PEP of a theorem's method with a finite-outcome sketch (by default two
complementary coordinate blocks chosen by a Bernoulli(p) coin, λ_min^p = min(p, 1 − p); see
:mod:`verify.pep.sketch`), solves it and prints the worst case next to the theorem's bound
(:mod:`verify.pep.tightness`).  Solving needs the optional extra ``pep`` (PEPit, cvxpy, CLARABEL, SCS).

The results are deterministic, so they are cached in ``verify/pep/cache.json`` (rebuilt by
``benchmarks/bench_pep.py``); :func:`cached_tightness` reads it without importing PEPit, so the report can
show them without the extra and no test or ``verify run`` solves an SDP unless asked.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

CACHE_PATH = Path(__file__).with_name("cache.json")

#: The keys every cached row has (a row may have more: sketch, measure, nature, verdict, accuracy, note).
ROW_KEYS = ("theorem", "p", "T", "initial", "worst_case", "bound", "ratio", "solver", "status", "seconds")


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    rows = data.get("rows")
    if not isinstance(rows, list) or any(not isinstance(r, dict) or set(ROW_KEYS) - set(r) for r in rows):
        raise ValueError(f"{path}: not a PEP cache (every row needs the keys {', '.join(ROW_KEYS)})")
    return data


def cached_tightness(theorem_id: str, path: Path | None = None) -> list[dict]:
    """The cached PEP rows of ``theorem_id`` (empty if it has none), in the order they were computed.

    Each row is a dict with at least the keys of :data:`ROW_KEYS`: ``worst_case`` (the PEP's optimal value),
    ``bound`` (the theorem's bound at the same constants), ``ratio`` (≥ 1 iff the bound holds, 1 when tight;
    None when the two have different signs), ``initial`` (``telescoped``, ``gap``, ``distance`` or
    ``one-step``), ``solver``/``status`` (the SDP solver and its final status) and ``seconds`` (solve time).
    """
    data = _load(CACHE_PATH if path is None else path)
    return [dict(r) for r in data["rows"] if r["theorem"] == theorem_id]


def write_cache(rows: Iterable[dict], meta: dict, path: Path | None = None) -> Path:
    """Write ``{**meta, "rows": rows}`` atomically (a temporary file in the same folder, then a rename)."""
    target = CACHE_PATH if path is None else Path(path)
    rows = list(rows)
    missing = [sorted(set(ROW_KEYS) - set(r)) for r in rows if set(ROW_KEYS) - set(r)]
    if missing:
        raise ValueError(f"rows miss the keys {missing[0]}")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cache-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**meta, "rows": rows}, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return target


def add_pep_parser(subparsers):
    """Add the ``pep`` subcommand (see :mod:`verify.pep.command`; PEPit is imported only when it runs)."""
    from verify.pep.command import add_parser

    return add_parser(subparsers)


__all__ = ["CACHE_PATH", "ROW_KEYS", "add_pep_parser", "cached_tightness", "write_cache"]
