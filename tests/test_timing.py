import time

import pytest

from bench.run.timing import EpochTimer, summarize_epochs, time_call

pytestmark = pytest.mark.backend  # needs a Keras backend installed


def test_first_epoch_is_kept_apart_from_the_steady_median():
    summary = summarize_epochs([5.0, 1.0, 3.0, 2.0], samples_per_epoch=600)
    assert summary["first_epoch_seconds"] == 5.0
    assert summary["steady_epoch_seconds"] == 2.0
    assert summary["compile_overhead_seconds"] == 3.0
    assert summary["steady_epoch_iqr_seconds"] == 1.0 and summary["steady_epoch_min_seconds"] == 1.0
    assert summary["steady_epoch_count"] == 3 and summary["steady_epoch_noisy"] is True
    assert summary["train_samples_per_second"] == 300.0
    assert summary["epoch_seconds"] == [5.0, 1.0, 3.0, 2.0]


def test_a_single_epoch_has_no_steady_state():
    summary = summarize_epochs([4.0], samples_per_epoch=10)
    assert summary["steady_epoch_seconds"] is None and summary["train_samples_per_second"] is None
    assert summary["compile_overhead_seconds"] is None and summary["steady_epoch_count"] == 0


def test_no_epochs_is_an_error():
    with pytest.raises(ValueError, match="no epoch was timed"):
        summarize_epochs([], samples_per_epoch=10)


def test_time_call_puts_the_synchronisation_inside_the_clock():
    calls = []
    result, seconds = time_call(
        lambda: calls.append("call") or 42, lambda: (calls.append("sync"), time.sleep(0.05))
    )
    assert result == 42 and calls == ["call", "sync"]
    assert seconds >= 0.05


def test_epoch_timer_synchronises_and_prints_one_line_per_epoch():
    lines, syncs = [], []
    timer = EpochTimer(lambda: syncs.append(1), print_line=lines.append)
    timer.set_params({"epochs": 2})
    timer.on_train_begin()
    for epoch in range(2):
        timer.on_epoch_begin(epoch)
        timer.on_epoch_end(epoch, {"loss": 0.5, "accuracy": 0.875})
    assert len(timer.epoch_seconds) == 2 and len(syncs) == 2
    assert lines[1].startswith("epoch   2/2  loss 0.5000  accuracy 0.8750")
