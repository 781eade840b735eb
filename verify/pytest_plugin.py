"""pytest plugin: the ``verify_check`` fixture, ``verify_check(theorem, **spec_kwargs)``.

Enabled by the ``pytest11`` entry point ``verify = "verify.pytest_plugin"`` (or ``-p verify.pytest_plugin``).
The fixture is :func:`verify.testing.assert_bound_holds` with ``out`` set to the test's ``tmp_path``, so a
failing test names the plot of the broken bound::

    def test_my_theorem(verify_check):
        verify_check(MY_THEOREM, problem="isotropic-quadratic", iters=20)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from verify.check import CheckResult
from verify.testing import assert_bound_holds


@pytest.fixture
def verify_check(tmp_path: Path) -> Callable[..., CheckResult]:
    """``verify_check(theorem, **spec_kwargs)``: run a theorem check and fail the test when it is violated."""
    return partial(assert_bound_holds, out=tmp_path)
