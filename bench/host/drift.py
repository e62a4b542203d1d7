"""Host speed from several neutral probes, by a rule that one stray reading cannot trip.

A probe can read low for reasons that say nothing about the runs around it (another process
starting for a second, a page-cache miss); the host's speed itself moves for minutes (a
neighbour on a shared host, thermal limits). So the host's speed in an invocation is the
median of its probes, and a stretch of time counts as disturbed only when the probes on
both sides of it read more than HOST_SPEED_TOLERANCE off that median: one low reading
disturbs nothing.
"""

import itertools
import statistics
from collections.abc import Sequence

from bench.host.gemm_probe import HOST_SPEED_TOLERANCE, speeds_differ


def typical_rate(rates: Sequence[float]) -> float | None:
    """The host's speed from several probe rates: their median (None without any)."""
    found = [rate for rate in rates if rate]
    return float(statistics.median(found)) if found else None


def off_typical(rate: float, typical: float, tolerance: float = HOST_SPEED_TOLERANCE) -> bool:
    """Whether one probe rate is more than `tolerance` off the typical rate, either way."""
    return speeds_differ([rate, typical], tolerance)


def disturbed(
    before: float, after: float, typical: float, tolerance: float = HOST_SPEED_TOLERANCE
) -> bool:
    """Whether the time between two probes was disturbed: both read off the typical rate."""
    return off_typical(before, typical, tolerance) and off_typical(after, typical, tolerance)


def speed_changed(rates_in_order: Sequence[float], tolerance: float = HOST_SPEED_TOLERANCE) -> bool:
    """Whether the host's speed moved during an invocation: two probes in a row off its median.

    `rates_in_order` are the invocation's probe rates in the order they were taken.
    """
    rates = [rate for rate in rates_in_order if rate]
    typical = typical_rate(rates)
    if typical is None:
        return False
    return any(
        disturbed(before, after, typical, tolerance) for before, after in itertools.pairwise(rates)
    )
