"""`vrbench generate` and `vrbench run` through the CLI: generate -> judge -> score, resumable, clear errors."""

from __future__ import annotations

import json

import pytest

from vrbench.cli import main

pytest.importorskip("diffusers")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_end_to_end_and_rerun_redoes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--model", "tiny-wan", "--judge", "tiny-qwen-vl", "--cases", "ETV-01", "CCR-01", "--seeds", "2",
            "--out", str(out), "--no-progress", "--bootstrap", "50", "--gen-arg", "steps=1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "generate: 4 made" in text and "judge tiny-qwen-vl: 32 questions" in text and "Overall" in text
    assert len(_rows(out / "generations.jsonl")) == 4 and len(_rows(out / "judgments" / "tiny-qwen-vl.jsonl")) == 32
    scores = json.loads((out / "scores" / "tiny-qwen-vl.json").read_text())
    assert scores["model"] == "tiny-wan" and scores["dimensions"]["ETV"]["n_videos"] == 2
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["generator"]["signature"]["steps"] == 1 and "tiny-qwen-vl" in manifest["judges"]
    assert {"generate", "judge+score tiny-qwen-vl"} <= set(manifest["timings"])

    assert main(args) == 0  # a rerun: nothing generated or asked again, no duplicate rows
    text = capsys.readouterr().out
    assert "0 made, 4 already done" in text and "32 already judged" in text
    assert len(_rows(out / "generations.jsonl")) == 4 and len(_rows(out / "judgments" / "tiny-qwen-vl.jsonl")) == 32

    assert main(["run", *args[1:-1], "steps=2"]) == 2  # other settings into the same run dir
    assert "a run never mixes settings" in capsys.readouterr().err


def test_generate_options_and_shard(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["generate", "--model", "tiny-cogvideox", "--cases", "ETV", "--limit", "3", "--shard", "1/2",
                 "--device", "cpu", "--dtype", "float32", "--out", str(out), "--no-progress"]) == 0
    assert "1 made, 0 already done (this shard: 1 of 3)" in capsys.readouterr().out
    assert [(r["case"], r["seed"]) for r in _rows(out / "generations.jsonl")] == [("ETV-02", 0)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--model", "wan9"], "unknown generator 'wan9' (known: "),
        (["generate", "--model", "wan2.1-t2v-14b", "--model-path", "/no/such/dir"], "--model-path /no/such/dir: no such directory"),
        (["generate", "--model", "videos", "--model-path", "/no/such/dir"], "--model-path /no/such/dir: no such directory"),
        (["generate", "--model", "tiny-wan", "--model-path", "x"], "model tiny-wan takes no --model-path"),
        (["generate", "--model", "tiny-wan", "--gen-arg", "steps=two"], "model tiny-wan option steps: cannot read 'two'"),
        (["generate", "--model", "tiny-wan", "--shard", "2/2"], "--shard: expected i/N"),
        (["generate", "--model", "tiny-wan", "--cases", "NOPE"], "--cases: 'NOPE' is not a case id"),
        (["run", "--model", "tiny-wan", "--judge", "nojudge"], "unknown judge 'nojudge'"),
    ],
)
def test_clear_one_line_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_output_dir(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["generate", "--model", "tiny-wan", "--out", str(blocker / "run"), "--no-progress"]) == 2
    assert "cannot write the run directory" in capsys.readouterr().err
