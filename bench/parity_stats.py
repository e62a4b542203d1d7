"""Verdicts of the parity checks, from numbers alone (numpy and scipy; no backend)."""

import itertools
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

# Seed-to-seed sd of test accuracy is about 0.1 percentage point here (README, "Parity"); with
# 3 seeds per backend a difference of means has a standard error near 0.1 point, so 0.4 point
# is about four standard errors: a real gap of that size fails, seed noise does not.
ACCURACY_TOLERANCE = 0.004
# The backends agree to about 1.5e-6 after one lockstep epoch; float32 noise stays far below.
LOCKSTEP_TOLERANCE = 1e-5
PREDICT_TOLERANCE = 1e-5


def _checked_tolerance(tolerance: float) -> float:
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not (np.isfinite(tolerance) and tolerance >= 0)
    ):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    return float(tolerance)


def _checked_samples(samples: Sequence[float], name: str = "samples") -> np.ndarray:
    values = np.asarray(samples, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {values.shape}")
    return values


def _checked_backends(by_backend: Mapping[str, Any], name: str) -> None:
    if len(by_backend) < 2:
        raise ValueError(f"{name} needs at least two backends to compare, got {list(by_backend)}")


def accuracy_summary(samples: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample sd and the Student-t 95% CI of the mean (None for fewer than 2)."""
    values = _checked_samples(samples)
    n, mean = int(values.size), float(values.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci95": None}
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n))
    return {"n": n, "mean": mean, "sd": sd, "ci95": [mean - half, mean + half]}


def welch_ci95(a: np.ndarray, b: np.ndarray) -> list[float] | None:
    """95% CI of mean(a) - mean(b), Welch's t (None without two samples on each side)."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    difference = a.mean() - b.mean()
    if va + vb == 0:
        return [float(difference), float(difference)]
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, dof) * np.sqrt(va + vb)
    return [float(difference - half), float(difference + half)]


def pairwise_differences(
    samples_by_backend: Mapping[str, Sequence[float]], tolerance: float
) -> list[dict[str, Any]]:
    """Every pair's difference of mean accuracy, its 95% CI, and |difference| < tolerance.

    Pairs come in the order of `samples_by_backend`; the difference is first minus second.
    """
    tolerance = _checked_tolerance(tolerance)
    pairs = []
    for a, b in itertools.combinations(samples_by_backend, 2):
        xa = _checked_samples(samples_by_backend[a], f"samples_by_backend[{a!r}]")
        xb = _checked_samples(samples_by_backend[b], f"samples_by_backend[{b!r}]")
        difference = float(xa.mean() - xb.mean())
        pairs.append({
            "pair": f"{a} vs {b}",
            "difference": difference,
            "ci95": welch_ci95(xa, xb),
            "passed": abs(difference) < tolerance,
        })  # fmt: skip
    return pairs


def statistical_verdict(
    samples_by_backend: Mapping[str, Sequence[float]], tolerance: float
) -> dict[str, Any]:
    """PASS when every pair of backends differs in mean test accuracy by less than `tolerance`."""
    tolerance = _checked_tolerance(tolerance)
    _checked_backends(samples_by_backend, "samples_by_backend")
    pairs = pairwise_differences(samples_by_backend, tolerance)
    failed = [p for p in pairs if not p["passed"]]
    largest = max(pairs, key=lambda p: abs(p["difference"]))
    message = (
        "; ".join(
            f"{p['pair']}: mean accuracy differs by {p['difference']:+.4f}, "
            f"tolerance {tolerance:.4f}"
            for p in failed
        )
        if failed
        else f"largest difference {largest['difference']:+.4f} ({largest['pair']}), "
        f"tolerance {tolerance:.4f}"
    )
    return {
        "passed": not failed,
        "tolerance": tolerance,
        "summaries": {name: accuracy_summary(s) for name, s in samples_by_backend.items()},
        "pairs": pairs,
        "message": message,
    }


def compare_arrays(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Max |a - b|, and for 2-d probabilities the argmax agreement and differing classes."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"arrays to compare must have one shape, got {a.shape} and {b.shape}")
    result: dict[str, Any] = {"max_abs_difference": float(np.abs(a - b).max()) if a.size else 0.0}
    if a.ndim == 2:
        same = a.argmax(axis=1) == b.argmax(axis=1)
        result["argmax_agreement"] = float(same.mean())
        result["differing_classes"] = int((~same).sum())
    return result


def _flat(weights: Any) -> np.ndarray:
    if isinstance(weights, (list, tuple)):
        return np.concatenate([np.ravel(w) for w in weights])
    return np.ravel(weights)


def _describe_lockstep(pair: Mapping[str, Any]) -> str:
    return (
        f"{pair['pair']}: max |Δ| probabilities {pair['max_abs_probability_difference']:.2e}, "
        f"weights {pair['max_abs_weight_difference']:.2e}"
    )


def lockstep_verdict(
    outputs_by_backend: Mapping[str, Mapping[str, Any]], tolerance: float
) -> dict[str, Any]:
    """PASS when every pair's probabilities and weights agree within `tolerance`."""
    tolerance = _checked_tolerance(tolerance)
    _checked_backends(outputs_by_backend, "outputs_by_backend")
    for backend, outputs in outputs_by_backend.items():
        missing = {"probabilities", "weights"} - set(outputs)
        if missing:
            raise ValueError(f"outputs_by_backend[{backend!r}] lacks {sorted(missing)}")
    pairs = []
    for a, b in itertools.combinations(outputs_by_backend, 2):
        try:
            probabilities = compare_arrays(
                outputs_by_backend[a]["probabilities"], outputs_by_backend[b]["probabilities"]
            )
            weights = compare_arrays(
                _flat(outputs_by_backend[a]["weights"]), _flat(outputs_by_backend[b]["weights"])
            )
        except ValueError as error:
            raise ValueError(f"outputs of {a} and {b} cannot be compared: {error}") from error
        largest = max(probabilities["max_abs_difference"], weights["max_abs_difference"])
        pairs.append({
            "pair": f"{a} vs {b}",
            "max_abs_probability_difference": probabilities["max_abs_difference"],
            "max_abs_weight_difference": weights["max_abs_difference"],
            "argmax_agreement": probabilities.get("argmax_agreement"),
            "passed": bool(largest <= tolerance),
        })  # fmt: skip
    failed = [p for p in pairs if not p["passed"]]
    worst = max(
        pairs,
        key=lambda p: max(p["max_abs_probability_difference"], p["max_abs_weight_difference"]),
    )
    message = (
        "; ".join(map(_describe_lockstep, failed))
        if failed
        else f"largest: {_describe_lockstep(worst)}"
    )
    return {
        "passed": not failed,
        "tolerance": tolerance,
        "pairs": pairs,
        "message": f"{message} (tolerance {tolerance:.0e})",
    }


def predict_everywhere_verdict(
    trained_on: str,
    predictions_by_backend: Mapping[str, np.ndarray],
    labels: np.ndarray,
    tolerance: float = PREDICT_TOLERANCE,
) -> dict[str, Any]:
    """PASS when every backend's predictions of `trained_on`'s model match the trainer's own."""
    tolerance = _checked_tolerance(tolerance)
    if trained_on not in predictions_by_backend:
        raise ValueError(
            f"trained_on={trained_on!r} has no predictions; got {list(predictions_by_backend)}"
        )
    _checked_backends(predictions_by_backend, "predictions_by_backend")
    reference = np.asarray(predictions_by_backend[trained_on])
    labels = np.asarray(labels)
    if reference.ndim != 2 or labels.shape != reference.shape[:1]:
        raise ValueError(
            f"predictions must be (samples, classes) and labels (samples,) class indices, got "
            f"{reference.shape} and {labels.shape}"
        )
    reference_accuracy = float((reference.argmax(axis=1) == labels).mean())
    rows = []
    for backend, predicted in predictions_by_backend.items():
        if backend == trained_on:
            continue
        try:
            comparison = compare_arrays(reference, predicted)
        except ValueError as error:
            raise ValueError(f"predictions_by_backend[{backend!r}]: {error}") from error
        accuracy = float((np.asarray(predicted).argmax(axis=1) == labels).mean())
        rows.append({
            "backend": backend,
            "max_abs_difference": comparison["max_abs_difference"],
            "differing_classes": comparison["differing_classes"],
            "test_accuracy": accuracy,
            "passed": bool(comparison["max_abs_difference"] <= tolerance)
            and comparison["differing_classes"] == 0
            and accuracy == reference_accuracy,
        })  # fmt: skip
    failed = [r for r in rows if not r["passed"]]

    def describe(row: Mapping[str, Any]) -> str:
        return (
            f"{row['backend']}: max |Δ| {row['max_abs_difference']:.2e}, "
            f"{row['differing_classes']} differing classes, accuracy {row['test_accuracy']:.4f} "
            f"vs {reference_accuracy:.4f}"
        )

    message = "; ".join(map(describe, failed or rows))
    return {
        "passed": not failed,
        "trained_on": trained_on,
        "tolerance": tolerance,
        "reference_accuracy": reference_accuracy,
        "backends": rows,
        "message": f"model trained on {trained_on}: {message} (tolerance {tolerance:.0e})",
    }
