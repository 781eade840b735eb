"""A user's own theorem, checked with the ``verify_check`` pytest fixture.

Run: ``python -m pytest -p verify.pytest_plugin examples/test_my_theorem.py`` (the ``-p`` is not needed once
the package's ``pytest11`` entry point is installed).  The first test passes; the second fails on
purpose: its bound has the constant 1.5 where Theorem 1 has 2, and the failure message names the plot.
"""

from dataclasses import replace

import theorems
from theorems.symbols import Delta0, T, gamma, lambda_min_p

GD_NC = theorems.registry()["gd-nc"]

#: Theorem 1 as a user would write it: (1/T) Σ E‖∇f(W^t)‖² <= 2 Δ0 / (γ λ_min^p T).
MY_GD_NC = replace(GD_NC, id="my-gd-nc", bound=2 * Delta0 / (gamma * lambda_min_p * T))

#: The same with a wrong constant: 1.5 instead of 2.  On the isotropic quadratic at γ = 1/L the
#: observed average is about 0.89 of the true bound, so this one is violated.
MY_WRONG_GD_NC = replace(GD_NC, id="my-wrong-gd-nc", bound=3 * Delta0 / (2 * gamma * lambda_min_p * T))

#: Where the true bound is nearly attained (slack about 1.1), so a constant off by 25% is caught.
TIGHT = {"problem": "isotropic-quadratic", "sketch": "gaussian", "p": 0.5, "r": 1, "runs": 256, "iters": 20}


def test_my_bound_holds(verify_check):
    res = verify_check(MY_GD_NC, **TIGHT)
    assert res.verdict in ("holds", "inconclusive")


def test_my_wrong_bound_fails(verify_check):
    verify_check(MY_WRONG_GD_NC, **TIGHT)  # fails: verdict violated, with the plot's path
