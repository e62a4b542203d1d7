"""Lower precision, judged by the accuracy it keeps: is a bf16 (or fp16) profile accepted?

A lower-precision profile trains with the default settings under a mixed Keras dtype policy,
in the same rounds as the float32 default profile, so its runs pair with float32's by round
(same seed, same moment). It is ACCEPTED only when both hold:

- it reaches the workload's target accuracy in every run (no target: this part is skipped);
- its test accuracy is equivalent to float32's on those paired seeds: two one-sided tests
  within the workload's accuracy margin (`bench.stats.paired_tost`).

Otherwise it is REJECTED, with the reason, and it never competes in the verdict, however fast
it is. Its speed against float32 is shown either way. A tuning search on a data subset may
*propose* a lower precision; only this judgement, on full data, accepts one.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.pairing import gain, paired_samples
from bench.analysis.targets import target_misses
from bench.stats import FAIL, INCONCLUSIVE, MIN_SEEDS, PASS, paired_tost
from digitrec_core.config import LOWER_PRECISION_PROFILES

ACCEPTED, REJECTED = "ACCEPTED", "REJECTED"
ACCURACY = "metrics.test_accuracy"
PLACE_KEYS = ["workload", "machine", "backend", "device", "quick"]


@dataclass
class PrecisionVerdict:
    """One lower-precision group held to its float32 default group."""

    row: Any  # the lower-precision group
    baseline: Any  # the float32 default profile of the same backend, device and invocation
    precision: str
    missed: int
    runs: int
    accuracy: dict[str, Any] | None  # paired_tost of (lower - float32) test accuracy
    speed: dict[str, Any] | None  # gain in time to a trained model (float32 / lower)
    steady: dict[str, Any] | None  # gain in the steady epoch
    to_target: dict[str, Any] | None  # gain in time to target (rounds where both reached)
    status: str
    reason: str

    @property
    def undecided(self) -> bool:
        """Whether more paired seeds could still change the status (equivalence not shown)."""
        return self.status == REJECTED and (self.accuracy or {}).get("outcome") == INCONCLUSIVE


def margin_of(row: Any) -> float | None:
    """The workload's accuracy margin, as its runs recorded it."""
    found = {get(r, "workload.settings.tolerances.accuracy") for r in row.group_runs}
    value = found.pop() if len(found) == 1 else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def judge_one(row: Any, baseline: Any) -> PrecisionVerdict:
    """Accept or reject one lower-precision group against its float32 default group."""
    precision = LOWER_PRECISION_PROFILES[row.profile]
    missed, runs = target_misses(row.group_runs)
    lower, full, paired = paired_samples(row, baseline, ACCURACY)
    margin = margin_of(row)
    accuracy = None
    if paired and margin and len(lower) >= MIN_SEEDS:
        accuracy = paired_tost([a - b for a, b in zip(lower, full, strict=True)], margin)
    speed = gain(baseline, row, "timings.fit_seconds")
    steady = gain(baseline, row, "timings.steady_epoch_seconds")
    to_target = None
    if not missed:
        to_target = gain(baseline, row, "timings.time_to_target_seconds")
    if missed:
        status, reason = REJECTED, f"it missed the target accuracy in {missed} of {runs} runs"
    elif not paired:
        status, reason = REJECTED, "it did not run in the same rounds as float32"
    elif accuracy is None:
        status = REJECTED
        reason = f"fewer than {MIN_SEEDS} paired seeds: equivalence cannot be shown"
    elif accuracy["outcome"] == FAIL:
        status = REJECTED
        reason = f"its accuracy differs from float32's by more than ±{margin * 100:.1f} pp"
    elif accuracy["outcome"] == INCONCLUSIVE:
        status = REJECTED
        reason = f"equivalence to float32 within ±{margin * 100:.1f} pp is not shown"
        if accuracy.get("seeds_to_decide"):
            reason += f" (about {accuracy['seeds_to_decide']} paired seeds would decide it)"
    else:
        assert accuracy["outcome"] == PASS
        reached = "reaches the target in every run and " if runs else ""
        status = ACCEPTED
        reason = f"it {reached}keeps float32's accuracy within ±{margin * 100:.1f} pp"
    return PrecisionVerdict(
        row, baseline, precision, missed, runs, accuracy, speed, steady, to_target, status, reason
    )


def judge_precisions(groups: pd.DataFrame) -> list[PrecisionVerdict]:
    """Every lower-precision group among `groups`, judged against its float32 default group."""
    found = []
    lower = groups[groups["profile"].isin(list(LOWER_PRECISION_PROFILES))]
    for row in lower.itertuples():
        same = groups
        for key in PLACE_KEYS:
            same = same[same[key] == getattr(row, key)]
        baseline = next((b for b in same.itertuples() if b.profile == "default"), None)
        if baseline is not None:
            found.append(judge_one(row, baseline))
        else:
            found.append(
                PrecisionVerdict(
                    row, None, LOWER_PRECISION_PROFILES[row.profile], *target_misses(
                        row.group_runs
                    ), None, None, None, None, REJECTED,
                    "no float32 default profile ran beside it",
                )
            )  # fmt: skip
    return found


def rejected_groups(verdicts: list[PrecisionVerdict]) -> set[str]:
    """Repeat group ids of the lower-precision profiles that may not compete."""
    return {verdict.row.repeat_group for verdict in verdicts if verdict.status != ACCEPTED}
