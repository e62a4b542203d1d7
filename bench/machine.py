"""Facts about the machine and the checkout a run happens on (no framework imports)."""

import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


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
    """Describe this machine; `id` is a stable, readable key for grouping results by machine."""
    model = cpu_model()
    logical = os.cpu_count() or 0
    gpus = nvidia_gpus()
    machine_id = f"{slug(model)[:40]}-{logical}c"
    if gpus:
        machine_id += f"-{len(gpus)}x{slug(gpus[0]['name'])[:30]}"
    return {
        "id": machine_id,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_cores_logical": logical,
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": gpus,
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
