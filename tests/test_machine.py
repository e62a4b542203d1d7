import pytest

from bench.host import machine
from bench.host.machine import (
    cpu_model,
    cpuinfo,
    fingerprint_hash,
    git_info,
    hardware_fingerprint,
    machine_info,
    slug,
)

GENOA = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512_bf16 avx512_vnni sha_ni

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: something else entirely
"""
MILAN = (
    GENOA.replace("model\t\t: 17", "model\t\t: 1")
    .replace("cpu family\t: 25", "cpu family\t: 25")
    .replace(" avx512f avx512_bf16 avx512_vnni", "")
)
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes sve sve2
CPU implementer\t: 0x41
CPU variant\t: 0x0
CPU part\t: 0xd4f
"""


def fingerprint(text: str, **changes) -> dict:
    facts = cpuinfo(text)
    options = {"logical": 2, "physical": 2, "memory_gib": 23.5, "gpus": [], **changes}
    return hardware_fingerprint(facts, cpu_model(facts), **options)


def test_cpuinfo_reads_the_first_processor_only():
    facts = cpuinfo(GENOA)
    assert facts["vendor"] == "AuthenticAMD" and facts["model_name"] == "AMD EPYC"
    assert (facts["family"], facts["model"], facts["stepping"]) == ("25", "17", "1")
    assert "avx512_bf16" in facts["flags"]


def test_the_fingerprint_keeps_the_isa_flags_that_matter_for_gemm():
    assert fingerprint(GENOA)["isa"] == [
        "avx", "avx2", "avx512_bf16", "avx512_vnni", "avx512f", "fma"
    ]  # fmt: skip
    arm = fingerprint(ARM)
    assert arm["isa"] == ["asimd", "sve", "sve2"]
    assert (arm["cpu_vendor"], arm["cpu_model_number"]) == ("0x41", "0xd4f")


@pytest.mark.parametrize(
    "other",
    [
        fingerprint(MILAN),  # same name "AMD EPYC", another model and ISA
        fingerprint(GENOA.replace("stepping\t: 1", "stepping\t: 2")),
        fingerprint(GENOA, logical=4, physical=4),
        fingerprint(GENOA, memory_gib=64.0),
        fingerprint(GENOA, gpus=[{"name": "NVIDIA H100", "memory_mib": 81559, "driver": "1"}]),
        fingerprint(GENOA.replace("AMD EPYC", "AMD EPYC 9654")),
    ],
    ids=["model-and-isa", "stepping", "cores", "memory", "gpu", "model-name"],
)
def test_machines_that_differ_in_hardware_get_different_hashes(other):
    assert fingerprint_hash(other) != fingerprint_hash(fingerprint(GENOA))


def test_the_same_hardware_keeps_its_hash_despite_small_memory_differences():
    assert fingerprint_hash(fingerprint(GENOA, memory_gib=23.4)) == fingerprint_hash(
        fingerprint(GENOA, memory_gib=23.5)
    )


def test_machine_id_is_readable_and_ends_in_the_fingerprint_hash(monkeypatch):
    info = machine_info()
    assert info["cpu_cores_logical"] >= 1 and info["memory_gib"] > 0
    assert info["id"] == slug(info["id"])
    assert info["id"].endswith(
        f"-{info['cpu_cores_logical']}c-{fingerprint_hash(info['fingerprint'])}"
    )
    monkeypatch.setattr(machine.socket, "gethostname", lambda: "another-host")
    assert machine_info()["id"] == info["id"]  # the host name is not hardware


def test_git_info_describes_this_checkout():
    git = git_info()
    assert git["commit"] is None or len(git["commit"]) == 40
