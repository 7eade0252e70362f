"""`vrbench demo`: the whole pipeline with tiny random models, on the CPU."""

from __future__ import annotations

import json

import pytest

from vrbench.cli import main

pytest.importorskip("diffusers")


def test_demo(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress", "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    assert "RANDOM weights" in text and "meaningless" in text
    scores = json.loads((out / "scores" / "tiny-qwen-vl.json").read_text())
    assert scores["overall"]["n_cases"] == 8  # one case per dimension: every score is defined
    assert scores["overall"]["score"] is not None
    assert (out / "report" / "index.html").is_file()
