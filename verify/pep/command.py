"""``verify pep ID``: the exact worst case of a theorem's method next to its bound (needs the extra ``pep``).

Prints one line per (p, T, initial condition): the worst case, the bound, their ratio, the verdict
(:mod:`verify.pep.tightness`), the solver, its status and accuracy, and the solve time.  Exit status 1 when a
bound is violated (the worst case, a value attained by a function of the class, is printed as the witness),
2 on bad input or without PEPit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import Any

from verify.errors import UserError, require

EXIT_OK, EXIT_VIOLATED = 0, 1


def _format(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def run(args: argparse.Namespace) -> int:
    """Solve the requested PEPs and print them; returns the exit status."""
    from verify.pep.sketch import parse
    from verify.pep.tightness import COVERED, tightness

    require(args.id in COVERED, f"no PEP for theorem {args.id!r}; covered: {', '.join(COVERED)}")
    if importlib.util.find_spec("PEPit") is None:
        raise UserError("verify pep needs PEPit: pip install 'bernoulli-lora-verify[pep]'")
    initials = args.initial or list(COVERED[args.id])
    for initial in initials:
        require(initial in COVERED[args.id],
                f"--initial {initial!r} is not available for {args.id}; allowed: {', '.join(COVERED[args.id])}")
    for T in args.T:
        require(T >= 1, f"--T {T} must be >= 1")
    sketches = [(p, parse(args.sketch, p)) for p in args.p]
    rows = []
    for p, sketch in sketches:
        for initial in initials:
            for T in ([1] if initial == "one-step" else args.T):
                rows.append(tightness(args.id, sketch, p, T, initial, solver=args.solver,
                                      bound_scale=args.bound_scale))
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=1))
    else:
        print(f"{'theorem':<9} {'sketch':<22} {'p':>5} {'T':>2} {'initial':<10} {'worst case':>12} {'bound':>12} "
              f"{'ratio':>9} {'verdict':<12} {'class':<6} {'solver':<8} {'status':<18} {'accuracy':>8} {'time':>7}")
        for r in rows:
            print(f"{r.theorem:<9} {r.sketch:<22} {r.p:>5g} {r.T:>2} {r.initial:<10} {r.worst_case:>12.7g} "
                  f"{r.bound:>12.7g} {_format(r.ratio):>9} {r.verdict:<12} {r.nature:<6} {r.solver:<8} "
                  f"{r.status:<18} {r.accuracy:>8.1e} {r.seconds:>6.2f}s")
        for r in rows:
            if r.note:
                print(f"{r.theorem} p={r.p:g} T={r.T} {r.initial}: {r.note}")
    violated = [r for r in rows if r.verdict == "violated"]
    for r in violated:
        print(f"violated: {r.theorem} ({r.sketch}, p={r.p:g}, T={r.T}, {r.initial}): a function of the class reaches "
              f"{r.measure} = {r.worst_case:.9g} > bound {r.bound:.9g} (solver accuracy {r.accuracy:.1e})")
    return EXIT_VIOLATED if violated else EXIT_OK


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``pep`` to the subcommands of :func:`verify.cli.build_parser`; sets ``func``."""
    from verify.pep.tightness import COVERED, SOLVERS

    initials = sorted({i for v in COVERED.values() for i in v})
    p = subparsers.add_parser("pep", help="exact worst case of a theorem's method (PEP, needs PEPit) vs its bound",
                              description="Build and solve the performance-estimation problem of a theorem's method "
                                          "with a finite-outcome sketch; compare its worst case with the bound.")
    p.add_argument("id", help=f"theorem id, one of: {', '.join(COVERED)}")
    p.add_argument("--T", type=int, nargs="+", default=[1, 2, 3], help="horizons (default 1 2 3)")
    p.add_argument("--p", type=float, nargs="+", default=[0.5, 0.9], help="probabilities of the left sketch")
    p.add_argument("--initial", choices=initials, action="append",
                   help="initial condition (repeatable; default: every one the theorem has)")
    p.add_argument("--sketch", default="two-block", help="two-block (default) or grid:mb=MB,nb=NB,r=R")
    p.add_argument("--solver", choices=SOLVERS, default="CLARABEL", help="first solver (CLARABEL falls back to SCS)")
    p.add_argument("--bound-scale", type=float, default=1.0,
                   help="claim a stronger bound: S x bound (one-step: S d - c/S); S < 1 should find violations")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=run)
    return p


__all__ = ["add_parser", "run"]
