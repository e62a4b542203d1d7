import json

import pytest

from bench.parity import power
from bench.stats import sd_upper_bound, tost_power


def verdict(sds, seeds=12, margin=0.004):
    pairs = [{"pair": f"pair {i}", "sd": sd} for i, sd in enumerate(sds)]
    return {"statistical": {"pairs": pairs, "tolerance": margin, "seeds": list(range(seeds))}}


def test_the_plan_uses_the_upper_bound_of_the_largest_paired_sd():
    found = power.plan(verdict([0.0008, 0.0011, 0.0009]))
    assert found["measured_from"]["pair"] == "pair 1"
    assert found["planning_sd"] == pytest.approx(sd_upper_bound(0.0011, 12))
    row = found["table"][5]
    assert row["pass_if_identical_per_pair"] == pytest.approx(
        tost_power(5, found["planning_sd"], 0.004)
    )
    assert row["pass_if_identical_all_pairs_at_least"] == pytest.approx(
        1 - 3 * (1 - row["pass_if_identical_per_pair"])
    )
    assert row["pass_at_the_tolerance"] <= 0.05 + 1e-6


def test_seeds_needed_is_the_first_count_that_meets_the_per_pair_target():
    found = power.plan(verdict([0.0009, 0.0009, 0.0009]))
    needed, sd = found["seeds_needed"], found["planning_sd"]
    assert tost_power(needed, sd, 0.004) >= found["target_per_pair"]
    assert tost_power(needed - 1, sd, 0.004) < found["target_per_pair"]


def test_a_wider_spread_needs_more_seeds():
    narrow = power.plan(verdict([0.0009] * 3))["seeds_needed"]
    wide = power.plan(verdict([0.002] * 3))["seeds_needed"]
    assert wide > narrow


def test_the_command_prints_the_plan_of_the_latest_verdict(tmp_path, capsys):
    folder = tmp_path / "parity" / "some-machine"
    folder.mkdir(parents=True)
    (folder / "20260101T000000Z-parity.json").write_text(json.dumps(verdict([0.002] * 3)))
    (folder / "20260102T000000Z-parity.json").write_text(json.dumps(verdict([0.0009] * 3)))
    assert power.main(["--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "20260102T000000Z-parity.json" in out and "largest paired sd 0.00090" in out
    assert "seeds needed for all pairs to pass identical backends 95%" in out


def test_without_a_verdict_the_command_says_what_to_run(tmp_path, capsys):
    assert power.main(["--results-dir", str(tmp_path)]) == 2
    assert "run nox -s parity" in capsys.readouterr().err


def test_a_target_that_is_not_a_probability_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        power.main(["--results-dir", str(tmp_path), "--target", "1.5"])
    assert "strictly between 0 and 1" in capsys.readouterr().err
