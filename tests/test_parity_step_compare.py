"""The step comparison and the free-running diagnostic, from numbers alone (no backend)."""

import itertools

import numpy as np
import pytest

from bench.parity.step_compare import (
    NOISE_MULTIPLE,
    free_running,
    relative_error,
    teacher_forced_verdict,
)
from bench.stats import FAIL, PASS

NAMES = {"weights": ["dense/kernel", "dense/bias"], "trainable": [0, 1], "slots": ["adam/m"]}
TOLERANCE = 1e-4


def outputs(rng, scale=1.0):
    return {
        "loss": 2.3,
        "gradients": [rng.normal(size=(4, 3)) * scale, rng.normal(size=3) * 1e-3],
        "weights": [rng.normal(size=(4, 3)), rng.normal(size=3)],
        "slots": [rng.normal(size=(4, 3))],
    }


def nudged(out, tensor="gradients", index=0, by=1e-7):
    copy = {
        key: [np.array(a) for a in value] if isinstance(value, list) else value
        for key, value in out.items()
    }
    copy[tensor][index].flat[0] += by * np.abs(copy[tensor][index]).max()
    return copy


def steps_of(rng, count=3):
    return {step: outputs(rng) for step in range(1, count + 1)}


def test_relative_error_is_relative_to_the_tensors_size():
    assert relative_error([1.0, 1e-9], [1.0, 2e-9]) == pytest.approx(1e-9)
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([1.0], [0.0]) == 1.0
    assert relative_error([1.0, np.nan], [1.0, 2.0]) == 2.0  # a NaN never passes as close
    assert relative_error([1.0, np.nan], [1.0, np.nan]) == 0.0
    with pytest.raises(ValueError, match="one shape"):
        relative_error([1.0], [1.0, 2.0])


def test_rounding_level_steps_pass_and_a_real_difference_fails_at_its_step():
    rng = np.random.default_rng(0)
    first = steps_of(rng)
    second = {step: nudged(out) for step, out in first.items()}
    verdict = teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")
    assert verdict["outcome"] == PASS, verdict["message"]

    second[2] = nudged(first[2], "weights", 1, by=1e-2)
    verdict = teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")
    assert verdict["outcome"] == FAIL
    found = verdict["first_difference"]
    assert found["step"] == 2 and found["whole_step"]["tensor"] == "dense/bias after the update"
    assert "first difference at step 2 (a vs b): dense/bias after the update" in verdict["message"]


def test_a_tensor_that_is_rounding_noise_is_allowed_a_multiple_of_its_noise():
    rng = np.random.default_rng(1)
    first = steps_of(rng, 1)
    second = {1: nudged(first[1], "gradients", 1, by=0.3)}  # the near-zero bias gradient
    noise = np.full(1 + 2 + 2 + 1, 1e-8)
    bias_gradient = 2  # loss, kernel gradient, bias gradient, ...
    first[1]["noise"] = noise
    assert (
        teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")[
            "outcome"
        ]
        == FAIL
    )
    noise[bias_gradient] = 0.3 / NOISE_MULTIPLE * 1.5  # it moved that much from one ulp
    verdict = teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")
    assert verdict["outcome"] == PASS, verdict["message"]
    with pytest.raises(ValueError, match="rounding noise"):
        first[1]["noise"] = noise[:2]
        teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")


def digest(sha, count=10):
    return {"conv2d": {"what": "ReLU signs", "count": count, "sha256": sha}}


def test_a_near_tie_explains_a_step_only_when_every_layer_agrees_on_the_same_input():
    rng = np.random.default_rng(2)
    first = steps_of(rng)
    second = {step: nudged(out) for step, out in first.items()}
    second[3] = nudged(first[3], "gradients", 0, by=1e-2)
    digests = {"a": {3: digest("x", 10)}, "b": {3: digest("y", 11)}}
    clean = [{"layer": "conv2d", "kind": "Conv2D", "errors": {"output": 1e-7}}]
    localized = {"b": {3: clean}}
    verdict = teacher_forced_verdict(
        {"a": first, "b": second}, NAMES, TOLERANCE, reference="a",
        localized=localized, digests=digests,
    )  # fmt: skip
    assert verdict["outcome"] == PASS, verdict["message"]
    assert verdict["pairs"][0]["near_ties"] == [3]
    assert "conv2d's ReLU signs differ (a: 10 active, b: 11)" in verdict["message"]

    same_choices = {"a": {3: digest("x")}, "b": {3: digest("x")}}
    verdict = teacher_forced_verdict(
        {"a": first, "b": second}, NAMES, TOLERANCE, reference="a",
        localized=localized, digests=same_choices,
    )  # fmt: skip
    assert verdict["outcome"] == FAIL  # nothing flipped: not a tie

    wrong_layer = [{"layer": "conv2d", "kind": "Conv2D", "errors": {"output": 0.3}}]
    verdict = teacher_forced_verdict(
        {"a": first, "b": second}, NAMES, TOLERANCE, reference="a",
        localized={"b": {3: wrong_layer}}, digests=digests,
    )  # fmt: skip
    assert verdict["outcome"] == FAIL
    assert verdict["message"].startswith(
        "first difference: conv2d (Conv2D), output, 3.0e-01, step 3"
    )


def trajectory(steps, weights):
    return {"steps": steps, "weights": np.asarray(weights, dtype=np.float32)}


def test_free_running_finds_the_step_that_leaves_rounding_and_what_flipped_first():
    steps = [1, 2, 3, 4]
    base = np.ones((4, 5))
    drifted = base.copy()
    drifted[2:, 0] += [1e-3, 1e-2]  # leaves rounding at step 3
    digests = {
        "a": {s: digest("x") for s in steps},
        "b": {1: digest("x"), 2: digest("y", 12), 3: digest("z", 13), 4: digest("w", 14)},
    }
    found = free_running(
        {"a": trajectory(steps, base), "b": trajectory(steps, drifted)}, [3, 2], 1e-4, digests
    )
    assert found["first_step_beyond_rounding"] == {"a vs b": 3}
    assert found["changes"]["a vs b"] == [
        "step 2: conv2d's ReLU signs differ (a: 10 active, b: 12)"
    ]
    assert "a vs b leaves rounding at step 3" in found["message"]
    calm = free_running({"a": trajectory(steps, base), "b": trajectory(steps, base)}, [3, 2], 1e-4)
    assert calm["first_step_beyond_rounding"] == {}
    assert "every pair stays within rounding" in calm["message"]


def test_the_compared_steps_are_the_first_twenty_and_eight_spread_over_the_epoch():
    from bench.parity.trajectory import checkpoint_steps, compared_steps

    steps = compared_steps(469)  # the convnet's epoch at batch 128
    assert steps[:20] == list(range(1, 21)) and len(steps) == 28 and steps[-1] == 469
    assert all(later - earlier > 40 for earlier, later in itertools.pairwise(steps[20:]))
    assert compared_steps(10) == list(range(1, 11))
    kept = checkpoint_steps(118)  # the MLP's at batch 512
    assert kept[:64] == list(range(1, 65)) and kept[64:] == [72, 80, 88, 96, 104, 112, 118]


def test_each_step_keeps_its_largest_difference_among_the_tensors_held_to_the_tolerance():
    rng = np.random.default_rng(3)
    first = steps_of(rng, 1)
    second = {1: nudged(nudged(first[1], "gradients", 1, by=0.3), "weights", 0, by=3e-6)}
    first[1]["noise"] = np.array([0, 0, 0.01, 0, 0, 0], dtype=float)  # the bias gradient is noise
    verdict = teacher_forced_verdict({"a": first, "b": second}, NAMES, TOLERANCE, reference="a")
    [row] = verdict["pairs"][0]["by_step"]
    assert row["tensor"] == "dense/bias gradient"  # nearest to what it is allowed
    assert row["largest_at_tolerance"]["tensor"] == "dense/kernel after the update"
    assert row["largest_at_tolerance"]["error"] == pytest.approx(3e-6, rel=1e-6)
