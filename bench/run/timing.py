"""Wall-clock timing that ends every timed region with the backend's device synchronisation."""

import time
from collections.abc import Callable
from typing import Any, TypeVar

import keras

from bench.stats import describe

T = TypeVar("T")


def time_call(call: Callable[[], T], synchronize: Callable[[], None]) -> tuple[T, float]:
    """Run `call`, synchronise, and return (its result, elapsed seconds)."""
    start = time.perf_counter()
    result = call()
    synchronize()
    return result, time.perf_counter() - start


def summarize_epochs(epoch_seconds: list[float], samples_per_epoch: int) -> dict[str, Any]:
    """First epoch (tracing and compilation included) apart from the statistics of the rest.

    The compile overhead is estimated as first epoch minus the steady (median) epoch.
    """
    if not epoch_seconds:
        raise ValueError("epoch_seconds is empty: no epoch was timed")
    first = epoch_seconds[0]
    steady = describe(epoch_seconds[1:]) if len(epoch_seconds) > 1 else None
    median = steady["median"] if steady else None
    return {
        "epoch_seconds": list(epoch_seconds),
        "first_epoch_seconds": first,
        "steady_epoch_seconds": median,
        "steady_epoch_iqr_seconds": steady["iqr"] if steady else None,
        "steady_epoch_min_seconds": steady["min"] if steady else None,
        "steady_epoch_count": steady["count"] if steady else 0,
        "steady_epoch_cv": steady["cv"] if steady else None,
        "steady_epoch_resolution": steady["resolution"] if steady else None,
        "steady_epoch_noisy": steady["noisy"] if steady else None,
        "compile_overhead_seconds": first - median if median is not None else None,
        "train_samples_per_second": samples_per_epoch / median if median else None,
    }


class EpochTimer(keras.callbacks.Callback):
    """Time each epoch to its synchronised end; evaluate after it, with the training clock paused.

    Per epoch it keeps the epoch's own seconds, the training time from the fit's start to the
    epoch's end (`training_seconds`: compile included, every evaluation left out) and, when
    `evaluate` is given, the test loss and accuracy after it and what evaluating cost. Call
    `start()` just before `fit`; `paused_seconds` is what the evaluations took in all.
    """

    def __init__(
        self,
        synchronize: Callable[[], None],
        print_line: Callable[[str], None] = print,
        evaluate: Callable[[], tuple[float, float]] | None = None,
    ):
        super().__init__()
        self._synchronize = synchronize
        self._print_line = print_line
        self._evaluate = evaluate
        self._start = 0.0
        self._fit_started: float | None = None
        self.paused_seconds = 0.0
        self.epoch_seconds: list[float] = []
        self.training_seconds: list[float] = []
        self.evaluation_seconds: list[float] = []
        self.test_loss: list[float] = []
        self.test_accuracy: list[float] = []

    def start(self) -> None:
        """Start the training clock: the fit begins now."""
        self._fit_started = time.perf_counter()
        self.paused_seconds = 0.0

    def on_train_begin(self, logs=None):
        if self._fit_started is None:
            self.start()
        self.epoch_seconds, self.training_seconds, self.evaluation_seconds = [], [], []
        self.test_loss, self.test_accuracy = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._synchronize()
        now = time.perf_counter()
        seconds = now - self._start
        self.epoch_seconds.append(seconds)
        self.training_seconds.append(now - self._fit_started - self.paused_seconds)
        tested = ""
        if self._evaluate is not None:
            loss, accuracy = self._evaluate()
            self._synchronize()
            spent = time.perf_counter() - now
            self.paused_seconds += spent
            self.evaluation_seconds.append(spent)
            self.test_loss.append(float(loss))
            self.test_accuracy.append(float(accuracy))
            tested = f"  test accuracy {accuracy:.4f} ({spent:.2f} s, off the clock)"
        logs = logs or {}
        self._print_line(
            f"epoch {epoch + 1:>3}/{self.params.get('epochs', '?')}  "
            f"loss {logs.get('loss', float('nan')):.4f}  "
            f"accuracy {logs.get('accuracy', float('nan')):.4f}  {seconds:7.3f} s{tested}"
        )
