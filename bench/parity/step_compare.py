"""Training steps compared from one shared state, and the free-running trajectory (numpy only).

- `relative_error`: how far two tensors are apart, relative to their size;
- `teacher_forced_verdict`: every backend took each compared step from the reference's state on
  the same batch; PASS when, at every step, the loss, each gradient and each weight and
  optimizer slot after the update agree within the tolerance; on a FAIL, the localizer's first
  differing layer;
- `free_running`: the epoch-long lockstep trajectories (each backend from its own previous
  step) side by side: their divergence per step, the first step where it leaves rounding, and
  what the backends' ReLU signs and max-pool choices say about that step. A diagnostic only.
"""

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.stats import FAIL, PASS
from digitrec_core.workloads.mlp import MLP

STEP_TOLERANCE = MLP.tolerances.step  # digitrec_core/workloads/mlp.py says why
# A tensor whose value is itself rounding noise (a gradient that cancels to nearly zero, such as
# a bias that BatchNorm makes redundant, and Adam's update of it) moves by much of its size when
# the step is taken again on the batch reordered from a state one ulp away; such a tensor is
# allowed this multiple of how far it moved (`bench.parity.teacher.rounding_noise`), the others
# the tolerance. Measured on the small BatchNorm convnet of the tests, the backends differ by
# up to 155 times that noise (their convolutions round differently from a reordered batch), on
# well-conditioned tensors by up to 52 times; 300 leaves twice the headroom, keeps the
# tolerance itself for every tensor whose noise is 3e-7 of its size or less, and leaves a
# wrong optimizer setting (5e-3 on the weights) far beyond what noisier tensors are allowed.
NOISE_MULTIPLE = 300


def relative_error(a: Any, b: Any) -> float:
    """max |a − b| / max(max |a|, max |b|): 0 for identical tensors, 1 for one against zeros,
    2 (the most two finite tensors can be apart) where only one has a NaN or an inf there.

    Relative to the tensor's largest value, not element by element: float32 rounds every
    value to about 6e-8 of itself, and a sum of many terms errs by a few times that of its
    largest term, so an element near zero may differ by 100% after a cancellation while the
    tensor is the same up to rounding.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"tensors to compare must have one shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        # NaN or inf: the same where both have them, else as far apart as finite values go.
        return 0.0 if np.array_equal(a, b, equal_nan=True) else 2.0
    scale = max(np.abs(a).max(), np.abs(b).max())
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def step_errors(
    reference: Mapping[str, Any], candidate: Mapping[str, Any], names: Mapping[str, Any]
) -> list[tuple[str, float]]:
    """(tensor, relative error) for everything one step gives: loss, gradients, state after."""
    gradient_names = [names["weights"][i] + " gradient" for i in names["trainable"]]
    errors = [("loss", relative_error(reference["loss"], candidate["loss"]))]
    for kind, labels in (
        ("gradients", gradient_names),
        ("weights", [f"{name} after the update" for name in names["weights"]]),
        ("slots", [f"optimizer {name} after the update" for name in names["slots"]]),
    ):
        if len(reference[kind]) != len(candidate[kind]) or len(labels) != len(reference[kind]):
            raise ValueError(
                f"the steps hold {len(reference[kind])} and {len(candidate[kind])} {kind} for "
                f"{len(labels)} names: another model or optimizer"
            )
        errors += [
            (label, relative_error(a, b))
            for label, a, b in zip(labels, reference[kind], candidate[kind], strict=True)
        ]
    return errors


def allowed(tolerance: float, noise: Any, count: int) -> np.ndarray:
    """Per tensor: the tolerance, or NOISE_MULTIPLE times its rounding noise where larger."""
    if noise is None:
        return np.full(count, tolerance)
    noise = np.asarray(noise, dtype=float)
    if noise.shape != (count,):
        raise ValueError(f"the rounding noise holds {noise.size} tensors, the step {count}")
    return np.maximum(tolerance, NOISE_MULTIPLE * noise)


def compare_pair(
    first: Mapping[int, Mapping[str, Any]],
    second: Mapping[int, Mapping[str, Any]],
    names: Mapping[str, Any],
    tolerance: float,
    noise: Mapping[int, Any] | None = None,
) -> dict[str, Any]:
    """One pair of backends over every compared step: per step, the tensor nearest to (or
    furthest beyond) what it is allowed, and how many tensors are beyond."""
    if sorted(first) != sorted(second):
        raise ValueError(f"the backends took other steps: {sorted(first)} and {sorted(second)}")
    by_step = []
    for step in sorted(first):
        errors = step_errors(first[step], second[step], names)
        limits = allowed(tolerance, (noise or {}).get(step), len(errors))
        ratios = [error / limit for (_, error), limit in zip(errors, limits, strict=True)]
        worst = int(np.argmax(ratios))
        tensor, error = errors[worst]
        beyond = int(sum(ratio > 1 for ratio in ratios))
        judged = [item for item, limit in zip(errors, limits, strict=True) if limit <= tolerance]
        largest = max(judged, key=lambda item: item[1], default=(None, 0.0))
        by_step.append({
            "step": step,
            "tensor": tensor,
            "error": error,
            "allowed": float(limits[worst]),
            "beyond": beyond,
            # The largest difference among the tensors held to the tolerance itself: what the
            # tolerance is measured from (`bench.parity.tolerances`).
            "largest_at_tolerance": {"tensor": largest[0], "error": largest[1]},
            "largest": largest_of(errors, limits),
        })  # fmt: skip
    return {
        "worst": max(by_step, key=lambda row: row["error"] / row["allowed"]),
        "by_step": by_step,
    }


def largest_of(errors: list[tuple[str, float]], limits: np.ndarray) -> dict[str, Any]:
    """The tensor that differs most, with what it is allowed."""
    index = int(np.argmax([error for _, error in errors]))
    tensor, error = errors[index]
    return {"tensor": tensor, "error": error, "allowed": float(limits[index])}


def choice_differences(
    digests: Mapping[str, Mapping[int, Mapping[str, Any]]], a: str, b: str, step: int
) -> list[str]:
    """The layers whose ReLU signs or max-pool choices differ between `a` and `b` at `step`."""
    mine, theirs = digests.get(a, {}).get(step), digests.get(b, {}).get(step)
    if not mine or not theirs:
        return []
    return [
        describe_choice(layer, found, theirs[layer], a, b)
        for layer, found in mine.items()
        if layer in theirs and found["sha256"] != theirs[layer]["sha256"]
    ]


def describe_choice(layer: str, mine: Mapping, theirs: Mapping, a: str, b: str) -> str:
    if mine["what"] == "ReLU signs":
        return (
            f"{layer}'s ReLU signs differ ({a}: {mine['count']:,} active, {b}: {theirs['count']:,})"
        )
    return f"{layer}'s max-pool choices differ (of {mine['count']:,} windows)"


def explain_steps(
    pair: dict[str, Any],
    digests: Mapping[str, Mapping[int, Mapping[str, Any]]],
    localized: Mapping[str, Mapping[int, Any]],
    tolerance: float,
) -> None:
    """Mark each step beyond tolerance that a near-tie explains, then the pair's first failing
    step. A near-tie: from the same state and batch, the two backends' ReLU signs or max-pool
    choices differ, while the localizer finds every layer, fed the same input, the same. A
    correct layer then took the other branch at a value within rounding of the switch, which
    moves a gradient far more than rounding; a wrong layer would differ by itself."""
    a, b = pair["pair"].split(" vs ")
    for row in pair["by_step"]:
        if not row["beyond"]:
            continue
        layer_found = any(
            first_layer_beyond(rows, tolerance)
            for backend in (a, b)
            if isinstance(rows := localized.get(backend, {}).get(row["step"]), list)
        )
        changes = [] if layer_found else choice_differences(digests, a, b, row["step"])
        if changes:
            row["near_tie"] = changes
    failing = [row for row in pair["by_step"] if row["beyond"] and not row.get("near_tie")]
    pair["first_failing"] = failing[0] if failing else None
    pair["near_ties"] = [row["step"] for row in pair["by_step"] if row.get("near_tie")]
    pair["passed"] = not failing


def first_layer_beyond(rows: Sequence[Mapping[str, Any]], tolerance: float) -> dict | None:
    """The first layer whose output or a weight gradient differs beyond `tolerance`."""
    for row in rows:
        for tensor, error in row["errors"].items():
            if error > tolerance:
                return {
                    "layer": row["layer"],
                    "kind": row["kind"],
                    "tensor": tensor,
                    "error": error,
                }
    return None


def first_difference(
    pairs: Sequence[Mapping[str, Any]],
    localized: Mapping[str, Mapping[int, Any]],
    reference: str,
    tolerance: float,
) -> dict[str, Any] | None:
    """What the localizer found at the earliest failing step: the backend, layer and tensor."""
    failing = [p for p in pairs if p["first_failing"] is not None]
    if not failing:
        return None
    pair = min(failing, key=lambda p: p["first_failing"]["step"])
    step = pair["first_failing"]["step"]
    backends = pair["pair"].split(" vs ")
    suspects = [b for b in backends if b != reference] or backends
    found = {"step": step, "pair": pair["pair"], "whole_step": pair["first_failing"]}
    for backend in suspects:
        rows = localized.get(backend, {}).get(step)
        if isinstance(rows, Mapping) and "unavailable" in rows:
            return {**found, "backend": backend, "layer": None, "unavailable": rows["unavailable"]}
        layer = first_layer_beyond(rows or [], tolerance)
        if layer is not None:
            return {**found, "backend": backend, "against": reference, **layer}
    return {**found, "backend": suspects[0], "layer": None}


def describe_difference(found: Mapping[str, Any], samples: int) -> str:
    """'first difference: conv2d_1 (Conv2D), kernel gradient, 3.0e-03, step 1 (...)'."""
    if found.get("layer"):
        return (
            f"first difference: {found['layer']} ({found['kind']}), {found['tensor']}, "
            f"{found['error']:.1e}, step {found['step']} ({found['backend']} against the "
            f"{found['against']} reference, each layer fed the reference's input)"
        )
    whole = found["whole_step"]
    why = found.get("unavailable") or (
        f"no layer differs by itself on the localizer's {samples} samples, so the difference "
        "lies in the loss, the reduction over the whole batch or the update"
    )
    return (
        f"first difference at step {found['step']} ({found['pair']}): {whole['tensor']}, "
        f"{whole['error']:.1e} where {whole['allowed']:.0e} is allowed; {why}"
    )


def teacher_forced_verdict(
    outputs_by_backend: Mapping[str, Mapping[int, Mapping[str, Any]]],
    names: Mapping[str, Any],
    tolerance: float,
    *,
    reference: str,
    localized: Mapping[str, Mapping[int, Any]] | None = None,
    samples: int = 0,
    digests: Mapping[str, Mapping[int, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """PASS when every pair of backends agrees at every compared step; FAIL names the first
    difference. `outputs_by_backend` maps backend -> {step: {"loss", "gradients", "weights",
    "slots"}}, each step taken from the reference's state on the same batch; `digests` maps
    backend -> {step: {layer: digest}} of that state's ReLU signs and max-pool choices."""
    if len(outputs_by_backend) < 2:
        raise ValueError(
            f"the step check needs two backends or more, got {list(outputs_by_backend)}"
        )
    noise = {
        step: out["noise"]
        for step, out in outputs_by_backend.get(reference, {}).items()
        if "noise" in out
    }
    pairs = []
    for a, b in itertools.combinations(outputs_by_backend, 2):
        try:
            compared = compare_pair(
                outputs_by_backend[a], outputs_by_backend[b], names, tolerance, noise
            )
        except ValueError as error:
            raise ValueError(f"the steps of {a} and {b} cannot be compared: {error}") from error
        pair = {"pair": f"{a} vs {b}", **compared}
        explain_steps(pair, digests or {}, localized or {}, tolerance)
        pairs.append(pair)
    found = first_difference(pairs, localized or {}, reference, tolerance)
    steps = sorted(next(iter(outputs_by_backend.values())))
    if found is None:
        pair, row = max(
            ((p, row) for p in pairs for row in p["by_step"]),
            key=lambda item: item[1]["largest"]["error"],
        )
        largest = row["largest"]
        message = (
            f"{len(steps)} steps from the {reference} reference's state: largest difference "
            f"{largest['error']:.1e} ({pair['pair']}, {largest['tensor']}, step {row['step']})"
        )
        if largest.get("allowed", tolerance) > tolerance:
            message += (
                f", within the {largest['allowed']:.1e} its rounding noise allows (it moved "
                f"{largest['allowed'] / NOISE_MULTIPLE:.1e} when the step was retaken on the "
                "batch reordered, one ulp away)"
            )
        noisy = sum(row["allowed"] > tolerance for p in pairs for row in p["by_step"])
        if noisy:
            worst = max(pairs, key=lambda p: p["worst"]["error"] / p["worst"]["allowed"])
            w = worst["worst"]
            message += (
                f"; closest to its limit {w['error']:.1e} of {w['allowed']:.1e} allowed for "
                f"its rounding noise ({worst['pair']}, {w['tensor']}, step {w['step']})"
            )
    else:
        message = describe_difference(found, samples)
    ties = [
        f"step {row['step']} ({pair['pair']}: {row['tensor']} {row['error']:.1e}, "
        + "; ".join(row["near_tie"])
        + ")"
        for pair in pairs
        for row in pair["by_step"]
        if row.get("near_tie")
    ]
    if ties:
        message += (
            "; beyond rounding but explained by a near-tie (every layer agrees on the same "
            "input, yet a ReLU sign or max-pool choice fell the other way): " + ", ".join(ties)
        )
    return {
        "outcome": FAIL if found else PASS,
        "passed": found is None,
        "tolerance": tolerance,
        "noise_multiple": NOISE_MULTIPLE,
        "noise_measured": bool(noise),
        "reference": reference,
        "steps": steps,
        "pairs": pairs,
        "first_difference": found,
        "message": f"{message} (tolerance {tolerance:.0e} relative to each tensor's size, or "
        f"{NOISE_MULTIPLE}× the tensor's rounding noise where larger)",
    }


def split_flat(flat: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """A flat weight vector back into its tensors (flattened), by their sizes."""
    if sum(sizes) != flat.shape[-1]:
        raise ValueError(f"{flat.shape[-1]} values do not make tensors of sizes {list(sizes)}")
    return np.split(flat, np.cumsum(sizes)[:-1])


def free_running(
    trajectories: Mapping[str, Mapping[str, Any]],
    sizes: Sequence[int],
    tolerance: float,
    digests: Mapping[str, Mapping[int, Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Each pair's divergence at every checkpoint of the epoch-long lockstep run.

    `trajectories` maps backend -> {"steps": [...], "weights": (checkpoints, parameters)};
    `digests` maps backend -> {step: {layer: {"what", "count", "sha256"}}} (see
    `bench.parity.trajectory`). The first step where the relative difference of some weight
    tensor exceeds `tolerance` is where the trajectories leave rounding.
    """
    rows, first_beyond = [], {}
    for a, b in itertools.combinations(trajectories, 2):
        steps = list(trajectories[a]["steps"])
        if steps != list(trajectories[b]["steps"]):
            raise ValueError(f"the trajectories of {a} and {b} were saved at other steps")
        pair = f"{a} vs {b}"
        for index, step in enumerate(steps):
            wa = np.asarray(trajectories[a]["weights"][index])
            wb = np.asarray(trajectories[b]["weights"][index])
            relative = max(
                relative_error(x, y)
                for x, y in zip(split_flat(wa, sizes), split_flat(wb, sizes), strict=True)
            )
            rows.append({
                "pair": pair,
                "step": int(step),
                "relative": relative,
                "max_abs_weight_difference": float(np.abs(wa - wb).max()),
            })  # fmt: skip
            if relative > tolerance and pair not in first_beyond:
                first_beyond[pair] = int(step)
    changes = {pair: what_changed(digests or {}, pair, step) for pair, step in first_beyond.items()}
    return {
        "divergence": rows,
        "tolerance": tolerance,
        "first_step_beyond_rounding": first_beyond,
        "changes": changes,
        "message": free_running_message(rows, first_beyond, changes),
    }


def what_changed(
    digests: Mapping[str, Mapping[int, Mapping[str, Any]]], pair: str, step: int
) -> list[str]:
    """The ReLU signs and max-pool choices that differ between the pair at the first step, up
    to `step`, where any do: the discrete event that the following steps amplified."""
    a, b = pair.split(" vs ")
    for at in sorted(s for s in digests.get(a, {}) if s <= step):
        found = choice_differences(digests, a, b, at)
        if found:
            return [f"step {at}: " + "; ".join(found)]
    return []


def free_running_message(
    rows: Sequence[Mapping[str, Any]],
    first_beyond: Mapping[str, int],
    changes: Mapping[str, Sequence[str]],
) -> str:
    last_step = max(row["step"] for row in rows)
    final = [row for row in rows if row["step"] == last_step]
    worst = max(final, key=lambda row: row["relative"])
    parts = [
        f"after step {last_step}: largest relative weight difference {worst['relative']:.1e} "
        f"({worst['pair']}, max |Δ| {worst['max_abs_weight_difference']:.1e})"
    ]
    for pair, step in first_beyond.items():
        text = f"{pair} leaves rounding at step {step}"
        if changes.get(pair):
            text += " (" + "; ".join(changes[pair]) + ")"
        parts.append(text)
    if not first_beyond:
        parts.append("every pair stays within rounding")
    return "; ".join(parts)
