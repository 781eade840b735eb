"""A torch problem from ``verify.pytorch.from_module``, returned by a factory in a file, through ``verify run``."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from verify.cli import main  # noqa: E402

N, M, D = 40, 3, 5

FACTORY = f'''
import numpy as np
import torch

from verify.problems import Constant
from verify.pytorch import from_module

N, M, D = {N}, {M}, {D}


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    return X, X @ rng.standard_normal((M, D)).T  # realisable targets: inf f = 0


def linear(**kwargs):
    """A bias-free linear layer from W0 = 0 under mean squared error on the data, as a problem."""
    X, Y = data()
    model = torch.nn.Linear(D, M, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)),
                                         batch_size=8)
    return from_module(model, model.weight, torch.nn.functional.mse_loss, loader, f_star=0.0, name="torch-linear",
                       **kwargs)


def make():
    """f(W) = mse_loss(X Wᵀ, Y) = ‖X Wᵀ − Y‖²/(N M): its Hessian is (2/(N M)) XᵀX ⊗ I, so L = 2 λ_max(XᵀX)/(N M)."""
    X, _ = data()
    L = 2 * float(np.linalg.eigvalsh(X.T @ X)[-1]) / (N * M)
    return linear(constants={{"L": Constant(L, "2 lambda_max(X^T X)/(N M), the Hessian of the mean squared error",
                                            "upper")}})
'''


def test_verify_run_takes_a_torch_problem_from_a_factory_file(tmp_path):
    file = tmp_path / "torch_linear.py"
    file.write_text(FACTORY)
    out = tmp_path / "out"
    spec = f"{file}:make"
    code = main(["run", "gd-nc", "--problem", spec, "--seeds", "16", "--iters", "20", "--sketch", "gaussian",
                 "--p", "0.7", "--r", "1", "--out", str(out)])
    assert code == 0
    (check,) = json.loads((out / "results.json").read_text())["checks"]
    assert (check["theorem"], check["problem"], check["problem_params"]["module"]) == ("gd-nc", spec, "Linear")
    assert (check["sketch"], check["p"], check["r"], check["seeds"], check["iters"]) == ("gaussian", 0.7, 1, 16, 20)
    rng = np.random.default_rng(0)  # the factory's data, recomputed here without torch
    X = rng.standard_normal((N, D))
    Y = X @ rng.standard_normal((M, D)).T
    L = 2 * np.linalg.eigvalsh(X.T @ X)[-1] / (N * M)
    assert check["constants"]["L"]["value"] == pytest.approx(L, rel=1e-12)
    assert check["gamma"] == pytest.approx(1 / L, rel=1e-12) and check["conditions_met"]
    assert check["constants"]["Delta0"]["value"] == pytest.approx(np.sum(Y * Y) / (N * M), rel=1e-12)  # f(0) - 0
    grad0 = -2 * Y.T @ X / (N * M)  # ∇f(W0 = 0): the first checkpoint's mean is ‖∇f(W0)‖², the same in every run
    assert check["checkpoints"][0] == 1
    assert check["observed_mean"][0] == pytest.approx(np.sum(grad0 * grad0), rel=1e-10)
    assert check["verdict"] in ("holds", "inconclusive")  # the bound of Theorem 1 is true on this problem


def test_bare_number_constants_get_the_safe_kind_of_their_key():
    import torch

    from verify.pytorch import from_module

    model = torch.nn.Linear(2, 2, bias=False).double()
    data = torch.utils.data.TensorDataset(torch.ones(4, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))
    problem = from_module(model, model.weight, torch.nn.functional.mse_loss, torch.utils.data.DataLoader(data),
                          f_star=0.0, constants={"L": 2.0, "mu": 0.1})
    assert {k: c.kind for k, c in problem.constants.items()} == {"L": "upper", "mu": "lower", "f_star": "exact"}


def test_estimated_constants_for_a_torch_factory_are_conditional(tmp_path):
    """The same problem without a declared L: --estimate-constants takes it from verify assumptions."""
    file = tmp_path / "torch_linear.py"
    file.write_text(FACTORY + UNDECLARED)
    out = tmp_path / "out"
    code = main(["run", "gd-nc", "--problem", f"{file}:make_undeclared", "--estimate-constants", "--seeds", "16",
                 "--iters", "20", "--sketch", "gaussian", "--p", "0.7", "--r", "1", "--out", str(out)])
    assert code in (0, 1)
    (check,) = json.loads((out / "results.json").read_text())["checks"]
    assert check["conditional"] == ["L"]
    assert check["reason"].startswith("conditional on estimated constants L")


UNDECLARED = '''

def make_undeclared():
    return linear()
'''
