"""Roofline: the model's analytic training FLOPs, and one GEMM peak per machine and invocation.

No framework imports: runs record what they achieved and what their framework's GEMM reached;
the report divides by the machine's peak, the highest float32 GEMM rate measured on it during
the invocation (the neutral numpy probe or any framework's), so every "% of peak" of one
invocation has the same denominator.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.host.gemm_probe import check_layer_sizes, check_positive_int
from digitrec_core.architecture import LAYER_SIZES

FLOPS_FORMULA = (
    "training FLOPs per sample = sum over the Dense and Conv2D layers of 2*MACs for the forward "
    "pass + 2*MACs for the weight gradient + 2*MACs for the input gradient (every weighted layer "
    "but the first: no gradient w.r.t. the images), where MACs are the layer's multiply-adds "
    "per sample (in*out for Dense; out_h*out_w*out_channels*kernel_h*kernel_w*in_channels for "
    "Conv2D); layers without weights (pooling, flatten, dropout) and elementwise work (bias, "
    "activations, softmax, loss, the optimizer update) are not counted; a layer with weights of "
    "another kind makes the count n/a; per epoch: times the training samples"
)
PEAK_RULE = (
    "the highest float32 GEMM rate measured on this machine in this invocation: the neutral "
    "numpy probe (start and end of each bench.suite) or any run's framework probe, at the "
    "model's shapes or at 2048x2048"
)


@dataclass(frozen=True)
class LayerWork:
    """One layer's share of the count: `kind` "gemm" (Dense, Conv2D) with its forward
    multiply-adds per sample, "free" (no weights) or "unknown" (weights of another kind)."""

    kind: str
    macs_per_sample: int = 0


def training_flops_per_sample(layers: Sequence[LayerWork]) -> int | None:
    """Training FLOPs of one sample (see FLOPS_FORMULA); None when a layer cannot be counted."""
    if any(layer.kind == "unknown" for layer in layers):
        return None
    forward = [2 * layer.macs_per_sample for layer in layers if layer.kind == "gemm"]
    if not forward:
        return None
    return 2 * sum(forward) + sum(forward[1:])


def mlp_training_flops_per_sample(layer_sizes: Sequence[int] = LAYER_SIZES) -> int:
    """Training FLOPs of one sample through Dense layers of `layer_sizes` (FLOPS_FORMULA).

    The documented model gives 507,392.
    """
    sizes = check_layer_sizes(layer_sizes)
    dense = [LayerWork("gemm", fan_in * fan_out) for fan_in, fan_out in itertools.pairwise(sizes)]
    return training_flops_per_sample(dense)


MLP_FLOPS_PER_SAMPLE = mlp_training_flops_per_sample()


def roofline_record(
    steady_epoch_seconds: float | None,
    train_samples: int,
    framework_gemm: Mapping[str, Any] | None,
    *,
    flops_per_sample: int | None = MLP_FLOPS_PER_SAMPLE,
) -> dict[str, Any]:
    """FLOPs per sample and epoch, the achieved GFLOP/s, and the framework's own GEMM rates.

    `flops_per_sample` defaults to the documented MLP's; None where the workload's layers
    cannot be counted (then every FLOP figure is None: n/a, never a guess).
    `framework_gemm` is what `gemm_probe.gemm_rates` measured with the run's framework (None:
    not probed). Achieved figures are None without a steady epoch (one-epoch runs).
    """
    check_positive_int("train_samples", train_samples)
    if steady_epoch_seconds is not None and not steady_epoch_seconds > 0:
        raise ValueError(
            f"steady_epoch_seconds must be positive or None, got {steady_epoch_seconds!r}"
        )
    flops_per_epoch = None if flops_per_sample is None else flops_per_sample * train_samples
    achieved = (
        None
        if steady_epoch_seconds is None or flops_per_epoch is None
        else flops_per_epoch / steady_epoch_seconds / 1e9
    )
    return {
        "flops_formula": FLOPS_FORMULA,
        "flops_per_sample": flops_per_sample,
        "flops_per_epoch": flops_per_epoch,
        "achieved_gflops": achieved,
        "framework_gemm": framework_gemm,
    }


def probe_rates(probe: Mapping[str, Any] | None) -> list[float]:
    """The aggregate rates of one probe record (model shapes, square) that are numbers > 0."""
    if not isinstance(probe, Mapping):
        return []
    found = [probe.get("model_shapes_gflops"), probe.get("square_gflops")]
    return [float(r) for r in found if isinstance(r, int | float) and r > 0 and r == r]


def machine_peak(probes: Iterable[Mapping[str, Any] | None]) -> float | None:
    """The highest rate among `probes` (neutral and framework GEMM records); None if none."""
    rates = [rate for probe in probes for rate in probe_rates(probe)]
    return max(rates) if rates else None


def percent_of_peak(achieved_gflops: float | None, peak_gflops: float | None) -> float | None:
    """`achieved_gflops` as a percentage of `peak_gflops`; None where either is missing."""
    if achieved_gflops is None or not peak_gflops:
        return None
    return 100 * achieved_gflops / peak_gflops
