import json
from datetime import UTC, datetime

import numpy as np
import pytest

from digitrec_core.results import (
    OPTIONAL,
    REQUIRED_KEYS,
    SCHEMA,
    SCHEMA_VERSION,
    ResultFileError,
    build_record,
    decode_images,
    encode_images,
    iter_result_paths,
    read_result,
    schema_problems,
    write_result,
)
from tests.report_fixtures import make_group, make_result


def minimal_result(**overrides):
    result = {key: {} for key in REQUIRED_KEYS}
    result.update(
        schema_version=SCHEMA_VERSION, run_id="r1", created_utc="2026-01-01T00:00:00", backend="jax"
    )
    result.update(overrides)
    return result


def test_write_then_read_round_trips(tmp_path):
    path = write_result(minimal_result(metrics={"test_accuracy": 0.97}), tmp_path / "a" / "r.json")
    assert read_result(path)["metrics"] == {"test_accuracy": 0.97}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp file left behind
    assert path.stat().st_mode & 0o777 == 0o644


def test_existing_result_is_never_overwritten(tmp_path):
    path = write_result(minimal_result(run_id="first"), tmp_path / "r.json")
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_result(minimal_result(run_id="second"), path)
    assert read_result(path)["run_id"] == "first"


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_result(minimal_result(metrics={"test_loss": float("nan")}), tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON file"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"schema_version": 99}), "schema_version 99, this digitrec reads 2, 3, 4"),
        (json.dumps({"schema_version": 1}), "schema_version 1, this digitrec reads 2, 3, 4"),
        (json.dumps({"schema_version": 2, "run_id": "x"}), "missing keys"),
        (json.dumps({"schema_version": 3, "run_id": "x"}), "missing keys"),
    ],
)
def test_bad_files_are_named_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match=message) as caught:
        read_result(path)
    assert str(path) in str(caught.value)


def test_images_survive_encoding():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(2, 28, 28)
    packed = json.loads(json.dumps(encode_images(images)))
    np.testing.assert_array_equal(decode_images(packed), images)


def test_result_paths_are_found_under_runs(tmp_path):
    write_result(minimal_result(), tmp_path / "runs" / "m1" / "b.json")
    write_result(minimal_result(), tmp_path / "runs" / "m2" / "a.json")
    (tmp_path / "other.json").write_text("{}")
    assert [p.parent.name for p in iter_result_paths(tmp_path)] == ["m1", "m2"]


def test_the_fixtures_follow_the_documented_schema():
    created = datetime(2026, 3, 1, 12, tzinfo=UTC)
    single = make_result("jax", accuracy=0.97, created_utc=created)
    [tuned] = make_group("torch", profile="tuned", steady_seconds=[1.0], created_utc=created)
    assert schema_problems(single) == schema_problems(tuned) == []
    assert list(single) == list(SCHEMA)  # in the documented order


def test_every_documented_key_is_required_and_described():
    assert tuple(SCHEMA) == REQUIRED_KEYS
    for key, section in SCHEMA.items():
        meanings = section.values() if isinstance(section, dict) else [section]
        assert all(meaning.removeprefix(OPTIONAL).strip() for meaning in meanings), key


def test_a_record_off_the_schema_is_refused_with_what_differs():
    record = make_result("jax", accuracy=0.97, created_utc=datetime(2026, 3, 1, tzinfo=UTC))
    sections = {key: value for key, value in record.items() if key != "schema_version"}
    assert build_record(**sections) == record
    del sections["command"]
    sections["memory"] = {"peak_rss_mib": 1.0}
    sections["timings"] = {**sections["timings"], "wall_clock": 1.0}
    sections["extra"] = 1
    with pytest.raises(ValueError) as refused:
        build_record(**sections)
    message = str(refused.value)
    for problem in ("missing 'command'", "undocumented 'extra'", "missing memory.'peak_gpu_mib'",
                    "undocumented timings.'wall_clock'"):  # fmt: skip
        assert problem in message
    assert "predict_latency_p50_ms" not in message  # optional keys may be absent


def test_a_version_2_record_is_read_as_the_mlp_workload(tmp_path):
    record = make_result("jax", accuracy=0.97, created_utc=datetime(2026, 3, 1, tzinfo=UTC))
    del record["workload"]
    path = write_result({**record, "schema_version": 2}, tmp_path / "v2.json")
    read = read_result(path)
    assert read["schema_version"] == 3 and SCHEMA_VERSION == 5  # read as version 3 was
    assert read["workload"]["name"] == "mlp" and read["workload"]["definition_sha256"] is None
    assert read["workload"]["settings"]["epochs"] == 10
    assert schema_problems(read) == []
