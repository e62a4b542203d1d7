"""Facts about the machine and the checkout a run happens on (no framework imports)."""

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import psutil

# ISA extensions that change how fast float32 and bf16 GEMMs can run (x86 and Arm names).
ISA_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_vnni",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
    "sve2",
)
CPUINFO_FIELDS = {
    "vendor_id": "vendor",
    "cpu family": "family",
    "model": "model",
    "model name": "model_name",
    "stepping": "stepping",
    "cpu implementer": "vendor",  # Arm
    "cpu part": "model",
    "cpu variant": "stepping",
}


def cpuinfo(text: str | None = None) -> dict[str, Any]:
    """The first processor of /proc/cpuinfo (or `text`): vendor, family, model, stepping, flags.

    Empty where there is no /proc/cpuinfo (macOS, Windows).
    """
    if text is None:
        path = Path("/proc/cpuinfo")
        text = path.read_text(errors="replace") if path.exists() else ""
    facts: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            if facts:
                break  # the first processor is enough: every core of a machine is alike
            continue
        key, _, value = (part.strip() for part in line.partition(":"))
        key = key.lower()
        if key in CPUINFO_FIELDS and CPUINFO_FIELDS[key] not in facts:
            facts[CPUINFO_FIELDS[key]] = value
        elif key in ("flags", "features"):
            facts["flags"] = value.split()
    return facts


def cpu_model(facts: dict[str, Any] | None = None) -> str:
    """The CPU's model name, from /proc/cpuinfo (or `facts` read from it) where there is one."""
    facts = cpuinfo() if facts is None else facts
    return facts.get("model_name") or platform.processor() or platform.machine()


def hardware_fingerprint(
    facts: dict[str, Any],
    model: str,
    logical: int,
    physical: int | None,
    memory_gib: float,
    gpus: list,
) -> dict[str, Any]:
    """What makes two machines' speed differ, as far as the hardware shows it."""
    flags = set(facts.get("flags", []))
    return {
        "cpu_vendor": facts.get("vendor"),
        "cpu_family": facts.get("family"),
        "cpu_model_number": facts.get("model"),
        "cpu_stepping": facts.get("stepping"),
        "cpu_model": model,
        "architecture": platform.machine(),
        "isa": sorted(flags & set(ISA_FLAGS)),
        "cpu_cores_logical": logical,
        "cpu_cores_physical": physical,
        # To the nearest 4 GiB: what the kernel reserves varies a little between equal hosts.
        "memory_gib": 4 * round(memory_gib / 4),
        "gpus": [{"name": gpu["name"], "memory_mib": gpu["memory_mib"]} for gpu in gpus],
    }


def fingerprint_hash(fingerprint: dict[str, Any]) -> str:
    """Eight hex digits that change whenever any field of `fingerprint` does."""
    text = json.dumps(fingerprint, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def nvidia_gpus() -> list[dict[str, Any]]:
    """GPUs reported by nvidia-smi (name, driver, memory); empty when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = "--query-gpu=name,driver_version,memory.total"
    try:
        out = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, driver, memory_mib = (field.strip() for field in line.split(","))
        gpus.append({"name": name, "driver": driver, "memory_mib": int(float(memory_mib))})
    return gpus


def slug(text: str) -> str:
    """Lower-case `text` to letters, digits and single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def machine_info() -> dict[str, Any]:
    """Describe this machine; `id` groups results: one id, one kind of hardware.

    The id is readable (CPU name, cores, GPUs) and ends in the hash of the hardware
    fingerprint, so two machines sold under one CPU name but with another family, model,
    stepping, ISA, core count, memory or GPU get different ids. Host speed, which the
    fingerprint cannot see, is measured by the neutral GEMM probe of each invocation.
    """
    facts = cpuinfo()
    model = cpu_model(facts)
    logical = os.cpu_count() or 0
    physical = psutil.cpu_count(logical=False)
    memory_gib = psutil.virtual_memory().total / 2**30
    gpus = nvidia_gpus()
    fingerprint = hardware_fingerprint(facts, model, logical, physical, memory_gib, gpus)
    machine_id = f"{slug(model)[:40]}-{logical}c"
    if gpus:
        machine_id += f"-{len(gpus)}x{slug(gpus[0]['name'])[:30]}"
    machine_id += f"-{fingerprint_hash(fingerprint)}"
    return {
        "id": machine_id,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_cores_logical": logical,
        "cpu_cores_physical": physical,
        "memory_gib": round(memory_gib, 1),
        "gpus": gpus,
        "fingerprint": fingerprint,
    }


def git_info(repo_dir: str | Path = ".") -> dict[str, Any]:
    """The checkout's commit and whether it has uncommitted changes (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", "-C", str(repo_dir), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    # results/ is where runs write, so it does not count as a change to the code being measured.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")
    if commit is None:
        status = None
    return {"commit": commit, "dirty": None if status is None else bool(status)}
