import math
import os

import pytest

from bench import backends
from bench.roofline import (
    FLOPS_FORMULA,
    measure_matmul_peak,
    mlp_training_flops_per_sample,
    roofline_record,
)

ACTIVE = os.environ["KERAS_BACKEND"]
PEAK = {"model_shapes_gflops": 60.88704, "square_gflops": 121.77408}


def test_documented_model_costs_507392_flops_per_sample():
    # forward 2·(784·128 + 128·128 + 128·10) = 236,032; weight gradients the same;
    # input gradients 2·(128·128 + 128·10) = 35,328 (none for the images).
    assert mlp_training_flops_per_sample() == 507_392
    assert mlp_training_flops_per_sample((784, 128, 128, 10)) * 60_000 == 30_443_520_000


@pytest.mark.parametrize(
    ("layer_sizes", "flops"),
    [
        ((3, 5), 2 * 15 + 2 * 15),  # one layer: forward and weight gradient, no input gradient
        ((2, 3, 4), 2 * (6 + 12) + 2 * (6 + 12) + 2 * 12),
    ],
)
def test_flops_of_a_hand_computable_stack(layer_sizes, flops):
    assert mlp_training_flops_per_sample(layer_sizes) == flops


@pytest.mark.parametrize("layer_sizes", [(784,), (784, 0, 10), (784, 12.5)])
def test_bad_layer_sizes_are_refused(layer_sizes):
    with pytest.raises(ValueError, match="layer_sizes must be at least two positive integers"):
        mlp_training_flops_per_sample(layer_sizes)


def test_record_divides_epoch_flops_by_the_steady_epoch_and_by_each_peak():
    record = roofline_record(0.5, 60_000, PEAK)
    assert record["flops_formula"] == FLOPS_FORMULA
    assert record["flops_per_sample"] == 507_392
    assert record["flops_per_epoch"] == 30_443_520_000
    assert record["achieved_gflops"] == pytest.approx(60.88704)
    assert record["percent_of_model_shapes_peak"] == pytest.approx(100.0)
    assert record["percent_of_square_peak"] == pytest.approx(50.0)
    assert record["peak_model_shapes_gflops"] == 60.88704
    assert record["peak_square_gflops"] == 121.77408
    assert record["matmul_peak"] is PEAK


def test_record_of_a_one_epoch_run_has_no_achieved_figures():
    record = roofline_record(None, 6_000, PEAK)
    assert record["flops_per_epoch"] == 3_044_352_000
    assert record["achieved_gflops"] is None
    assert record["percent_of_model_shapes_peak"] is None
    assert record["percent_of_square_peak"] is None
    assert record["peak_square_gflops"] == 121.77408


def test_record_without_a_probe_has_no_peak_figures():
    record = roofline_record(2.0, 60_000, None)
    assert record["achieved_gflops"] == pytest.approx(15.22176)
    assert record["percent_of_square_peak"] is None and record["matmul_peak"] is None


@pytest.mark.parametrize(
    ("steady", "samples", "message"),
    [(0.0, 10, "steady_epoch_seconds must be positive or None"), (1.0, 0, "train_samples")],
)
def test_record_refuses_bad_inputs(steady, samples, message):
    with pytest.raises(ValueError, match=message):
        roofline_record(steady, samples, PEAK)


def test_probe_measures_every_shape_and_synchronises_every_timed_region():
    synced = []
    support = backends.load(ACTIVE)

    def counting_block_until_ready(value):
        synced.append(len(value) if isinstance(value, list) else 1)
        support.block_until_ready(value)

    peak = measure_matmul_peak(
        counting_block_until_ready,
        batch_size=8,
        layer_sizes=(32, 16, 8),
        square_size=24,
        repeats=2,
        seconds_per_repeat=0.002,
    )
    shapes = [*peak["model_shapes"], peak["square"]]
    assert [shape["shape"] for shape in shapes] == [
        "8x32 @ 32x16",
        "8x16 @ 16x8",
        "24x24 @ 24x24",
    ]
    for shape in shapes:
        assert all(math.isfinite(g) and g > 0 for g in shape["repeat_gflops"])
        assert shape["gflops"] == max(shape["repeat_gflops"])
        assert len(shape["repeat_calls"]) == len(shape["repeat_gflops"]) >= 1
    rates = [shape["gflops"] for shape in peak["model_shapes"]]
    assert min(rates) <= peak["model_shapes_gflops"] <= max(rates)
    assert peak["square_gflops"] == peak["square"]["gflops"] > 0
    # Each shape: the first call and at least one warm-up call, then every timed repeat,
    # which synchronises on all of its outputs at once.
    timed_calls = [calls for shape in shapes for calls in shape["repeat_calls"]]
    assert len(synced) >= 2 * len(shapes) + len(timed_calls)
    assert all(calls in synced for calls in timed_calls if calls > 1)
    assert 0 < peak["probe_seconds"] < 10
    assert roofline_record(1.0, 100, peak)["percent_of_square_peak"] > 0
