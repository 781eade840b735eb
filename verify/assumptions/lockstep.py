"""Run several sequential searches side by side so that their oracle calls become one batched call.

A search (an L-BFGS-B run of :func:`scipy.optimize.minimize` from one start) asks for the oracle at one
point at a time.  :func:`lockstep` runs each search in its own thread; whenever every unfinished search
is waiting for an evaluation, the waiting points are evaluated together, in one call of the batched
oracle (by the thread of the search that asked last), and each search resumes with its own values.
A search's sequence of points depends only on its own values, so each search does exactly what it does
alone (up to the rounding of the batched oracle, which computes each point independently): thread
scheduling changes the order of the work, not the result.

If the batched call raises, each waiting request is evaluated on its own and the error goes to the
search that asked for the failing point.  The threads only interleave where a search waits for values;
scipy's L-BFGS-B is reentrant from scipy 1.15 on (its C port), and with an older scipy the searches run
one after another, with the same results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy

__all__ = ["CONCURRENT", "lockstep"]

CONCURRENT = tuple(int(part) for part in scipy.__version__.split(".")[:2]) >= (1, 15)
"""Whether searches run side by side (scipy >= 1.15: L-BFGS-B in C, reentrant) or one after another."""

Oracle = Callable[[np.ndarray], np.ndarray]
Ask = Callable[[str, np.ndarray], np.ndarray]


def _evaluate_kind(oracle: Oracle, requests: dict[int, np.ndarray]) -> dict[int, Any]:
    """The values of the requests for one oracle from one batched call; on an error, each request on its own."""
    keys = sorted(requests)
    try:
        values = oracle(np.concatenate([requests[k] for k in keys]))
        return dict(zip(keys, np.split(values, np.cumsum([len(requests[k]) for k in keys])[:-1]), strict=True))
    except Exception:  # noqa: BLE001 - find which search's point failed
        out: dict[int, Any] = {}
        for k in keys:
            try:
                out[k] = oracle(requests[k])
            except Exception as exc:  # noqa: BLE001 - handed to the search that asked
                out[k] = exc
        return out


def _evaluate_all(oracles: Mapping[str, Oracle], requests: dict[int, tuple[str, np.ndarray]]) -> dict[int, Any]:
    """The values of every request, one batched call per oracle asked for."""
    out: dict[int, Any] = {}
    for kind in sorted({kind for kind, _ in requests.values()}):
        out.update(_evaluate_kind(oracles[kind], {k: X for k, (which, X) in requests.items() if which == kind}))
    return out


class _Board:
    """The requests waiting for values, under one lock, and one event per search that its values are ready.

    The search whose request completes a round (every live search is then waiting), or whose end does, takes
    the round's requests and evaluates them in its own thread; each search is woken only by its own values.
    While a round is evaluated every other live search waits, so nothing else touches the board."""

    def __init__(self, oracles: Mapping[str, Oracle], live: int) -> None:
        self.oracles = oracles
        self.lock = threading.Lock()
        self.requests: dict[int, tuple[str, np.ndarray]] = {}
        self.values: dict[int, Any] = {}
        self.ready = [threading.Event() for _ in range(live)]
        self.live = live

    def _take(self) -> dict[int, tuple[str, np.ndarray]]:
        """The round's requests if every live search is waiting (called under the lock), else nothing."""
        if not self.requests or len(self.requests) < self.live:
            return {}
        requests, self.requests = self.requests, {}
        return requests

    def _answer(self, requests: dict[int, tuple[str, np.ndarray]]) -> None:
        """Evaluate a round and wake each of its searches with its values (or the error of the evaluation)."""
        if not requests:
            return
        try:
            values = _evaluate_all(self.oracles, requests)
        except Exception as exc:  # noqa: BLE001 - e.g. an unknown kind: every search of the round gets it
            values = dict.fromkeys(requests, exc)
        self.values.update(values)
        for key in values:
            self.ready[key].set()

    def ask(self, key: int, kind: str, X: np.ndarray) -> np.ndarray:
        with self.lock:
            self.requests[key] = (kind, X)
            requests = self._take()
        self._answer(requests)
        self.ready[key].wait()
        self.ready[key].clear()
        out = self.values.pop(key)
        if isinstance(out, Exception):
            raise out
        return out

    def finish(self) -> None:
        with self.lock:
            self.live -= 1
            requests = self._take()
        self._answer(requests)


def lockstep(searches: Sequence[Callable[[Ask], Any]], oracles: Mapping[str, Oracle]) -> list[tuple[bool, Any]]:
    """Run ``searches`` side by side, batching their requests (see the module docstring).

    Parameters
    ----------
    searches : sequence of callables
        ``search(ask)`` runs one search; ``ask(kind, X)`` with ``X`` of shape ``(k, m, n)`` returns
        ``oracles[kind](X)`` (it raises what that evaluation raised).
    oracles : mapping
        Batched oracles by name, e.g. ``{"f": orc.f, "grad": orc.grad}``: ``X (K, m, n) →`` an array with
        leading axis ``K``.

    Returns
    -------
    list of (bool, object)
        For each search in order: ``(True, its return value)`` or ``(False, the exception it raised)``.
    """
    outcomes: list[tuple[bool, Any]] = [(False, None)] * len(searches)
    if not CONCURRENT or len(searches) <= 1:
        for k, search in enumerate(searches):
            try:
                outcomes[k] = (True, search(lambda kind, X: oracles[kind](X)))
            except Exception as exc:  # noqa: BLE001 - returned to the caller, as in the concurrent case
                outcomes[k] = (False, exc)
        return outcomes
    board = _Board(oracles, len(searches))
    errstate = np.geterr()  # numpy's error state is per thread: the searches inherit the caller's

    def run(k: int) -> None:
        try:
            with np.errstate(**errstate):
                outcomes[k] = (True, searches[k](lambda kind, X: board.ask(k, kind, X)))
        except Exception as exc:  # noqa: BLE001 - returned to the caller
            outcomes[k] = (False, exc)
        finally:
            board.finish()

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(len(searches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
