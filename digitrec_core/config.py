"""The configuration of one benchmark run: plain, frozen data, recorded verbatim in the result."""

from dataclasses import asdict, dataclass
from typing import Any

BACKENDS = ("tensorflow", "jax", "torch")
DEVICES = ("cpu", "gpu")
# The module each backend imports, and the distribution whose version decides its numbers.
FRAMEWORK_MODULE = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
FRAMEWORK_DISTRIBUTION = {"tensorflow": "tensorflow", "jax": "jaxlib", "torch": "torch"}
# Keras dtype policies a run may train under; float32 is the documented one.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# A lower precision is a profile of its own: the default settings at that precision, judged
# by the accuracy it keeps (bench.analysis.precision). Each profile's precision:
LOWER_PRECISION_PROFILES = {"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
PRECISION_PROFILE = {precision: profile for profile, precision in LOWER_PRECISION_PROFILES.items()}
PROFILES = ("default", "tuned", *LOWER_PRECISION_PROFILES)
# What trains the model: Keras, or a native reference of the framework alone (the MLP only;
# "native-compiled" is torch.compile, torch only). See bench.backends.native.
IMPLEMENTATIONS = ("keras", "native", "native-compiled")


@dataclass(frozen=True)
class RunConfig:
    """What one run does. Defaults are the documented workflow (10 epochs at batch 512)."""

    backend: str
    device: str = "cpu"
    workload: str = "mlp"  # a built-in name or "package.module:name" (digitrec_core.workloads)
    seed: int = 0
    epochs: int = 10
    batch_size: int = 512
    predict_batch_size: int = 512
    train_samples: int | None = None
    test_samples: int | None = None
    quick: bool = False
    jit_compile: bool | str = "auto"
    steps_per_execution: int = 1
    threads: int | None = None
    tf32: bool = False
    precision: str = "float32"
    profile: str = "default"
    implementation: str = "keras"
    data_dir: str | None = None
    verify_checksums: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        for name in ("epochs", "batch_size", "predict_batch_size", "steps_per_execution"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        expected = LOWER_PRECISION_PROFILES.get(self.profile, "float32")
        if self.precision != expected:
            named = PRECISION_PROFILE.get(self.precision, "default")
            raise ValueError(
                f"profile {self.profile!r} trains at {expected}, got precision "
                f"{self.precision!r}: a precision is a profile of its own, so pass --profile "
                f"{named} (or leave --profile out)"
            )
        if self.backend == "torch" and self.steps_per_execution != 1:
            raise ValueError(
                f"steps_per_execution must be 1 with the torch backend (Keras refuses more), "
                f"got {self.steps_per_execution}"
            )
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {IMPLEMENTATIONS}, got {self.implementation!r}"
            )
        if self.implementation != "keras":
            keras_only = {
                "profile": (self.profile, "default"),
                "jit_compile": (self.jit_compile, "auto"),
                "steps_per_execution": (self.steps_per_execution, 1),
            }
            changed = [f"--{name.replace('_', '-')} {value[0]}" for name, value in
                       keras_only.items() if value[0] != value[1]]  # fmt: skip
            if changed:
                raise ValueError(
                    f"a native reference runs its framework's own defaults; {', '.join(changed)} "
                    "are Keras settings: leave them out with --implementation "
                    f"{self.implementation}"
                )
        if self.implementation == "native-compiled" and self.backend != "torch":
            raise ValueError(
                "implementation 'native-compiled' (torch.compile) exists for torch only; "
                f"{self.backend}'s native reference is compiled already: use 'native'"
            )
        for name in ("train_samples", "test_samples", "threads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto', got {self.jit_compile!r}")

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-safe dict."""
        return asdict(self)
