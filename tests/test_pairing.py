"""When two groups' margin is paired by round, and what pairing does to its interval."""

from datetime import timedelta

import numpy as np
import pandas as pd

from bench.analysis.decision import TIME_TO_MODEL, Candidate, margin_over, task_values
from bench.analysis.pairing import confidence_of, paired_samples, side_by_side
from tests.suite_fakes import START, run_result


def group(
    backend,
    fits,
    *,
    invocation="inv",
    scheduler="rounds",
    interleaved=True,
    confidence=0.95,
    skip=(),
):
    runs = []
    for index, fit in enumerate(fits):
        if index in skip:
            continue
        repeat = {"group": f"{invocation}-{backend}", "index": index, "count": len(fits),
                  "interleaved": interleaved, "confidence": confidence}  # fmt: skip
        if scheduler:
            repeat["scheduler"] = scheduler
        runs.append(run_result(backend, fit_seconds=fit, index=index, group=repeat["group"],
                               invocation=invocation, repeat=repeat,
                               created=START + timedelta(minutes=index)))  # fmt: skip
    row = {"backend": backend, "device": "cpu", "profile": "default", "machine": "m",
           "group_runs": runs, "repeat_group": f"{invocation}-{backend}"}  # fmt: skip
    return next(pd.DataFrame([row]).itertuples())


# A host whose speed drifts from round to round by far more than the backends differ.
DRIFT = np.array([1.0, 1.4, 0.8, 1.2, 0.9])


def job_margin(winner, other):
    """The margin for time to a trained model of group `winner` over group `other`."""

    def candidate(row):
        return Candidate(row, task_values(row.group_runs, TIME_TO_MODEL))

    return margin_over(candidate(winner), candidate(other), TIME_TO_MODEL)


def log_width(margin) -> float:
    return float(np.log(margin.ci[1] / margin.ci[0]))


JITTER = np.array([1.01, 0.99, 1.0, 1.01, 0.99])


def test_groups_of_one_rounds_invocation_pair_across_backends_and_the_interval_narrows():
    a, b = group("tensorflow", 10 * DRIFT), group("jax", 9 * DRIFT * JITTER)
    assert side_by_side(a, b)
    paired = job_margin(b, a)
    assert paired.paired and paired.outcome == "FASTER"
    old_a = group("tensorflow", 10 * DRIFT, scheduler=None)
    old_b = group("jax", 9 * DRIFT * JITTER, scheduler=None)
    assert not side_by_side(old_a, old_b)  # the old suite ran backends one after another
    unpaired = job_margin(old_b, old_a)
    assert not unpaired.paired and unpaired.outcome != "FASTER"
    assert log_width(paired) < log_width(unpaired) / 5


def test_the_old_suites_interleaved_profiles_of_one_backend_still_pair():
    default = group("jax", 10 * DRIFT, scheduler=None)
    tuned = group("jax", 9 * DRIFT, scheduler=None)
    assert side_by_side(default, tuned)


def test_other_invocations_never_pair_and_a_missing_round_drops_from_the_pair():
    assert not side_by_side(
        group("jax", 10 * DRIFT, invocation="a"), group("torch", 10 * DRIFT, invocation="b")
    )
    a, b = group("jax", 10 * DRIFT), group("torch", 12 * DRIFT, skip=(2,))
    left, right, paired = paired_samples(a, b, "timings.fit_seconds")
    assert paired and len(left) == len(right) == 4
    assert np.allclose(np.array(right) / np.array(left), 1.2)


def test_a_sequential_designs_level_is_used_only_where_the_margin_is_paired():
    a, b = (
        group("jax", 10 * DRIFT, confidence=0.9875),
        group("torch", 12 * DRIFT, confidence=0.9875),
    )
    assert confidence_of(a, b, True) == 0.9875
    assert confidence_of(a, b, False) == 0.95
