"""The parity runs of one backend, whose outputs `python -m bench.parity` compares across backends.

Usage: python -m bench.parity.runs --backend jax [--seeds 5] [--lockstep-epochs 5] [--epochs 10]
           [--trainer tensorflow] [--session ID] [--data-dir DIR] [--work-dir DIR]

`--workload` picks what is trained (default mlp); epochs, batch size and tolerances are its own.

1. Statistical: the documented run (10 epochs, dropout on) for seeds 0..K-1, each from the numpy
   initial weights of its seed and in its numpy batch order; test accuracy per seed.
2. Lockstep, dropout off, seed 0:
   - free-running: epoch 1 batch by batch, each backend from its own previous step, with its
     weights per step (a diagnostic), then up to `--lockstep-epochs` epochs, with the test-set
     probabilities and weights after each (`bench.parity.trajectory`);
   - teacher-forced: every compared step of epoch 1 taken again from the trainer's saved state
     on the same batch, with the localizer's per-layer comparison (`bench.parity.teacher`).
3. Predict everywhere: the trainer backend saves its seed-0 documented model as .keras; every
   backend (the trainer included) loads that file and predicts the test set.

Outputs go to the work dir (default <results-dir>/parity/<machine id>/work, not committed), each
written atomically; the record names the session, commit, configuration and data they belong to.
"""

import argparse
import hashlib
import json
import os
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import cli
from bench.host.machine import git_info, machine_info
from bench.parity import options
from bench.stats import MIN_SEEDS
from digitrec_core.config import BACKENDS, RunConfig
from digitrec_core.results import write_atomically, write_text_atomically
from digitrec_core.workloads import MLP, Workload, WorkloadError, load_workload


@dataclass(frozen=True)
class ParityConfig:
    """What a parity session runs: every backend's record must carry the same one."""

    seeds: int = options.DEFAULT_SEEDS
    epochs: int = MLP.epochs
    lockstep_epochs: int = options.DEFAULT_LOCKSTEP_EPOCHS
    trainer: str = options.DEFAULT_TRAINER
    batch_size: int = MLP.batch_size
    workload: str = MLP.name


def trained_model_path(work_dir: Path, trainer: str) -> Path:
    return work_dir / f"model-trained-on-{trainer}.keras"


def reference_states_path(model_path: Path) -> Path:
    """Where the trainer leaves its states for the teacher-forced steps, beside its model."""
    trainer = model_path.stem.removeprefix("model-trained-on-")
    return model_path.with_name(f"step-states-of-{trainer}.npz")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statistical_run(
    data, seed: int, epochs: int, workload: Workload = MLP
) -> tuple[Any, dict[str, Any]]:
    """One documented run of `seed`: (the trained model, its per-seed record)."""
    from bench.parity import training
    from digitrec_core import metrics, train

    model, init_hash = training.initialised_model(seed, workload=workload)
    training.train_in_order(model, data, seed=seed, epochs=epochs, batch_size=workload.batch_size)
    loss, accuracy = train.evaluate(model, data, batch_size=training.PREDICT_BATCH_SIZE)
    batch = training.PREDICT_BATCH_SIZE
    predicted = train.predict(model, data.x_test, batch_size=batch).argmax(axis=1)
    summary = metrics.classification_summary(data.test_labels, predicted)
    return model, {
        "seed": seed,
        "initial_weights_sha256": init_hash,
        "test_accuracy": accuracy,
        "test_loss": loss,
        "final_weights_sha256": hashlib.sha256(training.flat_weights(model).tobytes()).hexdigest(),
        "confusion_matrix": summary["confusion_matrix"],
    }


def run_checks(
    data,
    config: ParityConfig,
    model_path: Path,
    *,
    is_trainer: bool,
    vjp,
    workload: Workload | None = None,
    log=print,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run the three checks' training and prediction; return (record, arrays), nothing written.

    The trainer saves its seed-0 model to `model_path` (atomically) before every backend,
    itself included, loads that file and predicts; it saves its lockstep states beside it
    (`reference_states_path`), from which every backend takes the teacher-forced steps. `vjp`
    is the backend's autodiff (`bench.backends.Backend.vjp`).
    """
    import keras

    from bench.parity import training
    from digitrec_core import train

    workload = workload or load_workload(config.workload)  # a user's is passed in
    statistical = []
    for seed in range(config.seeds):
        model, run = statistical_run(data, seed, config.epochs, workload)
        statistical.append(run)
        log(
            f"statistical: seed {seed}: test accuracy {run['test_accuracy']:.4f} "
            f"(init {run['initial_weights_sha256'][:12]})"
        )
        if seed == 0 and is_trainer:
            write_atomically(model_path, model.save)
            log(f"saved the seed-0 model to {model_path}")

    lockstep, free_running, teacher_forced = lockstep_checks(
        data, config, reference_states_path(model_path), workload, vjp, is_trainer=is_trainer
    )
    log(
        f"lockstep: free-running {config.lockstep_epochs} epochs, teacher-forced steps "
        f"{teacher_forced['record']['steps']}"
    )

    loaded = keras.saving.load_model(model_path)
    probabilities = train.predict(loaded, data.x_test, batch_size=training.PREDICT_BATCH_SIZE)
    log(f"predict everywhere: {model_path.name} predicted")
    record = {
        "statistical": {"epochs": config.epochs, "runs": statistical},
        "lockstep": {
            "epochs": config.lockstep_epochs,
            "initial_weights_sha256": lockstep["initial_weights_sha256"],
        },
        "free_running": free_running["record"],
        "teacher_forced": teacher_forced["record"],
        "predict_everywhere": {
            "trainer": config.trainer,
            "model": model_path.name,
            "model_sha256": file_sha256(model_path),
        },
        "test_labels": data.test_labels.tolist(),
    }
    arrays = {
        "probabilities": lockstep["probabilities"],
        "weights": lockstep["weights"],
        "free_running": free_running["arrays"],
        "teacher_forced": teacher_forced["outputs"],
        "predict_everywhere": probabilities,
    }
    return record, arrays


def lockstep_checks(
    data, config: ParityConfig, states_path: Path, workload: Workload, vjp, *, is_trainer: bool
):
    """The free-running epoch (the trainer saves its states to `states_path`), the further
    lockstep epochs, then the teacher-forced steps from the trainer's states."""
    from bench.parity import teacher, training, trajectory
    from bench.parity.localize import SAMPLES
    from bench.parity.stepping import KerasStepper

    def lockstep_model():
        return training.initialised_model(
            0, workload=workload, dropout_rate=0.0, same_loss_path=True
        )

    model, start_hash = lockstep_model()
    stepper = KerasStepper(model, vjp)
    epoch_one = trajectory.free_running_epoch(
        stepper, model, data.x_train, data.y_train,
        seed=0, batch_size=workload.batch_size, vjp=vjp, reference=is_trainer,
    )  # fmt: skip
    if is_trainer:
        teacher.save_reference(states_path, epoch_one)
    lockstep = training.lockstep_outputs(
        model, data, seed=0, epochs=config.lockstep_epochs, batch_size=workload.batch_size,
        first_epoch=1,
    )  # fmt: skip
    sizes = [int(np.size(w)) for w in model.get_weights()]
    free_running = {
        "record": {
            "steps": epoch_one.steps,
            "sizes": sizes,
            "digests": {str(step): found for step, found in epoch_one.digests.items()},
        },
        "arrays": {"steps": np.array(epoch_one.steps), "weights": epoch_one.weights},
    }

    fresh, _ = lockstep_model()
    fresh_stepper = KerasStepper(fresh, vjp)
    outputs, kept = teacher.take_steps(
        fresh_stepper, fresh, data.x_train, data.y_train, teacher.load_reference(states_path),
        seed=0, batch_size=workload.batch_size, vjp=vjp,
        noise_draws=teacher.NOISE_DRAWS if is_trainer else 0,
    )  # fmt: skip
    teacher_forced = {
        "record": {
            "reference_sha256": file_sha256(states_path),
            "steps": sorted(outputs),
            "names": fresh_stepper.names.as_dict(),
            "samples": SAMPLES,
            **kept,
        },
        "outputs": outputs,
    }
    return {**lockstep, "initial_weights_sha256": start_hash}, free_running, teacher_forced


def write_outputs(
    work_dir: Path, backend: str, record: dict[str, Any], arrays: dict[str, Any]
) -> Path:
    """Write one backend's arrays, then its record (last, so a record means complete outputs)."""
    from bench.parity import teacher

    files = {
        "lockstep": f"lockstep-{backend}.npz",
        "free_running": f"free-running-{backend}.npz",
        "teacher_forced": f"teacher-forced-{backend}.npz",
        "predict_everywhere": f"predict-everywhere-{backend}.npy",
    }
    teacher.save_npz(
        work_dir / files["lockstep"],
        {"probabilities": arrays["probabilities"], "weights": arrays["weights"]},
    )
    teacher.save_npz(work_dir / files["free_running"], arrays["free_running"])
    teacher.save_outputs(work_dir / files["teacher_forced"], arrays["teacher_forced"])

    def save_predictions(tmp: Path) -> None:
        with tmp.open("wb") as file:
            np.save(file, arrays["predict_everywhere"])

    write_atomically(work_dir / files["predict_everywhere"], save_predictions)
    record = {
        **record,
        **{
            section: {**record[section], "outputs": files[section]}
            for section in ("lockstep", "free_running", "teacher_forced")
        },
        "predict_everywhere": {
            **record["predict_everywhere"],
            "probabilities": files["predict_everywhere"],
        },
    }
    return write_text_atomically(work_dir / f"{backend}.json", json.dumps(record, indent=1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity.runs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    options.add_runs_options(parser)
    options.add_shared_options(parser)
    options.add_verdict_options(parser, shown=False)
    cli.add_debug(parser)
    args = parser.parse_args(argv)
    if args.seeds < MIN_SEEDS:
        parser.error(
            f"--seeds must be at least {MIN_SEEDS} (a paired verdict needs them), got {args.seeds}"
        )
    for name in ("lockstep_epochs", "epochs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.session = args.session or uuid.uuid4().hex[:12]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run_guarded(
        lambda: run(args),
        debug=args.debug,
        interrupted="no parity record written; rerun it",
        exit_at_once=True,
    )


def run(args: argparse.Namespace) -> int:
    from bench.backends import environment_for

    os.environ.update(environment_for(args.backend, "cpu"))
    import keras

    from bench import backends
    from bench.run.workflow import BackendMismatchError, check_backend, portable_source
    from digitrec_core.idx import DataFileError
    from digitrec_core.preprocess import prepare

    support = backends.load(args.backend)
    try:
        check_backend(RunConfig(backend=args.backend), support)
        workload = load_workload(args.workload)
        mnist = workload.load_data(args.data_dir, verify_checksums=args.verify_checksums)
    except (DataFileError, BackendMismatchError, WorkloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = ParityConfig(
        seeds=args.seeds,
        epochs=args.epochs or workload.epochs,
        lockstep_epochs=args.lockstep_epochs,
        trainer=args.trainer,
        batch_size=workload.batch_size,
        workload=workload.name,
    )
    machine = machine_info()
    work_dir = args.work_dir or options.work_dir_for(args.results_dir, machine["id"], workload.name)
    work_dir.mkdir(parents=True, exist_ok=True)
    model_path = trained_model_path(work_dir, args.trainer)
    is_trainer = args.backend == args.trainer
    if not is_trainer and not (model_path.exists() and reference_states_path(model_path).exists()):
        print(
            f"error: {model_path} or the trainer's step states beside it do not exist: run "
            "the trainer's parity runs first "
            f"(nox -s \"parity_runs(backend='{args.trainer}')\", or nox -s parity for all)",
            file=sys.stderr,
        )
        return 2

    record, arrays = run_checks(
        prepare(mnist, workload.prepare_images),
        config,
        model_path,
        is_trainer=is_trainer,
        vjp=support.vjp,
        workload=workload,
        log=print,
    )
    record = {
        "backend": args.backend,
        "session": args.session,
        "created_utc": datetime.now(UTC).isoformat(),
        "config": asdict(config),
        "data": {
            "source": portable_source(mnist.source),
            "checksums_verified": mnist.checksums_verified,
            "content_sha256": mnist.content_sha256(),
        },
        "git": git_info(),
        "versions": {"keras": keras.__version__, "framework": support.framework_version()},
        "machine": machine,
        **record,
    }
    path = write_outputs(work_dir, args.backend, record, arrays)
    print(f"parity runs of {args.backend} (session {args.session}) written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
