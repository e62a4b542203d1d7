"""Workloads: the built-ins, a user's own through package.module:name, and what a bad one says."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitrec_core.workloads import (
    BUILT_IN,
    CONVNET,
    MLP,
    Workload,
    WorkloadError,
    load_workload,
)
from tests.report_fixtures import clone_parity_runs

REPO = Path(__file__).resolve().parents[1]
ACTIVE = os.environ.get("KERAS_BACKEND", "")

# A workload as a user writes it, in their own package outside digitrec (docs/workloads.md,
# "Your own workload"): a smaller MLP.
USER_WORKLOAD = """
import numpy as np

from digitrec_core.workloads import Workload


def build_model():
    import keras

    return keras.Sequential(
        [keras.Input(shape=(784,)), keras.layers.Dense(32, activation="relu"),
         keras.layers.Dense(10, activation="softmax")],
        name="tiny_mlp",
    )


def flatten(images):
    return images.reshape(len(images), 784).astype(np.float32) / np.float32(255)


TINY = Workload(
    name="tiny-mlp",
    description="one hidden layer of 32",
    build_model=build_model,
    prepare_images=flatten,
    epochs=2,
    batch_size=64,
)


class NotAWorkload:
    name = "half"
    epochs = 0
"""


@pytest.fixture
def user_package(tmp_path) -> Path:
    package = tmp_path / "user_code" / "my_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "workloads.py").write_text(USER_WORKLOAD)
    return tmp_path / "user_code"


def test_built_ins_are_named_and_the_mlp_is_the_documented_model():
    assert set(BUILT_IN) == {"mlp", "convnet"}
    assert load_workload("mlp") is MLP and load_workload("convnet") is CONVNET
    assert (MLP.epochs, MLP.batch_size, MLP.optimizer) == (10, 512, "adam")
    assert (CONVNET.epochs, CONVNET.batch_size, CONVNET.loss) == (
        3,
        128,
        "categorical_crossentropy",
    )


def test_the_convnet_takes_images_with_a_channel_axis_in_zero_one():
    images = np.array([np.full((28, 28), 255), np.zeros((28, 28))], np.uint8)
    prepared = CONVNET.prepare_images(images)
    assert prepared.shape == (2, 28, 28, 1) and prepared.dtype == np.float32
    assert prepared.max() == 1.0 and prepared.min() == 0.0
    with pytest.raises(ValueError, match=r"uint8 of shape \(n, 28, 28\)"):
        CONVNET.prepare_images(images.astype(np.float32))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("resnet", "unknown workload 'resnet': choose one of ['convnet', 'mlp']"),
        ("no_such_package.models:M", "cannot import 'no_such_package.models'"),
        ("my_models.workloads:MISSING", "module 'my_models.workloads' has no 'MISSING'"),
        (
            "my_models.workloads:NotAWorkload",
            "is not a digitrec workload: description (str) is missing or a NoneType; "
            "build_model (a function) is missing",
        ),
    ],
)
def test_a_workload_that_does_not_fit_is_named_with_what_is_missing(
    monkeypatch, user_package, spec, message
):
    monkeypatch.syspath_prepend(str(user_package))
    with pytest.raises(WorkloadError) as refused:
        load_workload(spec)
    assert message in str(refused.value)
    if spec.endswith("NotAWorkload"):
        assert "epochs must be a positive integer, got 0" in str(refused.value)
        assert "docs/workloads.md, 'Your own workload'" in str(refused.value)


def test_a_user_workload_loads_from_its_own_package(monkeypatch, user_package):
    monkeypatch.syspath_prepend(str(user_package))
    workload = load_workload("my_models.workloads:TINY")
    assert isinstance(workload, Workload) and workload.name == "tiny-mlp"
    assert workload.settings()["tolerances"]["accuracy"] == 0.004


@pytest.mark.backend
@pytest.mark.slow
def test_a_user_workload_runs_end_to_end_through_the_suite_and_the_report(
    tmp_path, tiny_mnist_dir, user_package
):
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(user_package), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "bench.suite", "--backends", ACTIVE, "--python", sys.executable,
         "--min-rounds", "2", "--max-rounds", "2", "--profiles", "default",
         "--results-dir", str(results),
         "--workload", "my_models.workloads:TINY", "--data-dir", str(tiny_mnist_dir),
         "--no-verify-checksums"],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(path.read_text()) for path in results.glob("runs/*/*.json")]
    assert len(runs) == 2
    for run in runs:
        assert run["workload"]["name"] == "tiny-mlp"
        assert run["workload"]["spec"] == "my_models.workloads:TINY"
        assert run["config"]["epochs"] == 2 and run["config"]["batch_size"] == 64
        assert run["model"]["parameters"] == 784 * 32 + 32 + 32 * 10 + 10
        assert run["roofline"]["flops_per_sample"] == 2 * 2 * (784 * 32 + 32 * 10) + 2 * 32 * 10
    [definition] = {run["workload"]["definition_sha256"] for run in runs}
    assert len(definition) == 64

    # Parity: this backend's real runs, copied into the other backends' slots (one virtualenv
    # holds one backend), then the verdict of the user's workload.
    parity = [
        sys.executable, "-m", "bench.parity.runs", "--backend", ACTIVE, "--trainer", ACTIVE,
        "--workload", "my_models.workloads:TINY", "--seeds", "3", "--lockstep-epochs", "1",
        "--session", "s1", "--results-dir", str(results), "--data-dir", str(tiny_mnist_dir),
        "--no-verify-checksums",
    ]  # fmt: skip
    done = subprocess.run(parity, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    [work] = results.glob("parity/*/work/tiny-mlp")
    record = json.loads((work / f"{ACTIVE}.json").read_text())
    assert record["config"]["workload"] == "tiny-mlp" and record["config"]["batch_size"] == 64
    assert record["config"]["epochs"] == 2  # the workload's
    clone_parity_runs(work, ACTIVE)
    verdict = [
        sys.executable, "-m", "bench.parity", "--workload", "my_models.workloads:TINY",
        "--session", "s1", "--results-dir", str(results),
    ]  # fmt: skip
    done = subprocess.run(verdict, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "parity PASS" in done.stdout
    assert len(list(results.glob("parity/*/*-parity-tiny-mlp.json"))) == 1

    report = subprocess.run(
        [sys.executable, "-m", "bench.report", "--results-dir", str(results), "--debug"],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    text = (results / "report.md").read_text()
    assert "for the workload `tiny-mlp`" in text
    assert (
        "statistical **PASS** · teacher-forced steps **PASS** · predict everywhere **PASS**" in text
    )


@pytest.mark.backend
def test_the_definition_hash_depends_on_the_architecture_not_on_compile_settings():
    from bench.run.workflow import model_config
    from digitrec_core.model import compile_model
    from digitrec_core.workloads import definition_sha256

    def digest(workload, **settings):
        model = compile_model(workload.build_model(), **settings)
        return definition_sha256(workload, model_config(model))

    assert digest(MLP, jit_compile=True) == digest(MLP, jit_compile=False)
    assert digest(MLP) != digest(CONVNET)
    # JAX, torch and TensorFlow all gave 5b201478… for the MLP when this was written.
