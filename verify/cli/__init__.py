"""The ``verify`` command line.

Exit status: 0 when no check is violated, 1 when a check inside its theorem's conditions is violated
or a task of ``verify run`` failed (it raised or its worker died: one line on stderr naming its key),
2 on bad input (one line on stderr, never a traceback), including a request too large for this machine
(:mod:`verify.resources`: refused before any work), and 141 (128 + SIGPIPE, what a shell reports for a
command ended by a closed pipe) when the reader of stdout or stderr went away, e.g. ``verify list | head``:
the command then stops quietly, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import theorems
from verify import resources
from verify import sketch as sketch_mod
from verify.blocks import DEFAULT_BLOCK_RUNS
from verify.cli.args import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATED,
    Parser,
    add_executor_arguments,
    integer,
    real,
)
from verify.errors import UserError, require


def _param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param needs KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(raw)
        except ValueError:
            pass
    return key, raw


def _cmd_list(args: argparse.Namespace) -> int:
    reg = theorems.registry()
    if args.json:
        print(json.dumps([{"id": t.id, "paper_ref": t.paper_ref, "title": t.title, "setting": t.setting,
                           "provenance": t.provenance.tag, "measure": t.measure} for t in reg.values()], indent=1))
        return EXIT_OK
    width = max(len(i) for i in reg)
    for t in reg.values():
        print(f"{t.id:<{width}}  {t.paper_ref:<40} {t.provenance.tag:<13} {t.title}")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    import sympy as sp

    from theorems.symbols import DESCRIPTIONS
    from verify import symbolic

    reg = theorems.registry()
    require(args.id in reg, f"unknown theorem id {args.id!r}; known: {', '.join(reg)}")
    t = reg[args.id]
    print(f"{t.id}: {t.title} ({t.paper_ref})")
    print(f"provenance: {t.provenance.tag} - {t.provenance.source}")
    print(f"setting: {t.setting}; assumptions: {', '.join(t.assumptions)}; method: {t.method}")
    cond = ", ".join(str(c) for c in t.stepsize_condition) or "none"
    print(f"stepsize condition: {cond}   (gamma_max = {t.gamma_max}; rule: {t.stepsize_rule})")
    print(f"measure: {t.measure}")
    print(f"bound: {t.bound}")
    print(f"LaTeX: {t.statement}")
    s = t.one_step
    print(f"one step: E_t[Phi_(t+1)] <= ({s.a}) Phi_t - ({s.c}) {s.progress} + ({s.d}),  Phi = {s.lyapunov}"
          + ("" if s.k == 0 else f",  k = {s.k}") + ("  (PŁ applied)" if s.pl_applied else ""))
    if t.definitions:
        print("definitions: " + ", ".join(f"{sym} = {expr}" for sym, expr in t.definitions))
    # Every symbol printed above (and in the one-step proof), with its meaning from theorems.symbols.
    exprs = [t.bound, *t.stepsize_condition, s.phi, s.k, s.a, s.c, s.d, s.Phi0, s.progress, s.next_bound,
             *(e for _, e in t.definitions), *(e for _, e in s.constraints)]
    if t.gamma_max is not None:
        exprs.append(t.gamma_max)
    names = {sym.name for e in exprs for sym in sp.sympify(e).free_symbols} | {"Phi_t"}
    print("symbols:")
    for name in [*(n for n in DESCRIPTIONS if n in names), *sorted(names - set(DESCRIPTIONS))]:
        print(f"  {name}: {DESCRIPTIONS.get(name, 'not described in theorems.symbols.DESCRIPTIONS')}")
    print("check instances (verify run):")
    for case in theorems.cases()[t.id]:
        params = "".join(f", {k}={v}" for k, v in case.params)
        print(f"  {'tight ' if case.tight else ''}{case.problem} ({case.sketch}, p={case.p}, r={case.r}, "
              f"R={case.runs}, T={case.iters}{params}): {case.why}")
    proofs = symbolic.all_proofs(t)
    print(f"symbolic checks: {sum(p.ok for p in proofs)}/{len(proofs)} proved")
    for p in proofs:
        print(f"  [{'ok' if p.ok else 'FAILED'}] {p.name}")
    return EXIT_OK


def _cmd_lambda(args: argparse.Namespace) -> int:
    from verify.projection import BernoulliProjector, estimate_lambda_p

    require(0.0 <= args.p <= 1.0, f"p = {args.p} is outside [0, 1]")
    require(args.m >= 1 and args.n >= 1, f"m = {args.m}, n = {args.n}: both must be >= 1")
    require(1 <= args.r <= min(args.m, args.n), f"r = {args.r} is outside [1, min(m, n)] = [1, {min(args.m, args.n)}]")
    require(args.samples >= 2, f"samples = {args.samples} must be >= 2")
    require(0 < args.delta < 1, f"delta = {args.delta} is outside (0, 1)")
    dist = sketch_mod.make(args.sketch)
    resources.check_lambda(args.m, args.n, args.r, args.p, args.samples, sys.stderr)
    rng = np.random.default_rng(np.random.SeedSequence(args.seed))
    est = estimate_lambda_p(dist, dist, args.m, args.n, args.r, args.p, args.samples, rng, args.delta)
    closed = BernoulliProjector(p=args.p, r=args.r, left=dist, right=dist).lambda_closed_form(args.m, args.n)
    out = {
        "lambda_min_p": {"estimate": est.lambda_min_p.estimate, "ci": [est.lambda_min_p.lower, est.lambda_min_p.upper]},
        "lambda_max_p": {"estimate": est.lambda_max_p.estimate, "ci": [est.lambda_max_p.lower, est.lambda_max_p.upper]},
        "closed_form": None if closed is None else {"lambda_min_p": closed[0], "lambda_max_p": closed[1]},
        "samples": args.samples, "confidence": 1 - args.delta, "method": est.method,
    }
    if args.json:
        print(json.dumps(out, indent=1))
        return EXIT_OK
    for key in ("lambda_min_p", "lambda_max_p"):
        lo, hi = out[key]["ci"]
        cf = "" if closed is None else f"   closed form {out['closed_form'][key]:.6g}"
        print(f"{key}: {out[key]['estimate']:.6g}  [{lo:.6g}, {hi:.6g}] at {100 * (1 - args.delta):g}%{cf}")
    print(f"method: {est.method}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from verify import report, suite

    resources.validate_bound_scale(args.bound_scale)
    out = Path(args.out)
    report.ensure_writable(out)
    specs = suite.select(args.ids, problem=args.problem, sketch=args.sketch, params=dict(args.param),
                         runs=args.seeds, iters=args.iters, block_runs=args.block_runs,
                         p=args.p, r=args.r, gamma_factor=args.gamma_factor, bound_scale=args.bound_scale,
                         outside_conditions=args.outside_conditions or None,
                         estimate_constants=args.estimate_constants or None)
    outcome = suite.run_tasks(specs, alpha=args.alpha, seed=args.seed, progress=sys.stderr, executor=args.executor,
                              jobs=args.jobs, scheduler=args.scheduler, run_dir=out, resume=args.resume,
                              blas_threads=args.blas_threads)
    results = outcome.results
    _say_replaced(args, specs)
    report.write_report(out, results, seed=args.seed, alpha=args.alpha)
    _print_summary(results)
    print(f"report: {out / 'index.md'}   results: {out / 'results.json'}")
    if outcome.failures:
        print(f"{len(outcome.failures)} of {outcome.tasks} tasks failed (exit status 1), the report lacks them: "
              + "; ".join(f.key for f in outcome.failures)
              + f"\nrerun with --resume --out {out} to run only the unfinished tasks")
        return EXIT_VIOLATED
    violated = [r for r in results if r.verdict == "violated" and r.conditions_met]
    return EXIT_VIOLATED if violated else EXIT_OK


def _say_replaced(args: argparse.Namespace, specs: Sequence) -> None:
    """On stderr: which suite instances ``--problem``, ``--sketch`` or ``--param`` changed (a theorem may have
    several; instances that became identical are merged)."""
    from verify import suite

    changed = [opt for opt, v in (("--problem", args.problem), ("--sketch", args.sketch), ("--param", args.param))
               if v]
    if not changed:
        return
    for thm in dict.fromkeys(s.theorem for s in specs):
        entries = [e for e in suite.BUILTIN if e.theorem == thm]
        kept = sum(1 for s in specs if s.theorem == thm)
        where = "; ".join(f"{e.problem} ({e.sketch}, p={e.p}, r={e.r}, T={e.iters})" for e in entries)
        print(f"{thm}: {' and '.join(changed)} applied to its {len(entries)} suite instance(s) [{where}]"
              + (f", {kept} distinct check(s) after merging" if kept != len(entries) else ""), file=sys.stderr)


def _print_summary(results: Sequence) -> None:
    """The summary table of ``verify run`` on stdout (:func:`verify.tables.print_summary`)."""
    from verify.tables import print_summary

    print_summary(results)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="verify", description="Numerical verification of the Bernoulli-LoRA theorems.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p_list = sub.add_parser("list", help="list the theorems")
    p_list.add_argument("--json", action="store_true")
    p_list.set_defaults(func=_cmd_list)

    p_show = sub.add_parser("show", help="show one theorem and its symbolic checks")
    p_show.add_argument("id")
    p_show.set_defaults(func=_cmd_show)

    p_run = sub.add_parser("run", help="run theorem checks and write a report")
    p_run.add_argument("ids", nargs="*", help="theorem ids (default: all)")
    p_run.add_argument("--problem", help="problem for every selected check: a built-in NAME[:key=value,...], or your "
                                         "own path/to/file.py:FACTORY or MODULE:FACTORY (see verify assumptions)")
    p_run.add_argument("--estimate-constants", action="store_true",
                       help="take the constants (L, mu, f_star) that your problem does not declare from verify "
                            "assumptions' estimates; the results are then conditional on them")
    p_run.add_argument("--sketch", help="sketch distribution for every selected check")
    p_run.add_argument("--seeds", type=integer("--seeds"), help="number of independent runs R")
    p_run.add_argument("--iters", type=integer("--iters"), help="iterations T")
    p_run.add_argument("--block-runs", type=integer("--block-runs"), metavar="K",
                       help=f"runs per task: a check of more runs is split into blocks of K runs that run in "
                            f"parallel and resume separately (default {DEFAULT_BLOCK_RUNS}; another K draws "
                            "other random numbers, as another seed would)")
    p_run.add_argument("--p", type=real("--p"), help="probability of the left sketch")
    p_run.add_argument("--r", type=integer("--r"), help="sketch rank")
    p_run.add_argument("--gamma-factor", type=real("--gamma-factor"), help="gamma = factor x gamma_max")
    p_run.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                       help="estimator parameter, e.g. q=0.2, batch_prime=4, b=0.1, batch=8, "
                            "compressor=rand-k:k=24 (repeatable)")
    p_run.add_argument("--outside-conditions", action="store_true",
                       help="run even if gamma violates the stepsize condition (results are marked)")
    p_run.add_argument("--bound-scale", type=real("--bound-scale"), default=1.0,
                       help="multiply every bound by S (S < slack should turn a check to violated)")
    p_run.add_argument("--alpha", type=real("--alpha"), default=1e-3, help="family-wise false-alarm level")
    p_run.add_argument("--seed", type=integer("--seed"), default=0, help="root seed")
    p_run.add_argument("--out", default="verify-report", help="output folder (finished tasks go to OUT/tasks)")
    add_executor_arguments(p_run, "checks")
    p_run.set_defaults(func=_cmd_run)

    p_lam = sub.add_parser("lambda", help="estimate lambda_min^p and lambda_max^p of a sketch distribution")
    p_lam.add_argument("--sketch", default="gaussian")
    p_lam.add_argument("--m", type=integer("--m"), required=True)
    p_lam.add_argument("--n", type=integer("--n"), required=True)
    p_lam.add_argument("--r", type=integer("--r"), required=True)
    p_lam.add_argument("--p", type=real("--p"), default=0.5)
    p_lam.add_argument("--samples", type=integer("--samples"), default=20000)
    p_lam.add_argument("--delta", type=real("--delta"), default=1e-3, help="1 - confidence level")
    p_lam.add_argument("--seed", type=integer("--seed"), default=0)
    p_lam.add_argument("--json", action="store_true")
    p_lam.set_defaults(func=_cmd_lambda)

    from verify.assumptions import add_parser as add_assumptions_parser

    add_assumptions_parser(sub)
    from verify.sweep import add_sweep_parser

    add_sweep_parser(sub)
    from verify.networks.finetune import add_finetune_parser  # issue 14: §7.2 in miniature
    add_finetune_parser(sub)
    from verify.compare import add_compare_parser
    from verify.report import add_report_parser

    add_report_parser(sub)
    add_compare_parser(sub)
    __import__("verify.pep").pep.add_pep_parser(sub)  # verify pep ID (optional extra pep)
    return parser


def _silence_closed_streams() -> None:
    """Point the file descriptors of stdout and stderr at /dev/null, so that nothing more is written to a
    closed pipe (the interpreter's final flush would otherwise print "Exception ignored ... BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError, AttributeError):  # no real descriptor (e.g. captured by pytest)
                pass
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``verify`` console script; returns the exit status (module docstring).

    Every command's output is flushed here, so that a reader that went away (``verify list --json | head``)
    is noticed inside this function: the command stops, the rest of its output is discarded and the status
    is :data:`EXIT_BROKEN_PIPE`, with no traceback.
    """
    try:
        try:
            args = build_parser().parse_args(argv)
            if getattr(args, "seed", 0) is not None and getattr(args, "seed", 0) < 0:
                raise UserError(f"--seed {args.seed} must be >= 0")
            code = args.func(args)
        except UserError as exc:
            print(f"verify: error: {exc}", file=sys.stderr)
            code = EXIT_USAGE
        except MemoryError:
            print("verify: error: out of memory; ask for fewer runs, iterations or a smaller problem",
                  file=sys.stderr)
            code = EXIT_USAGE
        except KeyboardInterrupt:
            print("verify: interrupted", file=sys.stderr)
            code = 130
        sys.stdout.flush()
        sys.stderr.flush()
        return code
    except BrokenPipeError:
        _silence_closed_streams()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
