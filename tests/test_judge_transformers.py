"""Local judges: the tiny random Qwen3-VL through the `transformers` judge code path, on a real decoded video."""

import json

import pytest
from judge_helpers import make_run, read_rows

from vrbench.judge import get_judge
from vrbench.stages.judge import judge_run


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VRBENCH_CACHE_DIR", str(tmp_path / "cache"))


def test_tiny_qwen_vl_judges_a_run(tmp_path):
    run = make_run(tmp_path / "run", ["ETV-07"])
    summary = judge_run(run.root, "tiny-qwen-vl", progress=False)
    rows = read_rows(run.judgments_file("tiny-qwen-vl"))
    assert [r["question"] for r in rows] == [f"Q{i}" for i in range(1, 9)]
    for r in rows:  # random weights: any answer is fine, but every row is complete and well-formed
        assert r["answer"] in ("yes", "no", "invalid") and r["raw"] is not None
        assert r["p_yes"] is None if r["answer"] == "invalid" else 0.0 <= r["p_yes"] <= 1.0
    assert summary["questions"] == 8 and summary["requests"] >= 8
    sig = json.loads(run.run_file.read_text())["judges"]["tiny-qwen-vl"]
    assert sig["weights"] == "random" and sig["num_frames"] == 4 and sig["template"]["name"] == "yes_no"
    assert sig["dtype"] == "float32" and sig["frames"].startswith("uniform-centre")
    # same weights, same answers: a second judge with a fresh cache agrees row for row
    (run.root / "judgments" / "tiny-qwen-vl.jsonl").rename(tmp_path / "first.jsonl")
    judge_run(run.root, "tiny-qwen-vl", progress=False, use_cache=False)
    again = read_rows(run.judgments_file("tiny-qwen-vl"))
    assert [(r["answer"], r["p_yes"]) for r in again] == [(r["answer"], r["p_yes"]) for r in rows]


@pytest.mark.parametrize("constrain", ["none", "tokens"])
def test_transformers_judge_first_step_p_yes(tmp_path, constrain):
    """P(yes) is the softmax over yes-token vs no-token logits of the first step, as the answer text starts
    (free greedy text with constrain=none; the likelier of yes and no with constrain=tokens)."""
    import asyncio

    from vrbench.video import sha256_file

    run = make_run(tmp_path / "run", ["DRF-01"])
    judge = get_judge("tiny-qwen-vl")(num_frames=2, constrain=constrain)
    judge.load()
    video = judge.prepare(run.video_path("DRF-01", 0), sha256_file(run.video_path("DRF-01", 0)))
    assert video.frames.images.shape[0] == 2 and len(video.timestamps) == 2

    def rig(winner):  # the output layer gives ``winner`` a logit far above every other token's
        def hook(module, inputs, output):
            output = output.clone()
            output[..., winner] += 50.0
            return output
        return judge.model.lm_head.register_forward_hook(hook)

    for winner, word, high in ((judge.yes_ids[0], "yes", True), (judge.no_ids[0], "no", False)):
        handle = rig(winner)
        try:
            reply = asyncio.run(judge.ask(video, "Is the square red?"))
        finally:
            handle.remove()
        assert reply.text.lower().startswith(word) and (reply.p_yes > 0.99 if high else reply.p_yes < 0.01)


def test_the_tiny_judge_reads_the_question(tmp_path):
    """The tiny judge's tokenizer splits the prompt into words: another question gives another P(yes)
    (a tokenizer that made the whole prompt one unknown token gave one P(yes) per video)."""
    import asyncio

    from vrbench.video import sha256_file

    run = make_run(tmp_path / "run", ["DRF-01"])
    judge = get_judge("tiny-qwen-vl")()
    judge.load()
    assert judge.processor.tokenizer.tokenize("Is the video red?") == ["[UNK]", " ", "the", " ", "video", " ", "[UNK]", "?"]
    video = judge.prepare(run.video_path("DRF-01", 0), sha256_file(run.video_path("DRF-01", 0)))
    p = {asyncio.run(judge.ask(video, q)).p_yes for q in ("Is the square red?", "Does the ball bounce off the wall?",
                                                             "Is there a person in the video?")}
    assert len(p) == 3
