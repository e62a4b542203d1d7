"""Fake but realistic result files (the current schema version) for the report tests."""

import hashlib
import itertools
import json
import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from digitrec_core.results import (
    ALONE,
    KERAS_IMPLEMENTATION,
    build_record,
    encode_images,
    write_result,
)
from digitrec_core.workloads import BUILT_IN

NUM_CLASSES = 10
FULL_SAMPLES = (60_000, 10_000)
QUICK_SAMPLES = (6_000, 1_000)
RANDOM_SAMPLES = 16
MACHINE = {
    "id": "intel-xeon-cpu-e5-2690-v4-2-60ghz-8c",
    "hostname": "bench-box",
    "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
    "cpu_model": "Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz",
    "cpu_cores_logical": 8,
    "cpu_cores_physical": 4,
    "memory_gib": 31.3,
    "gpus": [],
    "fingerprint": {"cpu_vendor": "GenuineIntel", "cpu_name": "E5-2690 v4", "cores": 8},
}
GPU_MACHINE = {
    **MACHINE,
    "id": "amd-epyc-7742-64-core-processor-16c-1xnvidia-a100-sxm4-40gb",
    "hostname": "gpu-box",
    "cpu_model": "AMD EPYC 7742 64-Core Processor",
    "cpu_cores_logical": 16,
    "cpu_cores_physical": 8,
    "memory_gib": 125.8,
    "gpus": [{"name": "NVIDIA A100-SXM4-40GB", "driver": "550.54.15", "memory_mib": 40960}],
    "fingerprint": {"cpu_vendor": "AuthenticAMD", "cpu_name": "EPYC 7742", "cores": 16},
}
FRAMEWORKS = {"tensorflow": "2.21.0", "jax": "0.10.2", "torch": "2.13.0"}
INVOCATION = "20260301T120000Z-abc123"


def mnist_labels(count: int, seed: int) -> np.ndarray:
    """`count` labels that cycle through every class early, like MNIST's first images."""
    rng = np.random.default_rng(seed)
    rest = rng.integers(0, NUM_CLASSES, count - NUM_CLASSES)
    return np.concatenate([rng.permutation(NUM_CLASSES), rest])


TRAIN_LABELS = mnist_labels(200, seed=1)
TEST_LABELS = mnist_labels(FULL_SAMPLES[1], seed=2)


def digit_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """28x28 uint8 images: a noisy stroke whose position gives away the label."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[4:24, 4 + 2 * label : 7 + 2 * label] = 255
    return images


def predictions(true: np.ndarray, accuracy: float, seed: int) -> np.ndarray:
    """A copy of `true` with round((1 - accuracy) * n) labels changed to a wrong class."""
    rng = np.random.default_rng(seed)
    wrong = rng.choice(len(true), size=round((1 - accuracy) * len(true)), replace=False)
    predicted = true.copy()
    predicted[wrong] = (true[wrong] + rng.integers(1, NUM_CLASSES, len(wrong))) % NUM_CLASSES
    return predicted


def per_class(matrix: np.ndarray) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    hits = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return [
        {
            "class": digit,
            "precision": float(precision[digit]),
            "recall": float(recall[digit]),
            "f1": float(f1[digit]),
            "support": int(support[digit]),
        }
        for digit in range(NUM_CLASSES)
    ]


def make_result(
    backend: str,
    *,
    accuracy: float,
    created_utc: datetime,
    device: str = "cpu",
    machine: dict[str, Any] = MACHINE,
    quick: bool = False,
    epochs: int | None = None,
    workload: str = "mlp",
    target: float | None = None,
    implementation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A result dict as `bench.run` writes it, with real arrays behind every number.

    `target`: the target accuracy the run is held to (None: a workload without one);
    `implementation`: the section of a native reference (None: a Keras run).
    """
    train_count, test_count = QUICK_SAMPLES if quick else FULL_SAMPLES
    epochs = epochs or (2 if quick else 10)
    key = f"{backend}{device}{machine['id']}{created_utc.isoformat()}{quick}"
    key += "" if workload == "mlp" else workload
    digest = hashlib.sha256(key.encode()).hexdigest()
    seed = int(digest[:8], 16)
    true = TEST_LABELS[:test_count]
    predicted = predictions(true, accuracy, seed)
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    scores = per_class(matrix)

    first_epoch = 3.0 + seed % 100 / 100
    epoch_seconds = [first_epoch] + [1.0 + i / 50 for i in range(epochs - 1)]
    steady = statistics.median(epoch_seconds[1:]) if epochs > 1 else None
    loss = [(0.5 + seed % 20 / 100) / (epoch + 1) ** 0.5 for epoch in range(epochs)]

    first_indices = [int(np.flatnonzero(digit == TRAIN_LABELS)[0]) for digit in range(10)]
    rng = np.random.default_rng(0)
    random_indices = np.sort(rng.choice(test_count, size=RANDOM_SAMPLES, replace=False))
    result = build_record(
        run_id=f"{created_utc:%Y%m%dT%H%M%SZ}-{backend}-{device}-{digest[:8]}",
        created_utc=created_utc.isoformat(),
        backend=backend,
        implementation=dict(implementation or KERAS_IMPLEMENTATION),
        device={
            "requested": device,
            "used": device,
            "description": "/job:localhost/device:GPU:0" if device == "gpu" else "cpu:0",
            "framework": {"gpus": machine["gpus"]},
        },
        config={
            "backend": backend,
            "device": device,
            "seed": 0,
            "epochs": epochs,
            "batch_size": 512,
            "predict_batch_size": 512,
            "train_samples": QUICK_SAMPLES[0] if quick else None,
            "test_samples": QUICK_SAMPLES[1] if quick else None,
            "quick": quick,
            "jit_compile": "auto",
            "steps_per_execution": 1,
            "threads": None,
            "tf32": False,
            "precision": "float32",
            "profile": "default",
            "workload": workload,
            "data_dir": None,
            "verify_checksums": True,
        },
        workload=workload_section(workload),
        data={
            "source": "keras.datasets.mnist (~/.keras/datasets/mnist.npz)",
            "train_samples": train_count,
            "test_samples": test_count,
            "checksums_verified": True,
        },
        model={
            "parameters": 118_282,
            "summary": [],
            "initial_weights": "glorot-uniform kernels, zero biases, numpy seed = config.seed",
            "initial_weights_sha256": "0" * 64,
        },
        versions={
            "python": "3.11.9",
            "keras": "3.15.1",
            "numpy": "2.1.3",
            "framework": backend,
            "framework_version": FRAMEWORKS[backend],
        },
        machine=dict(machine),
        git={"commit": "22f09bf0c0ffee0123456789abcdef0123456789", "dirty": quick},
        command=["python", "-m", "bench.run", "--backend", backend],
        invocation={"id": None},
        settings=default_settings(),
        memory={"peak_rss_mib": 600.0, "peak_gpu_mib": 900.0 if device == "gpu" else None},
        roofline={
            "flops_formula": "training FLOPs per sample (see bench.run.roofline)",
            "flops_per_sample": 507_392,
            "flops_per_epoch": 507_392 * train_count,
            "achieved_gflops": 507_392 * train_count / steady / 1e9 if steady else None,
            "framework_gemm": None,
        },
        repeat=dict(ALONE),
        tuning=None,
        timings={
            "process_wall_seconds": sum(epoch_seconds) + 6.0,
            "data_load_seconds": 0.8,
            "fit_seconds": sum(epoch_seconds) + 0.05,
            "epoch_seconds": epoch_seconds,
            "first_epoch_seconds": first_epoch,
            "steady_epoch_seconds": steady,
            "steady_epoch_iqr_seconds": 0.04 if steady else None,
            "steady_epoch_min_seconds": min(epoch_seconds[1:]) if steady else None,
            "steady_epoch_count": epochs - 1,
            "steady_epoch_cv": 0.03 if steady else None,
            "steady_epoch_resolution": 0.02 if steady else None,
            "steady_epoch_noisy": False if steady else None,
            "compile_overhead_seconds": first_epoch - steady if steady else None,
            "train_samples_per_second": train_count / steady if steady else None,
            "fit_with_evaluation_seconds": None,  # set by learning_curve, as the rest below
            "training_seconds": [],
            "epoch_evaluation_seconds": [],
            "time_to_target_seconds": None,
            "evaluate_seconds": 0.4,
            "predict_first_call_seconds": 0.3,
            "predict_seconds": 0.25,
            "predict_samples_per_second": test_count / 0.25,
        },
        metrics={
            "test_loss": 0.07 + (1 - accuracy),
            "test_accuracy": float(np.trace(matrix) / matrix.sum()),
            "history": {"loss": loss, "accuracy": [1 - value / 4 for value in loss]},
            "target": None,
            "confusion_matrix": matrix.tolist(),
            "per_class": scores,
            "macro_f1": float(np.mean([score["f1"] for score in scores])),
            "predicted_classes": predicted.tolist(),
        },
        samples={
            "first_of_each_class": {
                "labels": TRAIN_LABELS[first_indices].tolist(),
                "images": encode_images(digit_images(TRAIN_LABELS[first_indices], seed=3)),
            },
            "first_train_labels": TRAIN_LABELS[:10].tolist(),
            "first_test_labels": TEST_LABELS[:10].tolist(),
            "random_test": {
                "seed": 0,
                "indices": random_indices.tolist(),
                "labels": true[random_indices].tolist(),
                "predicted": predicted[random_indices].tolist(),
                "images": encode_images(digit_images(true[random_indices], seed=4)),
            },
        },
    )
    return learning_curve(result, target)


def learning_curve(
    result: dict[str, Any], target: float | None, curve: list[float] | None = None
) -> dict[str, Any]:
    """Fill in the per-epoch test accuracy, training clock and time to target from the timings.

    `curve` (default: a rise of 3 points to the final accuracy) is the test accuracy per epoch.
    """
    timings, metrics = result["timings"], result["metrics"]
    epochs = len(timings["epoch_seconds"])
    final = metrics["test_accuracy"]
    if curve is None:
        curve = [final - 0.03 * (epochs - 1 - i) / epochs for i in range(epochs)]
        curve[-1] = final
    metrics["test_accuracy"] = curve[-1]
    metrics["history"]["test_accuracy"] = list(curve)
    metrics["history"]["test_loss"] = [0.07 + (1 - value) for value in curve]
    timings["training_seconds"] = list(np.cumsum(timings["epoch_seconds"]) + 0.05)
    timings["epoch_evaluation_seconds"] = [0.4] + [0.05] * (epochs - 1)
    timings["fit_with_evaluation_seconds"] = timings["fit_seconds"] + sum(
        timings["epoch_evaluation_seconds"]
    )
    reached = next((i for i, value in enumerate(curve) if target and value >= target), None)
    epoch = None if reached is None else reached + 1
    metrics["target"] = (
        None
        if target is None
        else {"accuracy": target, "reached": epoch is not None, "epoch": epoch}
    )
    timings["time_to_target_seconds"] = (
        None if reached is None else float(timings["training_seconds"][reached])
    )
    return result


def workload_section(name: str) -> dict[str, Any]:
    """The `workload` section of a run of the built-in workload `name`."""
    workload = BUILT_IN[name]
    return {
        "name": name,
        "spec": name,
        "description": workload.description,
        "definition_sha256": hashlib.sha256(name.encode()).hexdigest(),
        "settings": workload.settings(),
    }


def default_settings(profile: str = "default") -> dict[str, Any]:
    """The `settings` section of a run of `profile` on a 2-core machine."""
    tuned = profile == "tuned"
    return {
        "profile": profile,
        "jit_compile_requested": False if tuned else "auto",
        "jit_compile_resolved": False,
        "steps_per_execution": 32 if tuned else 1,
        "threads": {
            "requested": None,
            "cpu_affinity": [0, 1],
            "busy_cores_gemm": 1.9,
            "busy_cores_fit": 1.4,
            "in_effect": None,
        },
        "tf32_requested": False,
        "dtype_policy": "float32",
        "precision": {
            "requested": "float32",
            "policy": "float32",
            "compute_dtype": "float32",
            "variable_dtype": "float32",
            "loss_scaling": False,
            "layer_output_dtypes": [{"layer": "Dense", "output_dtype": "float32"}],
        },
        "framework": {"intra_op_threads": 2},
        "environment": {"CUDA_VISIBLE_DEVICES": "", "XLA_FLAGS": None},
    }


def write_run(results_dir: Path, result: dict[str, Any]) -> Path:
    """Write `result` where `bench.run` would: results_dir/runs/<machine id>/<run id>.json."""
    path = Path(results_dir, "runs", result["machine"]["id"], f"{result['run_id']}.json")
    return write_result(result, path)


def native_section(
    backend: str, implementation: str = "native", *, step_error: float = 3e-6
) -> dict[str, Any]:
    """The `implementation` section of a native reference's run, its step check within 1e-4."""
    variant = {"torch": "eager", "jax": "jit", "tensorflow": "tf.function"}[backend]
    variant = "compiled" if implementation == "native-compiled" else variant
    optimizer = {"torch": "torch.optim.Adam", "jax": "optax.adam"}
    return {
        "kind": "native",
        "variant": variant,
        "description": f"{backend}'s own code",
        "optimizer": optimizer.get(backend, "keras.optimizers.Adam"),
        "step_check": {
            "rule": "Keras's Adam written out",
            "steps": 3,
            "tolerance": 1e-4,
            "allowed": 1e-4,
            "largest_error": step_error,
            "tensor": "dense/kernel after the update",
            "outcome": "PASS" if step_error <= 1e-4 else "FAIL",
            "by_step": [],
        },
    }


def make_group(
    backend: str,
    *,
    profile: str,
    steady_seconds: list[float],
    created_utc: datetime,
    accuracy: float = 0.975,
    group: str | None = None,
    quick: bool = False,
    noisy_runs: tuple[int, ...] = (),
    invocation: str | None = INVOCATION,
    interleaved: bool = True,
    framework_gemm: dict[str, float] | None = None,
    machine: dict[str, Any] = MACHINE,
    workload: str = "mlp",
    target: float | None = None,
    curves: list[list[float]] | None = None,
    implementation: dict[str, Any] | None = None,
    scheduler: str | None = None,
) -> list[dict[str, Any]]:
    """A repeat group as `bench.suite` writes it: one run per steady epoch time, seeds 0, 1, ...

    The runs numbered in `noisy_runs` flag their own epochs as noisy. `target` and `curves`
    (one test-accuracy curve per run) go to `learning_curve`.
    """
    framework_gemm = framework_gemm or {"model_shapes_gflops": 100.0, "square_gflops": 150.0}
    group = group or f"{backend}-{profile}-{created_utc:%H%M%S}"
    runs = []
    for index, steady in enumerate(steady_seconds):
        result = make_result(
            backend,
            accuracy=accuracy + index / 1000,
            created_utc=created_utc + timedelta(seconds=30 * index),
            quick=quick,
            machine=machine,
            workload=workload,
            implementation=implementation,
        )
        result["run_id"] += f"-{profile}-{index}"
        result["config"].update(profile=profile, seed=index)
        result["repeat"] = {
            **ALONE,
            "group": group,
            "index": index,
            "count": len(steady_seconds),
            "interleaved": interleaved,
            "scheduler": scheduler,
        }
        result["invocation"] = {"id": invocation}
        timings = result["timings"]
        epochs = result["config"]["epochs"]
        timings["epoch_seconds"] = [timings["first_epoch_seconds"]] + [steady] * (epochs - 1)
        timings["steady_epoch_seconds"] = steady
        timings["steady_epoch_noisy"] = index in noisy_runs
        timings["fit_seconds"] = sum(timings["epoch_seconds"]) + 0.05
        timings["train_samples_per_second"] = result["data"]["train_samples"] / steady
        timings["compile_overhead_seconds"] = timings["first_epoch_seconds"] - steady
        timings.update(
            predict_path="predict_on_batch",
            predict_latency_p50_ms=0.5 + index,
            predict_latency_p95_ms=0.7 + index,
            predict_latency_p99_ms=0.9 + index,
            predict_throughput_samples_per_second={"1": 2000.0, "512": 150000.0 + index},
        )
        learning_curve(result, target, curves[index] if curves else None)
        result["memory"]["peak_rss_mib"] = 600.0 + index
        result["roofline"].update(
            achieved_gflops=30.4 / steady, framework_gemm=dict(framework_gemm)
        )
        tuned = profile == "tuned"
        result["settings"] = default_settings(profile)
        if tuned:
            default = {"jit_compile": "auto", "steps_per_execution": 1, "threads": None}
            chosen = {"jit_compile": False, "steps_per_execution": 32, "threads": None}
            result["tuning"] = {
                "metric": "median steady epoch seconds",
                "epochs": 3,
                "train_samples": 15000,
                "candidates": [
                    {"settings": default, "steady_epoch_seconds": 0.30, "first_epoch_seconds": 1.0},
                    {"settings": chosen, "steady_epoch_seconds": 0.20, "first_epoch_seconds": 1.1},
                    {
                        "settings": {**chosen, "threads": 1},
                        "steady_epoch_seconds": None,
                        "error": "run failed; see the log",
                    },
                ],
                "chosen": chosen,
                "speedup_vs_default": 1.5,
            }
        runs.append(result)
    return runs


def write_probe(
    results_dir: Path,
    *,
    invocation: str,
    square_gflops: float,
    phase: str = "start",
    machine: dict[str, Any] = MACHINE,
    backend: str = "jax",
) -> Path:
    """A neutral GEMM probe record as bench.suite writes it."""
    record = {
        "check": "neutral-gemm-probe",
        "invocation": invocation,
        "phase": phase,
        "suite_backend": backend,
        "created_utc": "2026-03-01T11:59:00+00:00",
        "machine": dict(machine),
        "git": {"commit": None, "dirty": None},
        "probe": {
            "library": "numpy",
            "model_shapes_gflops": square_gflops / 3,
            "square_gflops": square_gflops,
            "busy_cores": 1.98,
        },
    }
    name = f"{invocation}-{backend}-{phase}.json"
    return write_result(record, Path(results_dir, "probes", machine["id"], name))


def fake_plot(*args, **kwargs):
    """Stand-in for a figure function: write an empty file where the figure would go."""
    path = next(arg for arg in args if isinstance(arg, Path))
    path.write_bytes(b"")
    return path


def skip_drawing(patch) -> None:
    """Replace every plot_* function of bench.report.figures by `fake_plot` (a MonkeyPatch).

    For tests of the report's text: drawing would only cost time (test_report draws them).
    """
    from bench.report import figures

    for name in dir(figures):
        if name.startswith("plot_"):
            patch.setattr(figures, name, fake_plot)


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in `text`, as dicts keyed by header."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    header, _, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in table)
    return [dict(zip(header, row, strict=True)) for row in rows]


def alias(machine: dict, *others: dict) -> str:
    """The report's alias of `machine` ("M2") among itself and the `others` machines."""
    from bench.analysis.collect import machine_aliases

    return machine_aliases([m["id"] for m in (machine, *others)])[machine["id"]]


def above_appendix(report: str) -> str:
    """The part of the report a reader sees first: everything before "## Appendix"."""
    return report.split("\n## Appendix\n", 1)[0]


def section(text: str, title: str) -> str:
    """The body of the section headed `title`, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#)", text + "\n#", re.S | re.M)
    assert match, f"no section {title!r} in the report"
    return match.group(1)


def parity_verdict(shift: float) -> dict:
    from bench.parity.checks import (
        predict_everywhere_verdict,
        statistical_verdict,
    )

    rng = np.random.default_rng(0)
    probabilities = rng.random((50, 10))
    samples = {
        "tensorflow": [0.976, 0.977, 0.975],
        "jax": [0.977, 0.976, 0.976],
        "torch": [0.976 + shift, 0.977 + shift, 0.975 + shift],
    }
    by_seed = {backend: dict(enumerate(values)) for backend, values in samples.items()}
    divergence = [
        {
            "pair": "tensorflow vs jax",
            "epoch": e,
            "argmax_agreement": 1.0,
            "max_abs_probability_difference": 1e-7 * 10**e,
            "max_abs_weight_difference": 2e-7 * 10**e,
        }
        for e in (1, 2, 3)
    ]
    matrix = np.diag([98] * 10)
    statistical = statistical_verdict(by_seed, 0.004)
    return {
        "check": "parity",
        "backends": list(samples),
        "created_utc": "2026-03-02T10:00:00+00:00",
        "machine": {"id": "test-machine-2c"},
        "session": "20260302T095000Z-aaaaaa",
        "config": {"seeds": 3, "epochs": 10},
        "tolerances": {"accuracy": 0.004, "lockstep": 1e-5, "predict": 1e-5},
        "same_start": {"passed": True, "initial_weights_sha256": {}},
        "statistical": {**statistical, "epochs": 10},
        "lockstep": {  # the whole-epoch check of verdicts before the step check
            "outcome": "PASS",
            "passed": True,
            "tolerance": 1e-5,
            "pairs": [
                {
                    "pair": "tensorflow vs jax",
                    "max_abs_probability_difference": 1e-6,
                    "max_abs_weight_difference": 2e-6,
                    "argmax_agreement": 1.0,
                    "passed": True,
                }
            ],
            "message": "largest: tensorflow vs jax: max |Δ| probabilities 1.00e-06, weights "
            "2.00e-06 (tolerance 1e-05)",
            "divergence": divergence,
        },
        "predict_everywhere": predict_everywhere_verdict(
            "tensorflow", {b: probabilities for b in samples}, probabilities.argmax(1)
        ),
        "confusion_matrices": {
            "tensorflow": matrix.tolist(),
            "jax": (matrix + np.eye(10)).tolist(),
        },
        "outcome": statistical["outcome"],
        "passed": statistical["passed"],
    }


def parity_step_verdict(shift: float, *, step_error: float = 1e-7) -> dict:
    """`parity_verdict` in the layout of the step check (format 2): teacher-forced steps that
    differ by `step_error` relative, and a free-running epoch that leaves rounding at step 3."""
    from bench.parity.step_compare import free_running, teacher_forced_verdict

    old = parity_verdict(shift)
    rng = np.random.default_rng(1)
    names = {"weights": ["dense/kernel"], "trainable": [0], "slots": ["adam/m"]}

    def step(offset):
        kernel = rng.normal(size=(4, 3))
        return {
            "loss": 2.3,
            "gradients": [kernel + offset],
            "weights": [kernel],
            "slots": [kernel],
        }

    first = {s: step(0.0) for s in (1, 2, 3)}
    second = {
        s: {**out, "gradients": [out["gradients"][0] * (1 + step_error)]}
        for s, out in first.items()
    }
    steps = [1, 2, 3, 4]
    weights = np.ones((4, 6))
    drifted = weights.copy()
    drifted[2:, 0] += 1e-2
    stepped = teacher_forced_verdict(
        {"tensorflow": first, "jax": second}, names, 1e-4, reference="tensorflow"
    )
    diagnostic = free_running(
        {
            "tensorflow": {"steps": steps, "weights": weights},
            "jax": {"steps": steps, "weights": drifted},
        },
        [6],
        1e-4,
    )
    new = {key: value for key, value in old.items() if key != "lockstep"}
    outcome = "FAIL" if stepped["outcome"] == "FAIL" else old["outcome"]
    return {
        **new,
        "format": 2,
        "tolerances": {**old["tolerances"], "step": 1e-4},
        "teacher_forced": {**stepped, "localizer_samples": 8},
        "free_running": {**diagnostic, "by_epoch": old["lockstep"]["divergence"]},
        "outcome": outcome,
        "passed": outcome == "PASS",
    }


def clone_parity_runs(work: Path, active: str) -> None:
    """Fill every other backend's slot in a parity work dir with a copy of `active`'s run."""
    import shutil

    from digitrec_core.config import BACKENDS

    record = json.loads((work / f"{active}.json").read_text())
    sections = ("lockstep", "free_running", "teacher_forced")
    for backend in BACKENDS:
        if backend == active:
            continue
        clone = {**record, "backend": backend}
        for section in sections:
            name = record[section]["outputs"].replace(active, backend)
            shutil.copy(work / record[section]["outputs"], work / name)
            clone[section] = {**record[section], "outputs": name}
        predictions = f"predict-everywhere-{backend}.npy"
        shutil.copy(work / record["predict_everywhere"]["probabilities"], work / predictions)
        clone["predict_everywhere"] = {
            **record["predict_everywhere"],
            "probabilities": predictions,
        }
        (work / f"{backend}.json").write_text(json.dumps(clone))
