"""Parity verdicts from numbers alone (numpy; no backend); the step check is `step_compare`.

- statistical: paired two one-sided tests (TOST) on the test accuracy per seed;
- predict everywhere: one saved model's predictions under every backend.
"""

import itertools
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.stats import (
    FAIL,
    INCONCLUSIVE,
    MIN_SEEDS,
    PASS,
    mean_ci,
    paired_tost,
    tost_power,
)
from digitrec_core.workloads.mlp import MLP

# The MLP's (digitrec_core/workloads/mlp.py says why); other workloads bring their own.
ACCURACY_TOLERANCE = MLP.tolerances.accuracy
LOCKSTEP_TOLERANCE = MLP.tolerances.lockstep
PREDICT_TOLERANCE = MLP.tolerances.predict


def _checked_tolerance(tolerance: float) -> float:
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not (np.isfinite(tolerance) and tolerance >= 0)
    ):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    return float(tolerance)


def _checked_backends(by_backend: Mapping[str, Any], name: str) -> None:
    if len(by_backend) < 2:
        raise ValueError(f"{name} needs at least two backends to compare, got {list(by_backend)}")


def overall_outcome(outcomes: list[str]) -> str:
    """FAIL if any check fails, else INCONCLUSIVE if any cannot tell, else PASS."""
    if FAIL in outcomes:
        return FAIL
    return INCONCLUSIVE if INCONCLUSIVE in outcomes else PASS


def common_seeds(accuracy_by_backend: Mapping[str, Mapping[int, float]]) -> list[int]:
    """The seeds every backend ran; refuses backends that ran different seeds."""
    seed_sets = {backend: sorted(by_seed) for backend, by_seed in accuracy_by_backend.items()}
    if len({tuple(seeds) for seeds in seed_sets.values()}) != 1:
        raise ValueError(
            f"the backends ran different seeds {seed_sets}; pairing needs the same seeds on "
            "every backend (rerun them together)"
        )
    return next(iter(seed_sets.values()))


def statistical_verdict(
    accuracy_by_backend: Mapping[str, Mapping[int, float]], tolerance: float
) -> dict[str, Any]:
    """Paired TOST of every pair of backends' test accuracies, seed by seed.

    `accuracy_by_backend` maps backend -> {seed: test accuracy}; seed s of every backend starts
    from the same initial weights (and, in parity runs, batch order), so the per-seed
    differences are paired. A pair passes when the 90% interval of its mean difference lies
    within ±`tolerance`; the check passes when every pair does (an intersection-union test,
    which needs no correction for the number of pairs), fails when any pair is significantly
    beyond the tolerance, and is INCONCLUSIVE otherwise. Refuses fewer than MIN_SEEDS seeds.
    """
    tolerance = _checked_tolerance(tolerance)
    _checked_backends(accuracy_by_backend, "accuracy_by_backend")
    seeds = common_seeds(accuracy_by_backend)
    if len(seeds) < MIN_SEEDS:
        raise ValueError(
            f"the statistical check needs at least {MIN_SEEDS} seeds per backend, got "
            f"{len(seeds)}; rerun with --seeds {MIN_SEEDS} or more"
        )
    samples = {
        backend: [float(by_seed[seed]) for seed in seeds]
        for backend, by_seed in accuracy_by_backend.items()
    }
    pairs = []
    for a, b in itertools.combinations(samples, 2):
        differences = np.subtract(samples[a], samples[b])
        test = paired_tost(differences, tolerance)
        power = None if test["sd"] == 0 else tost_power(len(seeds), test["sd"], tolerance)
        pairs.append({
            "pair": f"{a} vs {b}",
            "differences": differences.tolist(),
            **test,
            # How often TOST with these seeds passes identical backends, at this pair's sd.
            "power_if_identical": power,
        })  # fmt: skip
    outcome = overall_outcome([p["outcome"] for p in pairs])
    return {
        "outcome": outcome,
        "passed": outcome == PASS,
        "tolerance": tolerance,
        "seeds": seeds,
        "samples": samples,
        "summaries": {backend: mean_ci(values) for backend, values in samples.items()},
        "pairs": pairs,
        "message": statistical_message(pairs, tolerance),
    }


def statistical_message(pairs: list[dict[str, Any]], tolerance: float) -> str:
    """One line: each pair's paired mean difference, its 90% interval and outcome."""

    def describe(pair: dict[str, Any]) -> str:
        low, high = pair["ci"]
        text = (
            f"{pair['pair']}: {pair['mean_difference']:+.4f} [{low:+.4f}, {high:+.4f}] "
            f"{pair['outcome']}"
        )
        if pair["outcome"] == INCONCLUSIVE:
            needed = pair["seeds_to_decide"]
            text += (
                f" (about {needed} seeds would likely decide it)"
                if needed
                else " (too close to the tolerance for any practical number of seeds)"
            )
        return text

    return (
        f"paired mean accuracy differences, 90% intervals, tolerance ±{tolerance:.4f}: "
        + "; ".join(map(describe, pairs))
    )


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
        "outcome": FAIL if failed else PASS,
        "passed": not failed,
        "trained_on": trained_on,
        "tolerance": tolerance,
        "reference_accuracy": reference_accuracy,
        "backends": rows,
        "message": f"model trained on {trained_on}: {message} (tolerance {tolerance:.0e})",
    }
