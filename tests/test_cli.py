"""The ``verify`` command line: outputs, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from verify.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_show(capsys):
    code, out, _ = _run(capsys, "list", "--json")
    assert code == 0
    ids = {t["id"] for t in json.loads(out)}
    assert {"gd-nc", "gd-pl"} <= ids
    code, out, _ = _run(capsys, "show", "gd-pl")
    assert code == 0 and "bound: Delta0*(-gamma*lambda_min_p*mu + 1)**T" in out
    assert "FAILED" not in out and "symbolic checks:" in out


def test_lambda_json_matches_closed_form(capsys):
    code, out, _ = _run(capsys, "lambda", "--sketch", "gaussian", "--m", "8", "--n", "6", "--r", "2",
                        "--p", "0.3", "--samples", "4000", "--json")
    assert code == 0
    data = json.loads(out)
    closed = 0.3 * 2 / 8 + 0.7 * 2 / 6
    assert data["closed_form"]["lambda_min_p"] == pytest.approx(closed)
    lo, hi = data["lambda_min_p"]["ci"]
    assert lo <= closed <= hi and lo <= data["lambda_min_p"]["estimate"] <= hi
    assert set(data["lambda_max_p"]) == {"estimate", "ci"}


def test_lambda_degenerate_is_zero(capsys):
    code, out, _ = _run(capsys, "lambda", "--sketch", "degenerate", "--m", "8", "--n", "8", "--r", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["lambda_min_p"]["ci"][0] == 0.0 and data["lambda_min_p"]["ci"][1] < 0.02


def test_run_writes_report_and_exit_codes(capsys, tmp_path):
    out = tmp_path / "rep"
    code, stdout, err = _run(capsys, "run", "gd-nc", "--problem", "isotropic-quadratic", "--seeds", "64",
                             "--iters", "20", "--out", str(out))
    assert code == 0, err
    data = json.loads((out / "results.json").read_text())
    rec = data["checks"][0]
    for key in ("theorem", "problem", "sketch", "verdict", "slack", "gamma", "seeds", "iters", "alpha", "bound_scale"):
        assert key in rec
    assert rec["verdict"] in ("holds", "violated", "inconclusive", "not_applicable")
    assert rec["seeds"] == 64 and rec["iters"] == 20
    assert data["meta"]["versions"]["numpy"]
    md = (out / "index.md").read_text()
    for chk in data["checks"]:
        assert chk["theorem"] in md
    pngs = list((out / "plots").glob("*.png"))
    assert len(pngs) == len(data["checks"]) and all(p.stat().st_size > 1000 for p in pngs)
    assert "[1/" in err  # progress
    code, _, _ = _run(capsys, "run", "gd-nc", "--problem", "isotropic-quadratic", "--seeds", "64", "--iters", "20",
                      "--bound-scale", "0.5", "--out", str(out))
    assert code == 1
    assert json.loads((out / "results.json").read_text())["checks"][0]["verdict"] == "violated"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "gd-zz"], "gd-zz"),
        (["run", "gd-nc", "--problem", "nope"], "nope"),
        (["run", "gd-nc", "--r", "0"], "r = 0"),
        (["run", "gd-nc", "--problem", "isotropic-quadratic", "--r", "9"], "r = 9"),
        (["run", "gd-nc", "--p", "1.5"], "p = 1.5"),
        (["run", "gd-nc", "--p", "-0.1"], "p = -0.1"),
        (["run", "gd-nc", "--gamma-factor", "1.5"], "stepsize condition"),
        (["run", "gd-nc", "--seeds", "1"], "seeds = 1"),
        (["run", "gd-nc", "--seeds", "many"], "many"),
        (["run", "gd-pl", "--problem", "nonconvex-reg"], "mu"),
        (["run", "gd-nc", "--sketch", "fancy"], "fancy"),
        (["run", "gd-nc", "--alpha", "2"], "alpha = 2"),
        (["lambda", "--sketch", "gaussian", "--m", "4", "--n", "4", "--r", "5"], "r = 5"),
        (["lambda", "--m", "4"], "required"),
        (["show", "gd-zz"], "gd-zz"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, needle):
    if argv[0] == "run":
        argv = [*argv, "--out", str(tmp_path / "o"), "--iters", "3"]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "results.json").exists()


def test_unwritable_out_is_exit_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "run", "gd-nc", "--out", str(blocker / "sub"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        code, _, err = _run(capsys, "run", "gd-nc", "--out", str(ro))
        assert code == 2


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "verify.cli", "run", "gd-nc", "--p", "7"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_run_whole_builtin_suite_small_writes_every_plot(capsys, tmp_path):
    """Every theorem and measure goes through the report (tiny runs: this is about the pipeline)."""
    import theorems

    out = tmp_path / "all"
    code, _, err = _run(capsys, "run", "--iters", "8", "--seeds", "8", "--out", str(out))
    assert code in (0, 1), err
    data = json.loads((out / "results.json").read_text())
    assert {c["theorem"] for c in data["checks"]} == set(theorems.registry())
    assert len(list((out / "plots").glob("*.png"))) == len(data["checks"])


def test_skipped_one_step_check_is_shown_and_exits_0(capsys, tmp_path):
    """A non-isotropic sketch cannot evaluate the H^-1 distance of ns-const: its one-step check is skipped,
    which the summary, index.md and index.html say, with the reason; the verdict decides the exit status."""
    out = tmp_path / "ns"
    code, stdout, err = _run(capsys, "run", "ns-const", "--sketch", "scaled-gaussian", "--seeds", "16", "--iters", "20",
                             "--out", str(out))
    assert code == 0, err
    assert "Traceback" not in err and "KeyError" not in err
    rows = [line for line in stdout.splitlines() if line.startswith("ns-const")]
    assert len(rows) == 2 and all("skipped" in row for row in rows)
    assert "one-step check of ns-const on norm-distance (scaled-gaussian sketch) skipped: the H^-1 distance" in stdout
    md = (out / "index.md").read_text()
    assert md.count("| skipped: the H^-1 distance needs an isotropic sketch") == 2
    assert "One-step check: skipped: the H^-1 distance" in md
    assert "One-step check: skipped: the H^-1 distance" in (out / "index.html").read_text()
    code, _, err = _run(capsys, "report", str(out))  # re-rendered from results.json
    assert code == 0, err


def test_lemma_status_and_verdict_label():
    from types import SimpleNamespace

    from verify.wording import lemma_status, lemma_text, verdict_label

    assert lemma_status(None) == ("–", "")
    assert lemma_status({"skipped": "why"}) == ("skipped", "why")
    assert lemma_status({"verdict": "holds", "slack": 1.25}) == ("holds", "1.25")
    assert lemma_text(SimpleNamespace(lemma={"verdict": "violated", "slack": None})) == "violated (–)"
    assert lemma_text(SimpleNamespace(lemma={"skipped": ""})) == "skipped"

    def label(verdict, attained):
        return verdict_label(SimpleNamespace(verdict=verdict, attained=attained))

    assert label("inconclusive", True) == "inconclusive (attained)"
    assert label("violated", True) == "violated"  # e.g. attained, then violated by the one-step check
    assert label("holds", True) == "holds" and label("inconclusive", False) == "inconclusive"


@pytest.mark.parametrize("argv", [["list", "--json"], ["show", "gd-nc"],
                                  ["run", "gd-nc", "--problem", "isotropic-quadratic", "--seeds", "8", "--iters", "5"]])
def test_closed_stdout_pipe_is_quiet_exit_141(tmp_path, argv):
    """``verify ... | head``: the reader went away before the output; no traceback, status 141 (128 + SIGPIPE)."""
    if argv[0] == "run":
        argv = [*argv, "--out", str(tmp_path / "o")]
    proc = subprocess.Popen([sys.executable, "-m", "verify.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # before the command has written anything (its imports take a while)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err
    if argv[0] == "run":
        assert (tmp_path / "o" / "results.json").exists()  # the work was done; only the summary was lost
    else:
        assert err == ""


def test_head_of_a_pipe_is_quiet():
    """The README's own example: ``verify list --json | head -3``."""
    proc = subprocess.run(f"{sys.executable} -m verify.cli list --json | head -3; exit ${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300)
    assert proc.stdout.splitlines()[0] == "[" and len(proc.stdout.splitlines()) == 3
    assert proc.stderr == "" and proc.returncode in (0, 141)
