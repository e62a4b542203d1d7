"""The parity runs of one backend, whose outputs `python -m bench.parity` compares across backends.

Usage: python -m bench.parity_runs --backend jax [--seeds 3] [--lockstep-epochs 5]
           [--trainer tensorflow] [--data-dir DIR] [--work-dir DIR]

1. Statistical: the documented run (10 epochs, dropout on) for seeds 0..K-1, each from the numpy
   initial weights of its seed and in its numpy batch order; test accuracy per seed.
2. Lockstep: dropout off, seed 0, `--lockstep-epochs` epochs; test-set probabilities and weights
   after every epoch.
3. Predict everywhere: the trainer backend saves its seed-0 documented model as .keras; every
   backend (the trainer included) loads that file and predicts the test set.

Outputs go to the work dir (default <results-dir>/parity/<machine id>/work, not committed).
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from digitrec_core.config import BACKENDS, RunConfig
from digitrec_core.results import write_text_atomically

DOCUMENTED_EPOCHS = 10


def work_dir_for(results_dir: str | os.PathLike, machine_id: str) -> Path:
    """Where parity runs leave their outputs for the verdict."""
    return Path(results_dir, "parity", machine_id, "work")


def trained_model_path(work_dir: Path, trainer: str) -> Path:
    return work_dir / f"model-trained-on-{trainer}.keras"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity_runs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the statistical check")
    parser.add_argument("--lockstep-epochs", type=int, default=5)
    parser.add_argument(
        "--trainer",
        default="tensorflow",
        choices=BACKENDS,
        help="the backend whose saved model every backend loads",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=DOCUMENTED_EPOCHS,
        help="epochs of the statistical runs (default: the documented 10)",
    )
    parser.add_argument("--data-dir", default=os.environ.get("DIGITREC_DATA_DIR") or None)
    parser.add_argument("--no-verify-checksums", dest="verify", action="store_false")
    parser.add_argument(
        "--results-dir", default=os.environ.get("DIGITREC_RESULTS_DIR") or "results"
    )
    parser.add_argument("--work-dir", type=Path, help="default <results-dir>/parity/<machine>/work")
    args = parser.parse_args(argv)
    for name in ("seeds", "lockstep_epochs", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.backends import environment_for

    os.environ.update(environment_for(args.backend, "cpu"))
    import keras

    from bench import backends, parity_training
    from bench.workflow import BackendMismatchError, check_backend
    from digitrec_core import metrics, train
    from digitrec_core.data import load_mnist
    from digitrec_core.idx import DataFileError
    from digitrec_core.preprocess import preprocess

    support = backends.load(args.backend)
    try:
        check_backend(RunConfig(backend=args.backend), support)
        data = preprocess(load_mnist(args.data_dir, verify_checksums=args.verify))
    except (DataFileError, BackendMismatchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    machine = machine_info()
    work_dir = args.work_dir or work_dir_for(args.results_dir, machine["id"])
    work_dir.mkdir(parents=True, exist_ok=True)
    model_path = trained_model_path(work_dir, args.trainer)
    if args.backend != args.trainer and not model_path.exists():
        print(
            f"error: {model_path} does not exist: run the trainer's parity runs first "
            f"(nox -s \"parity_runs(backend='{args.trainer}')\", or nox -s parity for all)",
            file=sys.stderr,
        )
        return 2

    statistical = []
    for seed in range(args.seeds):
        model, init_hash = parity_training.initialised_model(seed)
        keras.utils.set_random_seed(seed)  # dropout masks stay the backend's own
        parity_training.train_in_order(model, data, seed=seed, epochs=args.epochs)
        loss, accuracy = train.evaluate(model, data, batch_size=parity_training.BATCH_SIZE)
        predicted = train.predict(model, data.x_test, batch_size=512).argmax(axis=1)
        summary = metrics.classification_summary(data.test_labels, predicted)
        statistical.append(
            {
                "seed": seed,
                "initial_weights_sha256": init_hash,
                "test_accuracy": accuracy,
                "test_loss": loss,
                "confusion_matrix": summary["confusion_matrix"],
            }
        )
        print(
            f"statistical: seed {seed}: test accuracy {accuracy:.4f} (init {init_hash[:12]})",
            flush=True,
        )
        if seed == 0 and args.backend == args.trainer:
            model.save(model_path)
            print(f"saved the seed-0 model to {model_path}")

    lockstep_model, lockstep_hash = parity_training.initialised_model(
        0, dropout_rate=0.0, same_loss_path=True
    )
    lockstep = parity_training.lockstep_outputs(
        lockstep_model, data, seed=0, epochs=args.lockstep_epochs
    )
    lockstep_path = work_dir / f"lockstep-{args.backend}.npz"
    np.savez(lockstep_path, **lockstep)
    print(f"lockstep: {args.lockstep_epochs} epochs, outputs in {lockstep_path}")

    loaded = keras.saving.load_model(model_path)
    probabilities = train.predict(loaded, data.x_test, batch_size=512)
    predictions_path = work_dir / f"predict-everywhere-{args.backend}.npy"
    np.save(predictions_path, probabilities)
    print(f"predict everywhere: {model_path.name} predicted under {args.backend}")

    record = {
        "backend": args.backend,
        "created_utc": datetime.now(UTC).isoformat(),
        "versions": {"keras": keras.__version__, "framework": support.framework_version()},
        "machine": machine,
        "statistical": {"epochs": args.epochs, "runs": statistical},
        "lockstep": {
            "epochs": args.lockstep_epochs,
            "initial_weights_sha256": lockstep_hash,
            "outputs": lockstep_path.name,
        },
        "predict_everywhere": {
            "trainer": args.trainer,
            "model": model_path.name,
            "probabilities": predictions_path.name,
        },
        "test_labels": data.test_labels.tolist(),
    }
    write_text_atomically(work_dir / f"{args.backend}.json", json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
