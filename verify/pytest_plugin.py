"""pytest plugin: the ``verify_check`` fixture, ``verify_check(theorem, **spec_kwargs)``.

Enabled by the ``pytest11`` entry point once the package is installed, and by ``-p verify.pytest_plugin``
without the install.  The entry point's *name* is the module's name, ``verify.pytest_plugin``, so that
``-p verify.pytest_plugin`` with the package installed names the same plugin and pytest loads it once.
(Under another name pytest would register the module twice and stop with "Plugin already registered under
a different name", exit status 3; :func:`pytest_addhooks` blocks the old name ``verify`` that an earlier
install may still declare.)  ``-p no:verify.pytest_plugin`` disables the plugin.

The fixture is :func:`verify.testing.assert_bound_holds` with ``out`` set to the test's ``tmp_path``, so a
failing test names the plot of the broken bound::

    def test_my_theorem(verify_check):
        verify_check(MY_THEOREM, problem="isotropic-quadratic", iters=20)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from verify.check import CheckResult
from verify.testing import assert_bound_holds

#: Entry-point names that earlier installs gave this module; a second registration under one of them fails.
LEGACY_NAMES = ("verify",)


def pytest_addhooks(pluginmanager: Any) -> None:
    """When this module is registered, block the entry points that name it under a :data:`LEGACY_NAMES` name.

    pytest calls this once, as the plugin is registered (by ``-p`` or by the entry point).  An entry point
    ``verify = "verify.pytest_plugin"`` left by an earlier install would otherwise register the same module
    again under ``verify``; blocking the name makes pytest skip it, as ``-p no:verify`` would.
    """
    for ep in entry_points(group="pytest11"):
        if ep.name in LEGACY_NAMES and ep.value == __name__ and pluginmanager.get_plugin(ep.name) is None:
            pluginmanager.set_blocked(ep.name)


@pytest.fixture
def verify_check(tmp_path: Path) -> Callable[..., CheckResult]:
    """``verify_check(theorem, **spec_kwargs)``: run a theorem check and fail the test when it is violated."""
    return partial(assert_bound_holds, out=tmp_path)
