"""Verdicts of the parity checks, from numbers alone (numpy and scipy; no backend)."""

import itertools
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


def accuracy_summary(samples: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample sd and the Student-t 95% CI of the mean (None for fewer than 2)."""
    values = np.asarray(samples, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"samples must be a non-empty 1-d sequence, got shape {values.shape}")
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
    """Every pair's difference of mean accuracy, its 95% CI, and |difference| < tolerance."""
    pairs = []
    for a, b in itertools.combinations(samples_by_backend, 2):
        xa = np.asarray(samples_by_backend[a], dtype=float)
        xb = np.asarray(samples_by_backend[b], dtype=float)
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
    if len(samples_by_backend) < 2:
        raise ValueError("samples_by_backend needs at least two backends to compare")
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


def lockstep_verdict(
    outputs_by_backend: Mapping[str, Mapping[str, Any]], tolerance: float
) -> dict[str, Any]:
    """PASS when every pair's probabilities and weights agree within `tolerance`."""
    pairs = []
    for a, b in itertools.combinations(outputs_by_backend, 2):
        probabilities = compare_arrays(
            outputs_by_backend[a]["probabilities"], outputs_by_backend[b]["probabilities"]
        )
        weights = compare_arrays(
            _flat(outputs_by_backend[a]["weights"]), _flat(outputs_by_backend[b]["weights"])
        )
        worst = max(probabilities["max_abs_difference"], weights["max_abs_difference"])
        pairs.append({
            "pair": f"{a} vs {b}",
            "max_abs_probability_difference": probabilities["max_abs_difference"],
            "max_abs_weight_difference": weights["max_abs_difference"],
            "argmax_agreement": probabilities.get("argmax_agreement"),
            "passed": worst <= tolerance,
        })  # fmt: skip
    failed = [p for p in pairs if not p["passed"]]
    worst = max(
        pairs,
        key=lambda p: max(p["max_abs_probability_difference"], p["max_abs_weight_difference"]),
    )
    describe = lambda p: (  # noqa: E731
        f"{p['pair']}: max |Δ| probabilities {p['max_abs_probability_difference']:.2e}, "
        f"weights {p['max_abs_weight_difference']:.2e}"
    )
    message = "; ".join(map(describe, failed)) if failed else f"largest: {describe(worst)}"
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
    tolerance: float = 1e-5,
) -> dict[str, Any]:
    """PASS when every backend's predictions of `trained_on`'s model match the trainer's own."""
    if trained_on not in predictions_by_backend:
        raise ValueError(f"no predictions from the trainer {trained_on!r}")
    reference = np.asarray(predictions_by_backend[trained_on])
    labels = np.asarray(labels)
    reference_accuracy = float((reference.argmax(axis=1) == labels).mean())
    rows = []
    for backend, predicted in predictions_by_backend.items():
        if backend == trained_on:
            continue
        comparison = compare_arrays(reference, predicted)
        accuracy = float((np.asarray(predicted).argmax(axis=1) == labels).mean())
        rows.append({
            "backend": backend,
            "max_abs_difference": comparison["max_abs_difference"],
            "differing_classes": comparison["differing_classes"],
            "test_accuracy": accuracy,
            "passed": comparison["max_abs_difference"] <= tolerance
            and comparison["differing_classes"] == 0
            and accuracy == reference_accuracy,
        })  # fmt: skip
    failed = [r for r in rows if not r["passed"]]
    describe = lambda r: (  # noqa: E731
        f"{r['backend']}: max |Δ| {r['max_abs_difference']:.2e}, "
        f"{r['differing_classes']} differing classes, accuracy {r['test_accuracy']:.4f} "
        f"vs {reference_accuracy:.4f}"
    )
    message = "; ".join(map(describe, failed if failed else rows))
    return {
        "passed": not failed,
        "trained_on": trained_on,
        "tolerance": tolerance,
        "reference_accuracy": reference_accuracy,
        "backends": rows,
        "message": f"model trained on {trained_on}: {message}",
    }
