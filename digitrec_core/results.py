"""The result file: one self-describing JSON per benchmark run, the contract with the report.

A result is a plain dict. `SCHEMA` below is the one place its format is written down: every
top-level key, and for sections with fixed keys each of theirs. `build_record` makes records
only in that shape, and a test checks that a real run, the test fixtures and `SCHEMA` agree.
Version 5 adds ``implementation``: a run of Keras, or of a native reference (the framework
alone, bench.backends.native), which the report keeps out of the ranking; older files are read
as Keras runs. Version 4 evaluates on the test set after every epoch, with the training clock
paused, and records the precision and the time to the workload's target accuracy.
``fit_seconds`` keeps its meaning (the whole fit, compile included, no evaluation in it), so
version 3 files are read as they are: without a learning curve on the test set or a time to
target, which the report then shows as not measured, never as missed. Version 3 adds
``workload``; version 2 files (all the documented MLP) are read as the ``mlp`` workload.
Version 1 had per-run "% of peak" figures, a threads number instead of ``settings.threads``,
no ``invocation`` and no machine fingerprint; it is not read.
"""

import base64
import contextlib
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 5
READABLE_VERSIONS = (2, 3, 4, 5)
OPTIONAL = "optional: "  # a section key described so may be absent (e.g. in tuning trials)
SCHEMA: dict[str, str | dict[str, str]] = {
    "schema_version": "int: the version of this format, SCHEMA_VERSION",
    "run_id": "str: unique; UTC start, backend, device and a random suffix",
    "created_utc": "str: ISO 8601 start of the run",
    "backend": '"tensorflow" | "jax" | "torch"',
    "device": {
        "requested": '"cpu" | "gpu"',
        "used": '"cpu" | "gpu": where Keras put the weights',
        "description": "str: the framework's name for that device",
        "framework": "dict: what the framework sees (GPUs, CUDA and cuDNN versions)",
    },
    "implementation": {
        "kind": '"keras" | "native": Keras\'s `fit`, or the framework alone (a reference kept '
        "out of the backend ranking and out of compare's groups)",
        "variant": 'str | None: a native run\'s "eager", "compiled" (torch.compile), "jit" '
        '(jax.jit) or "tf.function"; None for Keras',
        "description": "str: what trains the model",
        "optimizer": "str: the optimizer that stepped it",
        "step_check": "dict | None: Keras against this native code from one state, one step at "
        "a time with Keras's Adam written out on both sides (bench.parity.native_steps); None "
        "for Keras",
    },
    "config": "dict: the run's configuration verbatim (digitrec_core.config.RunConfig), "
    "data_dir written as $DIGITREC_DATA_DIR, ~/... or relative to the project",
    "workload": {
        "name": 'str: "mlp", "convnet" or the name a user workload gives itself',
        "spec": "str: as given to --workload (a name or package.module:name)",
        "description": "str",
        "definition_sha256": "str | None: hash of the settings and the model's architecture "
        "(None in records from schema version 2, which were all the MLP)",
        "settings": "dict: epochs, batch_size, optimizer, loss, tolerances, target_accuracy "
        "(the last absent before version 4)",
    },
    "data": {
        "source": 'str: "idx:<folder>", "npz:<file>" or "keras.datasets.mnist", no absolute path',
        "train_samples": "int",
        "test_samples": "int",
        "checksums_verified": "bool: the files matched the published MNIST checksums",
    },
    "model": {
        "parameters": "int",
        "summary": "list of layer dicts: class, name, params, and units / filters / kernel_size "
        "/ pool_size / activation / rate",
        "initial_weights": "str: how the initial weights were made",
        "initial_weights_sha256": "str: hash of the initial weights as loaded (equal across "
        "backends when numpy drew them)",
    },
    "versions": {
        "python": "str",
        "keras": "str",
        "numpy": "str",
        "framework": "str: the backend's package name",
        "framework_version": "str",
    },
    "machine": {
        "id": "str: readable slug ending in the hash of fingerprint",
        "hostname": "str",
        "platform": "str",
        "cpu_model": "str",
        "cpu_cores_logical": "int",
        "cpu_cores_physical": "int | None",
        "memory_gib": "float",
        "gpus": "list of dicts: name, memory, driver",
        "fingerprint": "dict: CPU vendor, family, model, stepping, name, architecture, ISA "
        "flags, cores, memory to 4 GiB, GPUs",
    },
    "git": {
        "commit": "str | None",
        "dirty": "bool | None: uncommitted changes outside results/",
    },
    "command": "list of str: python -m bench.run and its options, without local paths",
    "invocation": {
        "id": "str | None: the nox command (or bench.suite) the run belongs to; the report "
        "takes one GEMM peak and one host speed per invocation",
    },
    "settings": {
        "profile": '"default" | "tuned"',
        "jit_compile_requested": 'bool | "auto"',
        "jit_compile_resolved": "bool",
        "steps_per_execution": "int",
        "threads": "dict: requested, cpu_affinity, busy_cores_gemm (None where no framework "
        "probe ran), busy_cores_fit, in_effect "
        "(whether the measured busy cores confirm the limit)",
        "tf32_requested": "bool",
        "dtype_policy": "str",
        "precision": "dict: requested (--precision), policy, compute_dtype, "
        "variable_dtype, loss_scaling, layer_output_dtypes (each layer's class and the dtype "
        "of its output on a real batch, measured; None where the layers cannot be read one by "
        "one) (absent before version 4: float32)",
        "framework": "dict: thread pools, TF32 and the like, as the framework reports them",
        "environment": "dict: the speed-related environment variables, None where unset",
    },
    "memory": {
        "peak_rss_mib": "float",
        "peak_gpu_mib": "float | None: None without a GPU",
    },
    "roofline": {
        "flops_formula": "str: what the FLOP count includes",
        "flops_per_sample": "int | None: training FLOPs per sample; None where the workload's "
        "layers cannot be counted",
        "flops_per_epoch": "int | None",
        "achieved_gflops": "float | None: None without a steady epoch or a FLOP count",
        "framework_gemm": "dict | None: the framework's own GEMM rates "
        "(bench.host.gemm_probe.gemm_rates)",
    },
    "repeat": {
        "group": "str | None: the runs of one backend, device and profile in one invocation",
        "index": "int: the repeat, in a rounds invocation the round (0 first, disturbed rounds "
        "counted); the run's seed is the suite's --seed plus it",
        "count": "int: the repeats planned (in a rounds invocation the cap, --max-rounds)",
        "interleaved": "bool: run i of each group ran side by side, so the report pairs them",
        "scheduler": 'str | None: "rounds" where one suite ran every backend and profile once '
        "per round, in a shuffled order; None for a run on its own (absent in files from "
        "before the rounds, whose suites ran one backend at a time)",
        "position": "int | None: the run's place in its round's order (0 first)",
        "order_seed": "int | None: the seed every round's order is drawn from",
        "min_rounds": "int | None: rounds run before the verdict is first looked at",
        "max_rounds": "int | None: the most rounds the suite runs",
        "confidence": "float | None: the interval level of each look (5% spread over the "
        "looks the cap allows, bench.stats.sequential_confidence)",
    },
    "tuning": "dict | None: the search that chose a tuned run's settings (None by default)",
    "timings": {
        "process_wall_seconds": "float: process start (imports included) to the record",
        "startup_seconds": OPTIONAL + "float: process start to the run's first step "
        "(interpreter, keras and framework imports)",
        "data_load_seconds": "float",
        "model_build_seconds": OPTIONAL + "float: building and compiling the model, its "
        "initial weights set (JAX's first operations compile here)",
        "fit_seconds": "float: the whole fit, compile included; the evaluations after each "
        "epoch are left out (the training clock pauses for them)",
        "fit_with_evaluation_seconds": "float: the fit with its evaluations (from version 4)",
        "training_seconds": "list of float: per epoch, training time from the fit's "
        "start to the epoch's end, compile included, evaluations left out (from version 4)",
        "epoch_evaluation_seconds": "list of float: what each epoch's evaluation "
        "on the test set took (from version 4)",
        "time_to_target_seconds": "float | None: training_seconds at the first "
        "epoch whose test accuracy reaches metrics.target; None for a miss or without a target "
        "(from version 4)",
        "epoch_seconds": "list of float, one per epoch",
        "first_epoch_seconds": "float: tracing and compilation included",
        "steady_epoch_seconds": "float | None: median of the epochs after the first",
        "steady_epoch_iqr_seconds": "float | None",
        "steady_epoch_min_seconds": "float | None",
        "steady_epoch_count": "int",
        "steady_epoch_cv": "float | None",
        "steady_epoch_resolution": "float | None: half-width of the 95% interval of the "
        "steady epochs, as a fraction",
        "steady_epoch_noisy": "bool | None",
        "compile_overhead_seconds": "float | None: first epoch minus the steady one",
        "train_samples_per_second": "float | None",
        "evaluate_seconds": "float: the first evaluation on the test set, tracing included",
        "predict_first_call_seconds": "float: tracing included",
        "predict_seconds": "float: a second, warm call",
        "predict_samples_per_second": "float",
        "framework_probe_seconds": OPTIONAL + "float: the framework's GEMM probe, full or the "
        "short busy-cores one",
        "predict_path": OPTIONAL + "str: the fastest batch-1 predict path",
        "predict_path_trial_p50_ms": OPTIONAL + "dict: p50 latency of each path tried",
        "predict_latency_p50_ms": OPTIONAL + "float: batch-1 latency",
        "predict_latency_p95_ms": OPTIONAL + "float",
        "predict_latency_p99_ms": OPTIONAL + "float",
        "predict_latency_calls": OPTIONAL + "int",
        "predict_throughput_samples_per_second": OPTIONAL + "dict: batch size -> samples/s",
        "predict_benchmark_seconds": OPTIONAL + "float: time the prediction benchmark took",
    },
    "metrics": {
        "test_loss": "float",
        "test_accuracy": "float",
        "history": "dict: loss and accuracy lists, one entry per epoch; from version 4 also "
        "test_loss and test_accuracy after each epoch",
        "target": "dict | None: accuracy (the workload's target), reached, epoch "
        "(1-based, None for a miss); None where the workload has no target; absent before "
        "version 4",
        "confusion_matrix": "10x10 list: rows true, columns predicted",
        "per_class": "list of {class, precision, recall, f1, support}",
        "macro_f1": "float",
        "predicted_classes": "list of int over the test set",
    },
    "samples": {
        "first_of_each_class": "labels and images",
        "first_train_labels": "list of 10 int",
        "first_test_labels": "list of 10 int",
        "random_test": "seed, indices, labels, predicted, images",
    },
}
# Images are 28x28 uint8, stored as {"shape": [...], "base64": str} (see encode_images).
REQUIRED_KEYS = tuple(SCHEMA)
# The `repeat` section of a run on its own, outside any suite.
ALONE = {
    "group": None,
    "index": 0,
    "count": 1,
    "interleaved": False,
    "scheduler": None,
    "position": None,
    "order_seed": None,
    "min_rounds": None,
    "max_rounds": None,
    "confidence": None,
}


def schema_problems(record: dict[str, Any]) -> list[str]:
    """How `record` differs from SCHEMA: missing and undocumented keys, one string each."""
    problems = [f"missing {key!r}" for key in SCHEMA if key not in record]
    problems += [f"undocumented {key!r}" for key in record if key not in SCHEMA]
    for key, section in SCHEMA.items():
        value = record.get(key)
        if not isinstance(section, dict) or not isinstance(value, dict):
            continue
        problems += [
            f"missing {key}.{name!r}"
            for name, meaning in section.items()
            if name not in value and not meaning.startswith(OPTIONAL)
        ]
        problems += [f"undocumented {key}.{name!r}" for name in value if name not in section]
    return problems


def build_record(**sections: Any) -> dict[str, Any]:
    """The result record of one run from its sections, in SCHEMA's order; nothing else fits."""
    record = {"schema_version": SCHEMA_VERSION, **sections}
    problems = schema_problems(record)
    if problems:
        raise ValueError(
            f"a result record must follow digitrec_core.results.SCHEMA: {', '.join(problems)}"
        )
    return {key: record[key] for key in SCHEMA}


class ResultFileError(ValueError):
    """A result file that cannot be read as a digitrec result."""


def encode_images(images: np.ndarray) -> dict[str, Any]:
    """Pack a uint8 image array into a JSON-safe dict."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    return {"shape": list(images.shape), "base64": base64.b64encode(images.tobytes()).decode()}


def decode_images(packed: dict[str, Any]) -> np.ndarray:
    """Unpack images stored by `encode_images`."""
    raw = base64.b64decode(packed["base64"])
    return np.frombuffer(raw, dtype=np.uint8).reshape(packed["shape"])


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends: a stop lands before or after it, not inside.

    Works whichever thread the operating system hands the signal to, since Python runs its
    handlers in the main thread; elsewhere (handlers cannot be changed there) it holds nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in held}
    for signum in held:
        if previous[signum] is not signal.SIG_IGN:
            signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a temporary file beside `path`, then move it there: never partial.

    The temporary file keeps `path`'s suffix (Keras insists on ".keras"), and is removed if
    `write` fails. Signals are held meanwhile, so even a process that exits on the spot at
    Ctrl-C leaves either the whole file or none, and no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with signals_held():
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            write(tmp)
            with tmp.open("rb+") as written:
                os.fsync(written.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary file and os.replace, so it is never partial."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `result` as JSON to `path` atomically; refuse to overwrite an existing file."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"result file {path} already exists; results are never overwritten")
    text = json.dumps(result, indent=1, allow_nan=False) + "\n"
    return write_text_atomically(path, text)


def non_finite_key(value: Any, dotted: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number in `value`; None if there is none."""
    if isinstance(value, float) and not math.isfinite(value):
        return dotted or "(the whole file)"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite_key(item, f"{dotted}.{key}" if dotted else str(key))
        if found:
            return found
    return None


def read_result(path: str | os.PathLike, *, finite: bool = False) -> dict[str, Any]:
    """Read and check one result file; raise ResultFileError naming what is wrong.

    `finite`: also refuse a NaN or infinity anywhere (digitrec never writes one), naming its key.
    """
    path = Path(path)
    constants: list[str] = []

    def constant(name: str) -> float:  # json calls this for NaN, Infinity and -Infinity only
        constants.append(name)
        return float(name)

    try:
        result = json.loads(path.read_text(encoding="utf-8"), parse_constant=constant)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: not a readable JSON file ({exc})") from exc
    if finite and constants:
        key = non_finite_key(result) or "(the whole file)"
        raise ResultFileError(f"{path}: {key} is not a finite number; the file is damaged")
    if not isinstance(result, dict):
        raise ResultFileError(f"{path}: expected a JSON object, found {type(result).__name__}")
    version = result.get("schema_version")
    if version == 2:
        result = {**result, "schema_version": 3, "workload": mlp_before_workloads()}
        version = 3
    if version in (3, 4):
        result = {**result, "implementation": dict(KERAS_IMPLEMENTATION)}
    elif version not in READABLE_VERSIONS:
        raise ResultFileError(
            f"{path}: schema_version {version!r}, this digitrec reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}; "
            "rerun the benchmark or read it with the digitrec version that wrote it"
        )
    missing = [key for key in REQUIRED_KEYS if key not in result]
    if missing:
        raise ResultFileError(f"{path}: missing keys {missing}; the file is incomplete")
    return result


# The `implementation` section of every run before version 5, and of every Keras run since.
KERAS_IMPLEMENTATION = {
    "kind": "keras",
    "variant": None,
    "description": "keras.Model.fit",
    "optimizer": "the workload's, compiled by Keras",
    "step_check": None,
}


def mlp_before_workloads() -> dict[str, Any]:
    """The `workload` section of a version 2 record: every one of them ran the documented MLP."""
    from digitrec_core.workloads.mlp import MLP

    return {
        "name": MLP.name,
        "spec": MLP.name,
        "description": MLP.description,
        "definition_sha256": None,
        "settings": MLP.settings(),
    }


def iter_result_paths(results_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield every result JSON under `results_dir/runs`, in a stable order."""
    yield from sorted(Path(results_dir, "runs").rglob("*.json"))
