"""The tolerance proposal: the MLP's own rule, from a verdict's measurements."""

import json

import pytest

from bench.parity import tolerances
from bench.stats import sd_upper_bound, tost_power
from tests.report_fixtures import parity_step_verdict, parity_verdict


def test_the_accuracy_margin_is_the_smallest_that_the_seeds_pass_reliably():
    verdict = parity_verdict(shift=0.0)
    proposal = tolerances.propose(verdict, seeds=5, target=0.95)
    accuracy = proposal["accuracy"]
    margin, pairs = accuracy["margin"], len(verdict["statistical"]["pairs"])
    per_pair = 1 - 0.05 / pairs
    planning = sd_upper_bound(accuracy["largest_paired_sd"], accuracy["measured_seeds"])
    assert tost_power(5, planning, margin) >= per_pair  # passes at the proposed margin
    assert tost_power(5, planning, margin - 0.001) < per_pair  # and not one step below
    assert accuracy["seeds"] <= 5


def test_noisier_seeds_need_a_wider_margin():
    quiet = parity_verdict(shift=0.0)
    noisy = json.loads(json.dumps(quiet))
    for pair in noisy["statistical"]["pairs"]:
        pair["sd"] *= 4
    assert (
        tolerances.propose(noisy, 5, 0.95)["tolerances"]["accuracy"]
        > tolerances.propose(quiet, 5, 0.95)["tolerances"]["accuracy"]
    )


@pytest.mark.parametrize(
    ("measured", "proposed"), [(2e-6, 1e-5), (3e-6, 1e-4), (0.0, 1e-5), (4e-5, 1e-3), (4e-4, None)]
)
def test_lockstep_tolerance_is_headroom_over_the_measurement_rounded_to_a_power_of_ten(
    measured, proposed
):
    verdict = parity_verdict(shift=0.0)
    for pair in verdict["lockstep"]["pairs"]:
        pair["max_abs_probability_difference"] = measured
        pair["max_abs_weight_difference"] = measured / 2
    assert tolerances.propose(verdict, 5, 0.95)["tolerances"]["lockstep"] == pytest.approx(proposed)


def test_the_command_reads_the_workloads_latest_verdict(tmp_path, capsys):
    folder = tmp_path / "parity" / "machine"
    folder.mkdir(parents=True)
    verdict = parity_verdict(shift=0.0)
    verdict["config"]["workload"] = "convnet"
    (folder / "20260302T100000Z-parity-convnet.json").write_text(json.dumps(verdict))
    args = ["--workload", "convnet", "--results-dir", str(tmp_path)]
    assert tolerances.main(args) == 0
    out = capsys.readouterr().out
    assert "(convnet)" in out and "Tolerances(accuracy=" in out
    assert tolerances.main(["--results-dir", str(tmp_path)]) == 2  # no MLP verdict there
    assert "run nox -s parity -- --workload mlp first" in capsys.readouterr().err


def test_the_step_tolerance_comes_from_the_steps_judged_by_it_alone():
    verdict = parity_step_verdict(shift=0.0, step_error=2e-6)
    proposal = tolerances.propose(verdict, 5, 0.95)
    assert proposal["measured"]["step"] == pytest.approx(2e-6, rel=1e-3)
    assert proposal["tolerances"]["step"] == pytest.approx(1e-5)
    # A tensor allowed its rounding noise, or a near-tie, does not widen the proposal.
    pair = verdict["teacher_forced"]["pairs"][0]
    pair["by_step"][0] |= {"error": 0.5, "allowed": 5.0}
    pair["by_step"][1] |= {"error": 0.3, "near_tie": ["conv2d's ReLU signs differ"]}
    pair["by_step"][1]["largest_at_tolerance"]["error"] = 0.3
    assert tolerances.propose(verdict, 5, 0.95)["measured"]["step"] == pytest.approx(2e-6, rel=1e-3)
    # The free-running epoch 1 of a step verdict stands in for the old lockstep measurement.
    assert proposal["measured"]["lockstep"] == pytest.approx(2e-6)
