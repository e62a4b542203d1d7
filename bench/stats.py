"""Summary statistics of timing samples: median, spread, and a noisy flag."""

from collections.abc import Sequence
from typing import Any

import numpy as np

NOISY_CV = 0.10  # coefficient of variation above which a set of timings is flagged as noisy


def describe(samples: Sequence[float]) -> dict[str, Any]:
    """Median, IQR, min, max, mean, sample standard deviation, CV and count of `samples`.

    `noisy` is True when the CV (stdev / mean) exceeds NOISY_CV; with fewer than two samples
    the spread is unknown and `stdev`, `cv` and `noisy` are None.
    """
    values = np.asarray(samples, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"samples must be a non-empty 1-d sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("samples must be finite numbers")
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    mean = float(values.mean())
    stdev = float(values.std(ddof=1)) if values.size > 1 else None
    cv = stdev / mean if stdev is not None and mean > 0 else None
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": mean,
        "stdev": stdev,
        "cv": cv,
        "count": int(values.size),
        "noisy": None if cv is None else bool(cv > NOISY_CV),
    }


def latency_percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of per-call latencies, in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000
    if values.size == 0:
        raise ValueError("no latencies to summarise")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "calls": int(values.size),
    }
