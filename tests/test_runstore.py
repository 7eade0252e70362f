import json

import pytest

from vrbench.errors import VRBenchError
from vrbench.files import append_jsonl, atomic_write_json, iter_jsonl
from vrbench.runstore import latest_generations, safe_name, update_manifest


def test_append_after_a_torn_line_keeps_the_file_valid(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, [{"a": 1}])
    with open(path, "a") as f:
        f.write('{"a": 2, "b"')  # a crash mid-append
    assert [r for _, r in iter_jsonl(path)] == [{"a": 1}]  # readers skip the torn tail
    append_jsonl(path, [{"a": 3}])
    assert [r for _, r in iter_jsonl(path)] == [{"a": 1}, {"a": 3}]
    assert path.read_text() == '{"a": 1}\n{"a": 3}\n'


def test_bad_json_in_the_middle_is_a_file_line_error(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{oops\n{"a": 3}\n')
    with pytest.raises(VRBenchError, match=r"rows.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))


def test_atomic_json_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"k": [1, 2]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"k": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "y.json", {"nan": float("nan")})
    assert not (tmp_path / "y.json").exists() and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_update_manifest(tmp_path):
    update_manifest(tmp_path, lambda m: m.setdefault("judges", {}).update(a=1))
    update_manifest(tmp_path, lambda m: m["judges"].update(b=2))
    assert json.loads((tmp_path / "run.json").read_text()) == {"judges": {"a": 1, "b": 2}}


def test_latest_generation_row_wins(tmp_path):
    append_jsonl(tmp_path / "generations.jsonl", [
        {"case": "ETV-01", "seed": 0, "error": "CUDA out of memory"},
        {"case": "ETV-01", "seed": 0, "video": "videos/ETV-01-s0.mp4"},
    ])
    assert latest_generations(tmp_path)[("ETV-01", 0)]["video"] == "videos/ETV-01-s0.mp4"


@pytest.mark.parametrize("name,expected", [("wan2.1-t2v-14b", "wan2.1-t2v-14b"), ("../../etc/passwd", "etc_passwd"),
                                           ("<script>alert(1)</script>", "script_alert_1_script"), ("..", "unnamed")])
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_user_text_files_fail_in_one_line(tmp_path):
    from vrbench.agreement import read_human_labels

    bad = tmp_path / "latin1.csv"
    bad.write_bytes("model,score\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(VRBenchError, match=r"latin1.csv: expected UTF-8 CSV$"):
        read_human_labels(bad)
    with pytest.raises(VRBenchError, match=r"latin1.csv: expected UTF-8 JSON lines$"):
        list(iter_jsonl(bad))
    with pytest.raises(VRBenchError, match=r"missing.csv: human label file not found$"):
        read_human_labels(tmp_path / "missing.csv")
