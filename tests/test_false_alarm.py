"""A smaller run of benchmarks/bench_false_alarm.py (slow): on attained instances the rate of false
**violated** verdicts is not significantly above the family-wise α (the full table is in benchmarks/README.md)."""

from __future__ import annotations

import pytest
from bench_module import loaded


@pytest.fixture(scope="module")
def bench():
    with loaded("bench_false_alarm") as module:
        yield module


@pytest.mark.slow
@pytest.mark.parametrize("runs", [8, 256])
def test_false_alarm_rate_is_not_above_alpha(bench, runs):
    alpha, seeds = 0.05, 400
    for inst in bench.instances([runs]):
        violated, _ = bench.measure(inst, [alpha], seeds, jobs=2)[alpha]
        low, _ = bench.clopper_pearson(violated, seeds)
        assert low <= alpha, f"{inst.label}: {violated}/{seeds} false alarms at alpha {alpha}"


def test_instances_are_the_attained_ones(bench):
    labels = [i.label for i in bench.instances([8])]
    assert labels == ["gd-pl isotropic r=1 R=8", "gd-nc isotropic r=1 R=8", "ns-polyak norm-distance r=2 R=16"]
    assert bench.clopper_pearson(0, 100)[0] == 0.0 and bench.clopper_pearson(100, 100)[1] == 1.0
