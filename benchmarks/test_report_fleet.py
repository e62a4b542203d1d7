"""How long a cold build of the report takes for a fleet of 20 machines (pytest-benchmark).

`nox -s reportbench` runs it beside the 50-file benchmark. The fleet is the committed results'
machines copied under new ids (`benchmarks.fleet`): realistic content, 20 distinct machines.
Each round builds into a fresh folder, so nothing is cached. The goal (issue 21: under 20 s on
a 2-core machine) is read from the output, never asserted: timings belong in benchmarks.
"""

import shutil
from pathlib import Path

import pytest

from bench.report import build_report
from benchmarks.fleet import make_fleet

REPO = Path(__file__).resolve().parents[1]
MACHINES = 20


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("fleet")
    make_fleet(REPO / "results", source, MACHINES)
    return source


def test_cold_build_of_a_twenty_machine_report(benchmark, fleet, tmp_path):
    rounds = iter(range(100))

    def fresh():
        target = tmp_path / f"round-{next(rounds)}"
        shutil.copytree(fleet, target)
        return (target,), {"warn": lambda _: None}

    files = len(list(fleet.glob("runs/*/*.json")))
    benchmark.extra_info.update(machines=MACHINES, result_files=files)
    out = benchmark.pedantic(build_report, setup=fresh, rounds=3, iterations=1)
    text = out.read_text(encoding="utf-8")
    above = text.split("\n## Appendix\n", 1)[0]
    benchmark.extra_info.update(lines=text.count("\n"), lines_above_appendix=above.count("\n"))
    assert "which backend on which machine" in above
