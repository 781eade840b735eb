"""The configuration file of ``verify sweep``: a TOML file (:mod:`tomllib`), validated strictly.

Layout (see ``examples/sweep_paper.toml``)::

    [sweep]                       # all keys optional
    problem = "nonconvex-reg"     # problem family; each grid "size" adds its parameters
    sketch = "gaussian"
    runs = 8                      # R independent runs per grid point
    iters = 600                   # T
    seed = 0                      # root seed
    band = [0.1, 0.9]             # quantiles of the band drawn around the median

    [grid]                        # every axis is a non-empty array; missing axes take one default value
    r = [1, 2, 4]
    p = [0.2, 0.5, 0.9]
    gamma_factor = [1.0]          # gamma = factor x the theorem's gamma_max
    size = [{ m = 8, n = 8, N = 512 }]
    method = ["gd", "sgd", "page"]   # default: every table of [methods]

    [methods.sgd]                 # theorem defaults to "<name>-nc" for gd, sgd, page, mvr
    theorem = "sgd-nc"
    params = { batch = 16 }       # estimator parameters

    [[figures]]                   # default: curves = ["r", "p"], then curves = ["method"]
    curves = ["r", "p"]           # the axes varied inside one figure; one figure per value of the others
    where = { method = "gd" }     # optional: keep only these grid values

Every mistake (unknown key, wrong type, empty grid, a ``where`` value not in the grid) raises
:class:`~verify.errors.UserError` with one line naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.errors import UserError

#: The estimators a sweep can run, and the theorem whose bound is overlaid by default.
DEFAULT_THEOREM = {"gd": "gd-nc", "sgd": "sgd-nc", "page": "page-nc", "mvr": "mvr-nc"}
#: Grid axes in the order they vary (the last varies fastest).
AXES = ("method", "size", "gamma_factor", "r", "p")
_SWEEP_KEYS = ("problem", "sketch", "runs", "iters", "seed", "band")
_TOP_KEYS = ("sweep", "grid", "methods", "figures")


@dataclass(frozen=True)
class Method:
    """One method of the grid: a label, the theorem whose algorithm and bound it uses, estimator parameters."""

    label: str
    theorem: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Figure:
    """Curves varying over ``curves``; one figure per combination of the other axes, restricted to ``where``."""

    curves: tuple[str, ...]
    where: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: fixed settings, the grid (axis -> values), the methods and the figures."""

    path: Path
    problem: str
    sketch: str
    runs: int
    iters: int
    seed: int
    band: tuple[float, float]
    grid: dict[str, tuple[Any, ...]]
    methods: dict[str, Method]
    figures: tuple[Figure, ...]


class _Where:
    """Builds the one-line error messages ``FILE: KEY: what is wrong``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> UserError:
        return UserError(f"{self.path}: {key}: {message}")

    def table(self, obj: Any, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(key, f"expected a table, got {_show(obj)}")
        if allowed is not None:
            for k in obj:
                if k not in allowed:
                    raise self.fail(f"{key}.{k}" if key else k, f"unknown key; allowed: {', '.join(allowed)}")
        return obj

    def array(self, obj: Any, key: str) -> list[Any]:
        if not isinstance(obj, list):
            raise self.fail(key, f"expected an array, got {_show(obj)}")
        if not obj:
            raise self.fail(key, "is empty: the grid needs at least one value on every axis")
        return obj


def _show(obj: Any) -> str:
    return f"{obj!r} ({type(obj).__name__})"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _int(w: _Where, x: Any, key: str, minimum: int) -> int:
    if not _is_int(x) or x < minimum:
        raise w.fail(key, f"expected an integer >= {minimum}, got {_show(x)}")
    return int(x)


def _number(w: _Where, x: Any, key: str, lo: float, hi: float, strict_lo: bool = False) -> float:
    ok = _is_number(x) and (x > lo if strict_lo else x >= lo) and x <= hi
    if not ok:
        interval = f"{'(' if strict_lo else '['}{lo:g}, {hi:g}]"
        raise w.fail(key, f"expected a number in {interval}, got {_show(x)}")
    return float(x)


def _string(w: _Where, x: Any, key: str) -> str:
    if not isinstance(x, str) or not x:
        raise w.fail(key, f"expected a non-empty string, got {_show(x)}")
    return x


def _scalar(w: _Where, x: Any, key: str) -> Any:
    if not (_is_number(x) or isinstance(x, (str, bool))):
        raise w.fail(key, f"expected a number, a string or a boolean, got {_show(x)}")
    return x


def _sweep_section(w: _Where, raw: dict[str, Any]) -> dict[str, Any]:
    sec = w.table(raw.get("sweep", {}), "sweep", _SWEEP_KEYS)
    band = sec.get("band", [0.1, 0.9])
    if not isinstance(band, list) or len(band) != 2 or not all(_is_number(b) for b in band) \
            or not 0 <= band[0] < band[1] <= 1:
        raise w.fail("sweep.band", f"expected two quantiles [lo, hi] with 0 <= lo < hi <= 1, got {_show(band)}")
    return {
        "problem": _string(w, sec.get("problem", "nonconvex-reg"), "sweep.problem"),
        "sketch": _string(w, sec.get("sketch", "gaussian"), "sweep.sketch"),
        "runs": _int(w, sec.get("runs", 8), "sweep.runs", 2),
        "iters": _int(w, sec.get("iters", 500), "sweep.iters", 1),
        "seed": _int(w, sec.get("seed", 0), "sweep.seed", 0),
        "band": (float(band[0]), float(band[1])),
    }


def _methods(w: _Where, raw: dict[str, Any]) -> dict[str, Method]:
    table = w.table(raw.get("methods", {}), "methods", None)
    if not table:
        raise w.fail("methods", "no method given: add a table such as [methods.gd] "
                                f"(known: {', '.join(DEFAULT_THEOREM)})")
    out = {}
    for label, body in table.items():
        key = f"methods.{label}"
        body = w.table(body, key, ("theorem", "params"))
        if "theorem" in body:
            theorem = _string(w, body["theorem"], f"{key}.theorem")
        elif label in DEFAULT_THEOREM:
            theorem = DEFAULT_THEOREM[label]
        else:
            raise w.fail(f"{key}.theorem", f"missing: only {', '.join(DEFAULT_THEOREM)} have a default theorem")
        params = w.table(body.get("params", {}), f"{key}.params", None)
        items = tuple(sorted((k, _scalar(w, v, f"{key}.params.{k}")) for k, v in params.items()))
        out[label] = Method(label, theorem, items)
    return out


def _axis(w: _Where, name: str, values: list[Any], methods: Collection[str]) -> tuple[Any, ...]:
    key = f"grid.{name}"
    checks = {
        "r": lambda i, x: _int(w, x, f"{key}[{i}]", 1),
        "p": lambda i, x: _number(w, x, f"{key}[{i}]", 0.0, 1.0),
        "gamma_factor": lambda i, x: _number(w, x, f"{key}[{i}]", 0.0, float("inf"), strict_lo=True),
        "size": lambda i, x: tuple(sorted((k, _scalar(w, v, f"{key}[{i}].{k}"))
                                          for k, v in w.table(x, f"{key}[{i}]", None).items())),
        "method": lambda i, x: _method_name(w, x, f"{key}[{i}]", methods),
    }
    out = tuple(checks[name](i, x) for i, x in enumerate(values))
    if len(set(out)) != len(out):
        raise w.fail(key, f"contains a value twice: {values!r}")
    return out


def _method_name(w: _Where, x: Any, key: str, methods: Collection[str]) -> str:
    name = _string(w, x, key)
    if name not in methods:
        raise w.fail(key, f"unknown method {name!r}; the [methods] tables are: {', '.join(methods)}")
    return name


def _grid(w: _Where, raw: dict[str, Any], methods: dict[str, Method]) -> dict[str, tuple[Any, ...]]:
    sec = w.table(raw.get("grid", {}), "grid", AXES)
    defaults: dict[str, list[Any]] = {"method": list(methods), "size": [{}], "gamma_factor": [1.0], "r": [1],
                                      "p": [0.5]}
    return {name: _axis(w, name, w.array(sec.get(name, defaults[name]), f"grid.{name}"), methods) for name in AXES}


def _figures(w: _Where, raw: dict[str, Any], grid: dict[str, tuple[Any, ...]]) -> tuple[Figure, ...]:
    items = raw.get("figures", [{"curves": ["r", "p"]}, {"curves": ["method"]}])
    if not isinstance(items, list) or not items:
        raise w.fail("figures", f"expected a non-empty array of tables ([[figures]]), got {_show(items)}")
    out = []
    for i, item in enumerate(items):
        key = f"figures[{i}]"
        body = w.table(item, key, ("curves", "where"))
        curves = w.array(body.get("curves"), f"{key}.curves") if "curves" in body else None
        if curves is None:
            raise w.fail(f"{key}.curves", f"missing: name the axes that vary inside a figure ({', '.join(AXES)})")
        for j, c in enumerate(curves):
            if c not in AXES:
                raise w.fail(f"{key}.curves[{j}]", f"unknown axis {c!r}; axes: {', '.join(AXES)}")
        where = w.table(body.get("where", {}), f"{key}.where", AXES)
        fixed = []
        for axis, value in where.items():
            val = _axis(w, axis, [value], grid["method"])[0]
            if val not in grid[axis]:
                raise w.fail(f"{key}.where.{axis}", f"{value!r} is not on the grid {list(grid[axis])!r}")
            fixed.append((axis, val))
        out.append(Figure(tuple(curves), tuple(fixed)))
    return tuple(out)


def _toml_reader() -> Any:
    """:mod:`tomllib` (Python >= 3.11), else the ``tomli`` backport it came from."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UserError("verify sweep reads TOML: it needs Python >= 3.11 or the tomli package") from None
    return tomllib


def load(path: str | Path) -> SweepConfig:
    """Read and validate the sweep configuration at ``path``.

    Raises
    ------
    UserError
        The file cannot be read or is not TOML, or a key is unknown, of the wrong type, or empty; the
        message names the file and the key.
    """
    tomllib = _toml_reader()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the sweep configuration ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    w = _Where(path)
    w.table(raw, "", _TOP_KEYS)
    fixed = _sweep_section(w, raw)
    methods = _methods(w, raw)
    grid = _grid(w, raw, methods)
    figures = _figures(w, raw, grid)
    return SweepConfig(path=path, grid=grid, methods=methods, figures=figures, **fixed)
