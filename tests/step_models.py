"""A small model with convolution, pooling and BatchNorm for the step checks' tests, and the
helpers that take teacher-forced steps with it; `python -m tests.step_models` (under
KERAS_BACKEND=tensorflow) writes the committed reference that other backends are held to."""

import os
import sys
from pathlib import Path

from digitrec_core.workloads import Workload
from digitrec_core.workloads.convnet import scale_with_channel

FIXTURE = Path(__file__).parent / "data" / "steps-tensorflow"
FIXTURE_STEPS = (1, 2, 5)  # of the tiny data's 10 steps at batch 64
FIXTURE_SAMPLES = 2  # the localizer's samples, few to keep the committed file small


def build_small_convnet():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(2, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ],
        name="small_convnet",
    )


SMALL_CONVNET = Workload(
    name="small-convnet",
    description="Conv2D 2 3×3 relu → MaxPool 2 → BatchNorm → Flatten → Dense 10 softmax",
    build_model=build_small_convnet,
    prepare_images=scale_with_channel,
    epochs=1,
    batch_size=64,
)


def lockstep_model(workload, optimizer=None):
    from bench.parity import training

    model, _ = training.initialised_model(
        0, workload=workload, dropout_rate=0.0, same_loss_path=True, optimizer=optimizer
    )
    return model


def reference_run(workload, data, path: Path, vjp, *, steps=None, samples=None, optimizer=None):
    """The reference's free-running epoch, its states saved to `path` (only `steps`, if given),
    then its own teacher-forced steps: (outputs by step, record part)."""
    from bench.parity import teacher, trajectory
    from bench.parity.stepping import KerasStepper

    model = lockstep_model(workload, optimizer)
    kept = trajectory.free_running_epoch(
        KerasStepper(model, vjp), model, data.x_train, data.y_train,
        seed=0, batch_size=workload.batch_size, vjp=vjp, reference=True,
        **({} if samples is None else {"samples": samples}),
    )  # fmt: skip
    if steps is not None:
        kept.states = {s: kept.states[s] for s in steps}
    teacher.save_reference(path, kept)
    return candidate_run(
        workload, data, path, vjp, optimizer=optimizer, noise_draws=teacher.NOISE_DRAWS
    )


def candidate_run(workload, data, path: Path, vjp, *, optimizer=None, change=None, noise_draws=0):
    """Every saved step taken again from the reference's states; `change(model)` mutates the
    fresh model first. Returns (outputs by step, record part, tensor names)."""
    from bench.parity import teacher
    from bench.parity.stepping import KerasStepper

    model = lockstep_model(workload, optimizer)
    if change is not None:
        change(model)
    stepper = KerasStepper(model, vjp)
    outputs, kept = teacher.take_steps(
        stepper, model, data.x_train, data.y_train, teacher.load_reference(path),
        seed=0, batch_size=workload.batch_size, vjp=vjp, noise_draws=noise_draws,
    )  # fmt: skip
    return outputs, kept, stepper.names.as_dict()


def write_fixture(mnist_dir: Path) -> None:
    """The committed TensorFlow reference: states, localizer records and outputs."""
    from bench import backends
    from bench.parity import teacher
    from digitrec_core.data import load_mnist
    from digitrec_core.preprocess import prepare

    data = prepare(load_mnist(mnist_dir, verify_checksums=False), scale_with_channel)
    FIXTURE.mkdir(parents=True, exist_ok=True)
    vjp = backends.load("tensorflow").vjp
    outputs, _, _ = reference_run(
        SMALL_CONVNET, data, FIXTURE / "states.npz", vjp,
        steps=FIXTURE_STEPS, samples=FIXTURE_SAMPLES,
    )  # fmt: skip
    teacher.save_outputs(FIXTURE / "outputs.npz", outputs)


if __name__ == "__main__":
    if os.environ.get("KERAS_BACKEND") != "tensorflow":
        sys.exit("run this under KERAS_BACKEND=tensorflow: the fixture is TensorFlow's")
    import tempfile

    from tests.conftest import write_mnist_dir

    with tempfile.TemporaryDirectory() as folder:
        write_fixture(write_mnist_dir(Path(folder)))
    print(f"wrote {FIXTURE}")
