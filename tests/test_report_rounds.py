"""The report on a rounds invocation: how its rounds ran, why they stopped, what is open."""

import re
import sys

import pytest

from bench.report import build_report
from bench.suite import __main__ as suite
from bench.suite import invocation
from bench.suite.launch import Launcher
from tests.report_fixtures import skip_drawing
from tests.suite_fakes import FakeClock, FakeLaunch
from tests.test_suite import FakeHost


@pytest.fixture
def bench_into(monkeypatch, tmp_path):
    """Run the suite with fake runs that write their results; return (run, host)."""
    clock = FakeClock()
    monkeypatch.setattr(invocation.Suite, "clock", staticmethod(clock))
    host = FakeHost()
    monkeypatch.setattr("bench.suite.probes.gemm_probe.neutral_probe", host)
    skip_drawing(monkeypatch)

    def run(costs, *args, noise=0.02, invocation="inv-r"):
        fake = FakeLaunch(costs, clock=clock, noise=noise, write_to=tmp_path)
        monkeypatch.setattr(Launcher, "launch", lambda launcher, *a: fake(launcher, *a))
        options = ["--python", sys.executable, "--results-dir", str(tmp_path), "--order-seed",
                   "3", "--invocation", invocation, "--budget", "0", *args]  # fmt: skip
        assert suite.main(options) == 0
        return build_report(tmp_path, test_set=None, warn=lambda message: None).read_text()

    return run, host


COSTS = {"tensorflow": 20.0, "jax": 10.0, "torch": 40.0}


def verdict_of(report: str) -> str:
    """The summary and the verdict details, with their machines' subsections."""
    start = report.index("## Verdict details")
    summary = report[report.index("## Summary") : report.index("## Appendix")]
    return summary + report[start : report.index("\n### ", start + 3)]


def test_the_verdict_says_how_its_rounds_ran_and_why_they_stopped(bench_into):
    run, _ = bench_into
    report = run(lambda cell: COSTS[cell.backend], "--profiles", "default", "--max-rounds", "6")
    verdict = verdict_of(report)
    assert (
        "**Rounds**: invocation `inv-r` ran every backend and profile once per round for 3 "
        in verdict
    )
    assert "orders drawn from seed 3" in verdict and "paired by round" in verdict
    assert "each look's interval at 98.75% (95% over 4 looks)" in verdict
    assert "It stopped because every margin was decided after 3 rounds." in verdict


def test_an_undecided_paired_margin_says_how_many_rounds_would_decide_it(bench_into):
    run, _ = bench_into
    costs = {"tensorflow": 10.0, "jax": 10.3, "torch": 40.0}  # 3% apart: hard to decide
    report = run(lambda cell: costs[cell.backend], "--profiles", "default", "--max-rounds", "3",
                 noise=0.03)  # fmt: skip
    verdict = verdict_of(report)
    assert "the cap of 3 rounds was reached" in verdict
    found = re.search(
        r"about (\d+) rounds in all, (\d+) more than these, would likely decide it "
        r"\(`nox -s bench -- --max-rounds (\d+) --budget 0`\)",
        verdict,
    )
    assert found or "more runs than is practical" in verdict
    if found:
        total, more, cap = map(int, found.groups())
        assert total == cap == 3 + more and more >= 1
    assert "runs per group" not in verdict  # a paired margin is decided by rounds


def test_a_disturbed_round_is_named_and_the_verdict_without_it_is_checked(bench_into):
    run, host = bench_into
    # Three start probes, then one after each round: rounds 2 lies between two low ones.
    host.readings = [480.0, 480.0, 480.0, 300.0, 310.0, 480.0, 480.0, 480.0, 480.0]
    report = run(lambda cell: COSTS[cell.backend], "--profiles", "default")
    verdict = verdict_of(report)
    assert (
        "Round 2 of `inv-r` was flagged disturbed: the neutral probes around it read 300 and 310"
        in verdict
    )
    assert "Without the disturbed rounds no decided margin would be decided otherwise" in verdict
    assert "every margin above is suspect" not in verdict


def test_a_search_that_kept_the_defaults_says_so_in_the_verdict(bench_into):
    run, _ = bench_into
    report = run(lambda cell: COSTS[cell.backend], "--backends", "jax,torch", "--max-rounds", "3")
    verdict = verdict_of(report)
    assert "Tuned profile of jax/cpu: the search" in verdict
    assert "tuned = default settings" in verdict


def test_a_tuned_profile_whose_latest_search_kept_the_defaults_is_not_taken_from_an_older_one(
    bench_into,
):
    run, _ = bench_into

    def faster_tuned(cell):
        fast = (cell.backend == "tensorflow" and "spe 32" in cell.name) or cell.profile == "tuned"
        return COSTS[cell.backend] * (0.5 if fast else 1.0)

    first = run(faster_tuned, "--backends", "tensorflow,jax", "--max-rounds", "3",
                invocation="inv-1")  # fmt: skip
    assert "TensorFlow (tuned)" in verdict_of(first)
    second = run(lambda cell: COSTS[cell.backend], "--backends", "tensorflow,jax",
                 "--max-rounds", "3", "--retune", invocation="inv-2")  # fmt: skip
    verdict = verdict_of(second)
    assert "TensorFlow (tuned)" not in verdict  # its settings are no longer the search's choice
    assert "invocation `inv-2`" in verdict and "invocation `inv-1`" not in verdict
    assert "Tuned profile of tensorflow/cpu: the search" in verdict


def verdict_where(winner: str, other: str, outcome: str):
    """A one-margin verdict: `winner` against `other` for time to a trained model."""
    from types import SimpleNamespace

    from bench.analysis.decision import (
        TIME_TO_MODEL,
        Candidate,
        MachineVerdict,
        Margin,
        TaskVerdict,
    )

    def candidate(backend):
        return Candidate(SimpleNamespace(backend=backend, profile="default"), [1.0])

    task = TaskVerdict(TIME_TO_MODEL, "any", candidate(winner))
    task.margins = [Margin(candidate(other), 1.5, [1.2, 1.8], outcome, None)]
    return MachineVerdict("m", "cpu", {(TIME_TO_MODEL.name, "any"): task}, set(), [], {})


def test_leaving_out_disturbed_rounds_tells_a_flip_from_fewer_rounds():
    from bench.analysis.rounds import changed_margins
    from bench.report.verdict_details import without_disturbed_text

    flip = changed_margins(verdict_where("jax", "torch", "FASTER"),
                           verdict_where("torch", "jax", "FASTER"))  # fmt: skip
    assert flip.flipped == [
        "time to a trained model (best profile), JAX (default) vs torch (default): "
        "JAX (default) faster → torch (default) faster"
    ]
    assert without_disturbed_text(flip).startswith("⚠ Without the disturbed rounds these")
    fewer = changed_margins(verdict_where("jax", "torch", "FASTER"),
                            verdict_where("jax", "torch", "INCONCLUSIVE"))  # fmt: skip
    assert (fewer.flipped, fewer.opened) == ([], 1)
    assert "no decided margin would be decided otherwise (1 decided" in without_disturbed_text(
        fewer
    )


def test_widths_prints_each_cross_backend_margin_paired_and_unpaired(bench_into, tmp_path, capsys):
    from bench.analysis import widths

    run, _ = bench_into
    run(lambda cell: COSTS[cell.backend], "--profiles", "default", "--max-rounds", "4")
    capsys.readouterr()
    assert widths.main(["--results-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("invocation inv-r: 16 cross-backend margins")
    assert sum(" paired [" in line and " unpaired [" in line for line in lines) == 16
    assert lines[-1].startswith("median paired / unpaired width (on log scale): ")
