import os

import keras
import pytest

from bench import backends
from digitrec_core.config import FRAMEWORK_MODULE, RunConfig
from digitrec_core.model import build_model

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]


def test_cpu_environment_hides_gpus_and_selects_the_backend():
    env = backends.environment_for("jax", "cpu")
    assert env == {"KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    assert "CUDA_VISIBLE_DEVICES" not in backends.environment_for("torch", "gpu")


def test_thread_limits_size_torchs_pool_and_set_no_flag_that_xla_ignores():
    assert backends.environment_for("torch", "cpu", threads=1)["OMP_NUM_THREADS"] == "1"
    # XLA has no CPU thread-count flag: one that looks like it did nothing (issue 8).
    assert "XLA_FLAGS" not in backends.environment_for("jax", "cpu", threads=1)
    assert backends.environment_for("jax", "cpu", threads=2) == backends.environment_for(
        "jax", "cpu"
    )


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")
@pytest.mark.parametrize("threads", [0, 10_000])
def test_restrict_to_cores_refuses_more_cores_than_allowed_or_none(threads):
    with pytest.raises(ValueError, match="--threads must be between 1 and the"):
        backends.restrict_to_cores(threads)


def test_speed_settings_of_the_active_backend_are_plain_data():
    settings = backends.load(ACTIVE).speed_settings()
    assert settings and all(isinstance(v, (str, int, bool, type(None))) for v in settings.values())
    assert backends.load(ACTIVE).peak_gpu_memory_bytes() is None  # no GPU in these tests


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.environment_for("mxnet", "cpu")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cpu", "cpu"),
        ("cuda:0", "gpu"),
        ("/job:localhost/replica:0/task:0/device:GPU:0", "gpu"),
        ("TFRT_CPU_0", "cpu"),
        ("cuda(id=0)", "gpu"),
    ],
)
def test_device_kind(name, kind):
    assert backends.device_kind(name) == kind


def test_support_module_of_the_active_backend_works_on_a_model():
    support = backends.load(ACTIVE)
    assert support.FRAMEWORK == ACTIVE and support.framework_version()
    model = build_model()
    assert backends.device_kind(support.variable_device(model)) == "cpu"
    support.synchronize(model)


def test_run_refuses_a_backend_keras_is_not_running():
    from bench.run.workflow import BackendMismatchError, check_backend

    other = next(b for b in ("tensorflow", "jax", "torch") if b != keras.backend.backend())
    with pytest.raises(
        BackendMismatchError, match=f"running backend '{ACTIVE}'.*asked for '{other}'"
    ):
        check_backend(RunConfig(backend=other), backends.load(ACTIVE))
    check_backend(RunConfig(backend=ACTIVE), backends.load(ACTIVE))


def test_gpu_run_is_refused_without_a_gpu():
    from bench.run.workflow import BackendMismatchError, check_backend

    support = backends.load(ACTIVE)
    if support.visible_gpus():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendMismatchError, match="sees no GPU"):
        check_backend(RunConfig(backend=ACTIVE, device="gpu"), support)


def test_synchronize_puts_queued_asynchronous_work_inside_the_clock():
    from bench.run.timing import time_call

    if ACTIVE != "jax":
        pytest.skip(f"{ACTIVE} runs CPU ops synchronously: there is no queued work to wait for")
    support = backends.load(ACTIVE)
    model = build_model()
    kernel = model.weights[0]

    def dispatch():
        # JAX returns from each op at once and computes in the background.
        big = keras.ops.ones((1000, 1000))
        for _ in range(12):
            big = keras.ops.matmul(big, big) / 1000.0
        kernel.assign(big[:784, :128])

    dispatch()
    support.synchronize(model)  # warm up the compiled ops
    _, without_sync = time_call(dispatch, lambda: None)
    support.synchronize(model)
    _, with_sync = time_call(dispatch, lambda: support.synchronize(model))
    # ~12 GFLOP of matmuls: only a real wait makes the timed region several times longer.
    assert with_sync > 3 * without_sync
    assert kernel.value.is_ready()


def test_tf32_is_off_on_gpu_unless_asked_for():
    assert backends.environment_for("torch", "gpu")["NVIDIA_TF32_OVERRIDE"] == "0"
    assert "NVIDIA_TF32_OVERRIDE" not in backends.environment_for("torch", "gpu", tf32=True)
    assert "NVIDIA_TF32_OVERRIDE" not in backends.environment_for("jax", "cpu")


TF32_FLAGS = {
    "tensorflow": lambda s: s["tf32_execution"],
    "jax": lambda s: s["default_matmul_precision"] == "tensorfloat32",
    "torch": lambda s: s["tf32_matmul"] and s["float32_matmul_precision"] == "high",
}


def test_configure_tf32_is_what_the_framework_then_reports():
    support = backends.load(ACTIVE)
    try:
        support.configure_tf32(True)
        assert TF32_FLAGS[ACTIVE](support.speed_settings()) is True
        support.configure_tf32(False)
        assert TF32_FLAGS[ACTIVE](support.speed_settings()) is False
    finally:
        support.configure_tf32(False)


def test_device_report_is_plain_data_and_sees_no_gpu_here():
    import json

    report = backends.load(ACTIVE).device_report()
    json.dumps(report)
    gpus = report.get("visible_gpus", report.get("gpus"))
    assert gpus == []


def test_every_support_module_implements_the_backend_protocol(monkeypatch):
    support = backends.load(ACTIVE)
    for name in backends.BACKEND_MEMBERS:
        assert hasattr(support, name), name
    assert FRAMEWORK_MODULE[ACTIVE] == support.FRAMEWORK
    monkeypatch.delattr(support, "synchronize")
    with pytest.raises(TypeError, match=r"lacks \['synchronize'\] of the Backend protocol"):
        backends.load(ACTIVE)
