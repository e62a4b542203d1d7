"""One benchmark run, start to finish: load → preprocess → build → train and time → result."""

import platform
import resource
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import keras
import numpy as np
import psutil

from bench import backends
from bench.host import gemm_probe
from bench.host.machine import git_info, machine_info
from bench.run import inference, native, roofline, timing
from bench.run.engine import Engine, keras_engine
from bench.run.flops import model_training_flops_per_sample
from bench.run.record import (
    layer_summary,
    mib,
    portable_command,
    portable_path,
    portable_source,
    sample_images,
    speed_settings,
    threads_record,
)
from digitrec_core import data, metrics, preprocess
from digitrec_core.config import RunConfig
from digitrec_core.initial_weights import numpy_initialise, weights_sha256
from digitrec_core.model import compile_model
from digitrec_core.results import ALONE, KERAS_IMPLEMENTATION, build_record
from digitrec_core.workloads import Workload, definition_sha256, load_workload

SHORT_PROBE = {"repeats": 2, "seconds_per_repeat": 0.05, "model_shapes": False}


class BackendMismatchError(RuntimeError):
    """Keras is running a different backend (or device) from the one the run asked for."""


def check_backend(config: RunConfig, support: backends.Backend) -> None:
    """Refuse to go on unless keras runs `config.backend` and, for GPU runs, sees a GPU."""
    active = keras.backend.backend()
    if active != config.backend:
        raise BackendMismatchError(
            f"keras is running backend {active!r}, but the run asked for {config.backend!r}; "
            "set KERAS_BACKEND before keras is imported (run through `python -m bench.run`)"
        )
    if config.device == "gpu" and not support.visible_gpus():
        raise BackendMismatchError(
            f"--device gpu was asked for, but {support.FRAMEWORK} sees no GPU; install its GPU "
            "build (see README, 'GPU') or run with --device cpu"
        )


def run_benchmark(
    config: RunConfig,
    log=print,
    *,
    repeat: dict[str, Any] | None = None,
    tuning: dict[str, Any] | None = None,
    invocation: str | None = None,
    speed_extras: bool = True,
    framework_probe: str = "full",
) -> dict[str, Any]:
    """Run the documented workflow under `config` and return the result record.

    `repeat` (group id, index, count, interleaved), `tuning` (the search that chose a tuned
    profile's settings) and `invocation` (the id shared by every run of one `nox -s bench`)
    are recorded as given. `speed_extras=False` skips the prediction benchmark (for trials that
    only compare training speed). `framework_probe`: "full" (the framework's GEMM rates, kept
    in the roofline), "threads" (a short square run that only measures the busy cores, implied
    by `speed_extras=False`) or "none" (no probe; with a thread limit the short one still runs
    to check it). The suite asks for the full probe in each group's first run only.
    """
    startup_seconds = time.time() - psutil.Process().create_time()
    support = prepare_backend(config)
    created = datetime.now(UTC)
    workload = load_workload(config.workload)
    mnist, prepared, data_load_seconds = load_data(config, workload, log)
    build_started = time.perf_counter()
    model, initial_weights = build_seeded_model(config, workload)
    model_build_seconds = time.perf_counter() - build_started
    device_name = check_placement(config, model, support)
    log(
        f"{config.backend} {support.framework_version()} on {device_name}: "
        f"{model.count_params():,} parameters, {config.epochs} epochs at batch {config.batch_size}"
    )
    if framework_probe == "full" and not speed_extras:
        framework_probe = "threads"
    if framework_probe == "none" and config.threads is not None:
        framework_probe = "threads"  # a thread limit is declared only once the probe confirms it
    if config.implementation == "keras":
        engine, implementation = keras_engine(config, model, prepared, support), None
    else:
        engine, implementation = native.native_engine(config, workload, prepared, log)
        framework_probe = "none" if config.threads is None else "threads"
    measured = train_and_time(
        config, engine, prepared, support, log, speed_extras=speed_extras, probe=framework_probe
    )
    if implementation is not None:
        implementation.check_steps(support)
    reached = (
        metrics.time_to_target(
            measured.epochs.test_accuracy,
            measured.epochs.training_seconds,
            workload.target_accuracy,
        )
        if workload.target_accuracy is not None
        else None
    )
    samples_per_epoch = len(prepared.x_train)
    roofline_figures = roofline.roofline_record(
        measured.timings["steady_epoch_seconds"],
        samples_per_epoch,
        measured.framework_gemm if framework_probe == "full" else None,
        flops_per_sample=model_training_flops_per_sample(model),
    )
    busy_gemm = measured.framework_gemm["busy_cores"] if measured.framework_gemm else None
    threads = threads_record(config.threads, busy_gemm, measured.fit_busy_cores)
    if threads["in_effect"] is False:
        log(
            f"warning: --threads {config.threads} did not take effect: "
            f"{threads['busy_cores_gemm']:.2f} cores busy in the GEMM probe, "
            f"{threads['busy_cores_fit']:.2f} during fit"
        )
    used = backends.device_kind(device_name)
    return build_record(
        run_id=f"{created:%Y%m%dT%H%M%SZ}-{config.backend}-{used}-{uuid.uuid4().hex[:8]}",
        created_utc=created.isoformat(),
        backend=config.backend,
        device={
            "requested": config.device,
            "used": used,
            "description": device_name,
            "framework": support.device_report(),
        },
        implementation=dict(KERAS_IMPLEMENTATION)
        if implementation is None
        else implementation.record(),
        config={**config.to_dict(), "data_dir": portable_path(config.data_dir)},
        workload={
            "name": workload.name,
            "spec": config.workload,
            "description": workload.description,
            "definition_sha256": definition_sha256(workload, model_config(model)),
            "settings": workload.settings(),
        },
        data={
            "source": portable_source(mnist.source),
            "train_samples": len(mnist.x_train),
            "test_samples": len(mnist.x_test),
            "checksums_verified": mnist.checksums_verified,
        },
        model={
            "parameters": model.count_params()
            if implementation is None
            else implementation.parameter_count(),
            "summary": layer_summary(model),
            "initial_weights": initial_weights.how,
            "initial_weights_sha256": initial_weights.sha256
            if implementation is None
            else implementation.initial_weights_sha256,
        },
        versions={
            "python": platform.python_version(),
            "keras": keras.__version__,
            "numpy": np.__version__,
            "framework": support.FRAMEWORK,
            "framework_version": support.framework_version(),
        },
        machine=machine_info(),
        git=git_info(),
        command=portable_command(sys.argv),
        invocation={"id": invocation},
        settings={
            **speed_settings(config, model, support, threads),
            **({} if implementation is None else implementation.settings()),
            "precision": precision_record(config, model, prepared.x_train[:8]),
        },
        memory={
            # ru_maxrss is in KiB on Linux.
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_gpu_mib": mib(support.peak_gpu_memory_bytes()),
        },
        roofline=roofline_figures,
        repeat=repeat or dict(ALONE),
        tuning=tuning,
        timings={
            # From the process start (interpreter and framework imports included) to here.
            "process_wall_seconds": time.time() - psutil.Process().create_time(),
            "startup_seconds": startup_seconds,
            "data_load_seconds": data_load_seconds,
            "model_build_seconds": model_build_seconds,
            **measured.timings,
            "time_to_target_seconds": None if reached is None else reached.seconds,
        },
        metrics={
            "test_loss": measured.test_loss,
            "test_accuracy": measured.test_accuracy,
            "history": measured.history,
            "target": None
            if reached is None
            else {"accuracy": reached.target, "reached": reached.reached, "epoch": reached.epoch},
            **metrics.classification_summary(prepared.test_labels, measured.predicted),
            "predicted_classes": measured.predicted.tolist(),
        },
        samples=sample_images(mnist, measured.predicted),
    )


def prepare_backend(config: RunConfig) -> backends.Backend:
    """The backend's support module, checked against `config` and set up as it asks."""
    support = backends.load(config.backend)
    check_backend(config, support)
    if config.threads is not None:
        support.limit_threads(config.threads)
    support.configure_tf32(config.tf32)
    return support


def load_data(
    config: RunConfig, workload: Workload, log
) -> tuple[data.Mnist, preprocess.Prepared, float]:
    """The workload's data as `config` asks (subset included), prepared, and the seconds taken."""
    started = time.perf_counter()
    mnist = workload.load_data(config.data_dir, verify_checksums=config.verify_checksums)
    mnist = preprocess.take_subset(mnist, config.train_samples, config.test_samples)
    prepared = preprocess.prepare(mnist, workload.prepare_images)
    seconds = time.perf_counter() - started
    log(f"data: {len(mnist.x_train)} train, {len(mnist.x_test)} test images from {mnist.source}")
    return mnist, prepared, seconds


@dataclass
class InitialWeights:
    how: str
    sha256: str


def build_seeded_model(config: RunConfig, workload: Workload) -> tuple[keras.Model, InitialWeights]:
    """The workload's model, compiled for the run, with numpy's initial weights for its seed.

    The same seed gives other initial weights on each backend; numpy's are the same everywhere
    (for Dense and Conv layers: see `numpy_initialise`, and the record says which it was).
    """
    keras.utils.set_random_seed(config.seed)  # dropout masks and shuffling stay the backend's
    keras.config.set_dtype_policy(config.precision)  # before the layers are made
    model = compile_model(
        workload.build_model(),
        optimizer=workload.optimizer,
        loss=workload.loss,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    how = numpy_initialise(model, config.seed)
    return model, InitialWeights(how, weights_sha256(model.get_weights()))


def precision_record(config: RunConfig, model: keras.Model, sample: np.ndarray) -> dict[str, Any]:
    """The precision asked for, the policy in effect, and what each layer really computed in.

    The dtypes are measured: each layer's output on `sample` (a few training inputs), not read
    from the policy objects.
    """
    policy = keras.config.dtype_policy()
    return {
        "requested": config.precision,
        "policy": policy.name,
        "compute_dtype": policy.compute_dtype,
        "variable_dtype": policy.variable_dtype,
        "loss_scaling": type(model.optimizer).__name__ == "LossScaleOptimizer",
        "layer_output_dtypes": layer_output_dtypes(model, sample),
    }


def layer_output_dtypes(model: keras.Model, sample: np.ndarray) -> list[dict[str, str]] | None:
    """Each layer's class and the dtype of its output on `sample`; None for a model whose
    layers cannot be read one by one (a subclassed model without a graph)."""
    try:
        layers = list(model.layers)
        probe = keras.Model(model.inputs, [layer.output for layer in layers])
    except (AttributeError, ValueError, TypeError):
        return None
    outputs = probe(keras.ops.convert_to_tensor(sample))
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [
        {"layer": type(layer).__name__, "output_dtype": keras.backend.standardize_dtype(out.dtype)}
        for layer, out in zip(layers, outputs, strict=True)
    ]


def model_config(model: keras.Model) -> dict[str, Any]:
    """The model's architecture as plain data, the same whichever backend built it.

    `get_config`, not `to_json`: the latter adds the compile settings, whose optimizer module
    and resolved jit_compile differ by backend. Names are left out: Keras numbers its layers
    ("dense_2") by how many were built before in the process.
    """
    return without_names(model.get_config())


def without_names(config: Any) -> Any:
    """`config` without its "name" entries, at every depth."""
    if isinstance(config, dict):
        return {key: without_names(value) for key, value in config.items() if key != "name"}
    if isinstance(config, list):
        return [without_names(value) for value in config]
    return config


def check_placement(config: RunConfig, model: keras.Model, support: backends.Backend) -> str:
    """The device Keras put the model on; refuse if it is not the kind the run asked for."""
    device_name = support.variable_device(model)
    used = backends.device_kind(device_name)
    if used != config.device:
        raise BackendMismatchError(
            f"keras placed the model on {device_name} ({used}), but the run asked for "
            f"{config.device}; check CUDA_VISIBLE_DEVICES and the installed {support.FRAMEWORK}"
        )
    return device_name


@dataclass
class Measured:
    """What training, evaluating and predicting measured."""

    epochs: timing.EpochTimer  # per epoch: training time, test accuracy, evaluation cost
    history: dict[str, list[float]]
    test_loss: float
    test_accuracy: float
    predicted: np.ndarray
    timings: dict[str, Any]
    framework_gemm: dict[str, Any] | None  # None where no probe ran
    fit_busy_cores: float


def train_and_time(
    config: RunConfig,
    engine: Engine,
    prepared: preprocess.Prepared,
    support: backends.Backend,
    log,
    *,
    speed_extras: bool,
    probe: str,
) -> Measured:
    """Fit, evaluate and predict with every step timed to its synchronised end; probe GEMMs."""
    sync = engine.synchronize
    epoch_timer = timing.EpochTimer(sync, print_line=log, evaluate=engine.evaluate)
    fit_cpu_started = gemm_probe.cpu_seconds()

    def fit() -> dict[str, list[float]]:
        epoch_timer.start()
        return engine.fit(epoch_timer)

    history, fit_with_evaluation_seconds = timing.time_call(fit, sync)
    # The training clock: the evaluations after each epoch are left out of it.
    fit_seconds = fit_with_evaluation_seconds - epoch_timer.paused_seconds
    fit_busy_cores = (gemm_probe.cpu_seconds() - fit_cpu_started) / fit_with_evaluation_seconds
    # The last epoch's evaluation is the trained model's: one evaluation, one number.
    test_loss, test_accuracy = epoch_timer.test_loss[-1], epoch_timer.test_accuracy[-1]
    history = {
        **history,
        "test_loss": list(epoch_timer.test_loss),
        "test_accuracy": list(epoch_timer.test_accuracy),
    }

    _, predict_first_call_seconds = timing.time_call(engine.predict, sync)
    probabilities, predict_seconds = timing.time_call(engine.predict, sync)
    log(
        f"test loss {test_loss:.4f}  test accuracy {test_accuracy:.4f}  "
        f"fit {fit_seconds:.2f} s  predict {predict_seconds * 1000:.1f} ms"
    )
    predict_speed = {}
    if speed_extras and engine.model is not None:
        benchmark_started = time.perf_counter()
        predict_speed = inference.predict_speed(engine.model, prepared.x_test, sync)
        predict_speed["predict_benchmark_seconds"] = time.perf_counter() - benchmark_started
        log(
            f"predict path {predict_speed['predict_path']}: batch-1 latency p50 "
            f"{predict_speed['predict_latency_p50_ms']:.3f} ms, "
            f"p99 {predict_speed['predict_latency_p99_ms']:.3f} ms"
        )
    probe_started = time.perf_counter()
    framework_gemm = None
    if probe != "none":
        framework_gemm = gemm_probe.gemm_rates(
            keras.ops.matmul,
            keras.ops.convert_to_tensor,
            support.block_until_ready,
            # Short of the full probe, only the busy cores of a short square run.
            **({} if probe == "full" else SHORT_PROBE),
        )
    framework_probe_seconds = time.perf_counter() - probe_started
    timings = {
        "fit_seconds": fit_seconds,
        "fit_with_evaluation_seconds": fit_with_evaluation_seconds,
        "training_seconds": list(epoch_timer.training_seconds),
        "epoch_evaluation_seconds": list(epoch_timer.evaluation_seconds),
        **timing.summarize_epochs(epoch_timer.epoch_seconds, len(prepared.x_train)),
        # The first evaluation, after epoch 1: tracing included, as before per-epoch ones.
        "evaluate_seconds": epoch_timer.evaluation_seconds[0],
        "predict_first_call_seconds": predict_first_call_seconds,
        "predict_seconds": predict_seconds,
        "predict_samples_per_second": len(prepared.x_test) / predict_seconds,
        "framework_probe_seconds": framework_probe_seconds,
        **predict_speed,
    }
    return Measured(
        epochs=epoch_timer,
        history=history,
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        predicted=probabilities.argmax(axis=1),
        timings=timings,
        framework_gemm=framework_gemm,
        fit_busy_cores=fit_busy_cores,
    )
