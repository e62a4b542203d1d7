"""Wall-clock timing that ends every timed region with the backend's device synchronisation."""

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import keras

T = TypeVar("T")


def time_call(call: Callable[[], T], synchronize: Callable[[], None]) -> tuple[T, float]:
    """Run `call`, synchronise, and return (its result, elapsed seconds)."""
    start = time.perf_counter()
    result = call()
    synchronize()
    return result, time.perf_counter() - start


def summarize_epochs(epoch_seconds: list[float], samples_per_epoch: int) -> dict[str, Any]:
    """First epoch (tracing and compilation included) apart from the steady median of the rest."""
    if not epoch_seconds:
        raise ValueError("epoch_seconds is empty: no epoch was timed")
    steady = epoch_seconds[1:]
    steady_median = statistics.median(steady) if steady else None
    return {
        "epoch_seconds": list(epoch_seconds),
        "first_epoch_seconds": epoch_seconds[0],
        "steady_epoch_seconds": steady_median,
        "train_samples_per_second": samples_per_epoch / steady_median if steady_median else None,
    }


class EpochTimer(keras.callbacks.Callback):
    """Time each epoch from its start to its synchronised end, and print one line per epoch."""

    def __init__(self, synchronize: Callable[[], None], print_line: Callable[[str], None] = print):
        super().__init__()
        self._synchronize = synchronize
        self._print_line = print_line
        self._start = 0.0
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs=None):
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._synchronize()
        seconds = time.perf_counter() - self._start
        self.epoch_seconds.append(seconds)
        logs = logs or {}
        self._print_line(
            f"epoch {epoch + 1:>3}/{self.params.get('epochs', '?')}  "
            f"loss {logs.get('loss', float('nan')):.4f}  "
            f"accuracy {logs.get('accuracy', float('nan')):.4f}  {seconds:7.3f} s"
        )
