"""Worst-case tightness grid (issue 15): solve every PEP of the grid and rebuild ``verify/pep/cache.json``.

Run ``python benchmarks/bench_pep.py`` from the repository root (needs the extra ``pep``; about 10 minutes on
one core, dominated by the T = 4 trajectories of gd-nc).  It prints the markdown table of
``benchmarks/README.md`` and writes the cache atomically (``--out PATH`` writes elsewhere, ``--quick`` solves
T <= 2 only and never writes the default cache).  Each row is :func:`verify.pep.tightness.tightness`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Iterator

if __package__ in (None, ""):  # ``python benchmarks/bench_pep.py`` from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from verify.pep import CACHE_PATH, write_cache  # noqa: E402
from verify.pep.sketch import parse  # noqa: E402
from verify.pep.tightness import Row, tightness  # noqa: E402

P_ALL = (0.5, 0.7, 0.9, 0.99)
P_TWO = (0.5, 0.9)

#: (theorem, initial, sketch spec, values of p, horizons T)
GRID: tuple[tuple[str, str, str, tuple[float, ...], tuple[int, ...]], ...] = (
    ("gd-nc", "telescoped", "two-block", P_ALL, (1, 2, 3, 4)),
    ("gd-nc", "gap", "two-block", P_ALL, (1, 2, 3, 4)),
    ("gd-nc", "one-step", "two-block", P_ALL, (1,)),
    ("gd-nc", "telescoped", "grid:mb=2,nb=1,r=1", P_TWO, (1, 2, 3)),
    ("gd-nc", "gap", "grid:mb=2,nb=1,r=1", P_TWO, (1, 2, 3)),
    ("gd-pl", "gap", "two-block", P_TWO, (1, 2, 3)),
    ("gd-pl", "one-step", "two-block", P_TWO, (1,)),
    ("sgd-nc", "one-step", "two-block", P_ALL, (1,)),
    ("ns-const", "distance", "two-block", P_TWO, (1, 2, 3)),
    ("ns-const", "one-step", "two-block", P_ALL, (1,)),
    ("ns-polyak", "one-step", "two-block", P_ALL, (1,)),
)


def rows(max_T: int) -> Iterator[Row]:
    """Solve the grid (horizons above ``max_T`` left out), printing progress on stderr."""
    for thm, initial, spec, ps, Ts in GRID:
        for p in ps:
            for T in (T for T in Ts if T <= max_T):
                row = tightness(thm, parse(spec, p), p, T, initial)
                print(f"{thm} {spec} p={p} T={T} {initial}: {row.worst_case:.6g} vs {row.bound:.6g} "
                      f"({row.verdict}, {row.solver} {row.status}, {row.seconds:.1f} s)", file=sys.stderr)
                yield row


def markdown(table: list[Row]) -> str:
    """The table of ``benchmarks/README.md``."""
    lines = ["| theorem | sketch | p | T | initial condition | worst case | bound | ratio | verdict | solver (status) "
             "| accuracy | time |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        ratio = "–" if r.ratio is None else f"{r.ratio:.4g}"
        lines.append(f"| {r.theorem} | {r.sketch} | {r.p:g} | {r.T} | {r.initial} | {r.worst_case:.6g} "
                     f"| {r.bound:.6g} | {ratio} | {r.verdict} ({r.nature}) | {r.solver} ({r.status}) "
                     f"| {r.accuracy:.1e} | {r.seconds:.2f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help=f"cache file to write (default {CACHE_PATH}; with --quick: none)")
    parser.add_argument("--quick", action="store_true", help="T <= 2 only (about a minute)")
    args = parser.parse_args(argv)
    table = list(rows(2 if args.quick else 4))
    print(markdown(table))
    if args.out or not args.quick:
        meta = {"generated_by": "benchmarks/bench_pep.py", "pepit": version("pepit"), "cvxpy": version("cvxpy"),
                "clarabel": version("clarabel"), "scs": version("scs"), "python": platform.python_version()}
        path = write_cache([r.as_dict() for r in table], meta, args.out)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
