"""The Omni-Video context worker against a fake upstream tree (tests/fake_omni_upstream.py), run by the real
``build_contexts`` in a subprocess, and the context store it fills.

Each test names the defect it guards against: a hook on a module upstream does not have, upstream's
argparse defaults instead of inference.sh's flags (the prompt cut at 1024), the parent's torchrun
environment, a checkpoint other than the one upstream reads, stale cache entries, one upstream process
per video, and no timeout.
"""

from __future__ import annotations

import json
import pickle
import sys

import pytest
import torch
from fake_omni_upstream import WIDTH, write_fake_upstream

from vrbench.errors import VRBenchError
from vrbench.generators.omnivideo import CONTEXT_LEN, ContextStore, build_contexts, checkpoint_fingerprint, pad_context, physical_gpu, worker_env

pytestmark = pytest.mark.slow  # every test here takes seconds (processes, browsers, models)

PROMPTS = ["Generate a video about: a ball rolls off a table", "Generate a video about: ice melts in the sun"]


@pytest.fixture
def upstream(tmp_path, monkeypatch):
    repo = write_fake_upstream(tmp_path)
    log = tmp_path / "fake.log"
    monkeypatch.setenv("FAKE_OMNI_LOG", str(log))
    return repo, log


def records(log, component):
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r["component"] == component]


def store_for(ckpts, root):
    return ContextStore(root, checkpoint=checkpoint_fingerprint(ckpts))


def build(repo, store, prompts, **kw):
    kw.setdefault("ckpt_dir", str(repo / "omni_ckpts"))
    build_contexts(prompts, store, upstream_python=sys.executable, upstream_repo=str(repo), timeout=kw.pop("timeout", 120), **kw)


def fake_t5(text):
    """The fake upstream's T5 rows for ``text`` (as its T5EncoderModel computes them)."""
    import hashlib

    rows = [torch.randn(WIDTH, generator=torch.Generator().manual_seed(int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)))
            for w in text.split()]
    return torch.stack(rows).to(torch.bfloat16).float()


def test_one_worker_run_builds_every_context_as_inference_sh_does(upstream, tmp_path, monkeypatch):
    repo, log = upstream
    # a torchrun rank's environment: the worker must not join this job nor pick its own GPU
    for key, value in dict(RANK="1", WORLD_SIZE="2", LOCAL_RANK="1", MASTER_ADDR="10.9.9.9", MASTER_PORT="1",
                           TORCHELASTIC_RUN_ID="job", CUDA_VISIBLE_DEVICES="4,5").items():
        monkeypatch.setenv(key, value)
    link = tmp_path / "my_ckpts"
    link.symlink_to(repo / "omni_ckpts")  # the DiT's checkpoint is upstream's, through a link
    store = store_for(link, tmp_path / "ctx")
    build(repo, store, PROMPTS, ckpt_dir=str(link), device="cuda:1")

    assert len(records(log, "process")) == 1  # one upstream process for all prompts
    args = records(log, "parse_args")[0]["args"]
    assert (args["max_context_len"], args["unconditioned_context_length"], args["use_visual_context_adapter"],
            args["visual_context_adapter_patch_size"], args["skip_num"], args["sample_fps"]) == (2560, 2560, True, [1, 4, 4], 1, 16)
    model = records(log, "mixed_model")[0]
    assert model["max_context_len"] == 2560 and model["use_visual_context_adapter"] is True
    env = records(log, "setup_distributed")[0]["env"]
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["MASTER_ADDR"]) == ("0", "1", "0", "127.0.0.1")
    assert env["CUDA_VISIBLE_DEVICES"] == "5" and env["TORCHELASTIC_RUN_ID"] is None and env["MASTER_PORT"] != "1"

    tokens = pickle.load(open(repo / "omni_ckpts" / "special_tokens" / "tokens.pkl", "rb"))
    uncond_t5 = pickle.load(open(repo / "omni_ckpts" / "unconditioned_context" / "context.pkl", "rb"))["text_emb"][0]
    for prompt in PROMPTS:
        cond, uncond = store.get(prompt)
        words = len(prompt.split())
        # [<ipl_st>, adapter 4 x 256, <ipl_ed>, <prp_st>, T5(prompt), <prp_ed>], unpadded and whole
        assert cond.shape == (1 + 1024 + 2 + words + 1, WIDTH)
        assert torch.equal(cond[-1:], tokens["<prp_ed>"]) and torch.equal(cond[-1 - words:-1], fake_t5(prompt))
        assert torch.equal(cond[:1], tokens["<ipl_st>"])
        # upstream's unconditional call: its own null T5 context, stored once for all prompts
        assert torch.equal(uncond[-1 - len(uncond_t5):-1], uncond_t5) and torch.equal(uncond[-1:], tokens["<prp_ed>"])
        padded = pad_context(cond, CONTEXT_LEN)
        assert padded.shape == (CONTEXT_LEN, WIDTH) and not padded[cond.shape[0]:].any()
    files = sorted(p.name for p in store.dir.iterdir())
    assert "uncond.safetensors" in files and len(files) == 3  # two prompts + the shared uncond, no temp files

    build(repo, store, PROMPTS, ckpt_dir=str(link))  # all there: no upstream process at all
    assert len(records(log, "process")) == 1


def test_a_context_that_would_be_cut_is_refused(upstream, tmp_path):
    repo, _ = upstream
    store = store_for(repo / "omni_ckpts", tmp_path / "ctx")
    long_prompt = "Generate a video about: " + " ".join(f"w{i}" for i in range(1600))  # 1028 + 1600 > 2560 rows
    with pytest.raises(VRBenchError, match="fills max_context_len \\(2560\\): the prompt may be cut") as err:
        build(repo, store, [long_prompt])
    assert "\n" not in str(err.value)
    assert store.missing([long_prompt]) == [long_prompt]


def test_missing_special_tokens_are_an_error_not_upstreams_warning(upstream, tmp_path):
    repo, _ = upstream
    (repo / "omni_ckpts" / "special_tokens" / "tokens.pkl").unlink()
    with pytest.raises(VRBenchError, match="special_tokens/tokens.pkl: missing"):
        build(repo, store_for(repo / "omni_ckpts", tmp_path / "ctx"), PROMPTS[:1])


def test_the_dit_checkpoint_must_be_the_one_upstream_reads(upstream, tmp_path):
    repo, log = upstream
    other = write_fake_upstream(tmp_path / "elsewhere", seed=1) / "omni_ckpts"
    with pytest.raises(VRBenchError, match="option ckpt_dir .*not the checkpoint upstream's worker uses .*ignoring --ckpt_dir"):
        build(repo, store_for(other, tmp_path / "ctx"), PROMPTS, ckpt_dir=str(other))
    assert records(log, "process") == []


def test_a_hung_worker_is_stopped_with_a_one_line_error(upstream, tmp_path, monkeypatch):
    repo, _ = upstream
    monkeypatch.setenv("FAKE_OMNI_HANG", "1")
    with pytest.raises(VRBenchError, match="did not finish within 8 s \\(1 prompts\\).*worker_timeout") as err:
        build(repo, store_for(repo / "omni_ckpts", tmp_path / "ctx"), PROMPTS[:1], timeout=8)
    assert "\n" not in str(err.value)


def test_worker_environment_and_gpu_pinning():
    parent = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "TORCHELASTIC_RESTART_COUNT": "0", "PATH": "/bin",
              "CUDA_VISIBLE_DEVICES": "GPU-a,GPU-b,GPU-c,GPU-d", "PYTHONPATH": "/mine"}
    from pathlib import Path

    env = worker_env(parent, device="cuda:3", port=4321, repo=Path("/up"))
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-d" and env["RANK"] == "0" and env["WORLD_SIZE"] == "1"
    assert env["MASTER_PORT"] == "4321" and "TORCHELASTIC_RESTART_COUNT" not in env and env["PATH"] == "/bin"
    assert env["PYTHONPATH"].split(":") == ["/up", "/up/nets/third_party", "/mine"]
    assert physical_gpu("cuda:2", None) == "2" and physical_gpu("cpu", "0") is None and physical_gpu("cuda", "7") == "7"
    with pytest.raises(VRBenchError, match="CUDA_VISIBLE_DEVICES=0 has no such GPU"):
        physical_gpu("cuda:1", "0")


def test_the_store_is_keyed_by_checkpoint_builder_and_length_and_refuses_stale_entries(tmp_path):
    a = ContextStore(tmp_path, checkpoint="aaaa")
    cond, uncond = torch.randn(5, 4), torch.randn(3, 4)
    a.put("p", cond, uncond)
    got = a.get("p")
    assert torch.equal(got[0], cond) and torch.equal(got[1], uncond)
    assert a.missing(["p", "q"]) == ["q"]
    assert a.missing(iter(["p", "q", "q"])) == ["q"]  # a one-pass iterator is read once
    others = [ContextStore(tmp_path, checkpoint="bbbb"), ContextStore(tmp_path, checkpoint="aaaa", builder=1),
              ContextStore(tmp_path, checkpoint="aaaa", context_len=1024)]
    assert len({a.dir, *(o.dir for o in others)}) == 4
    for other in others:
        assert other.missing(["p"]) == ["p"]
        other.dir.mkdir(parents=True, exist_ok=True)
        for name in ("uncond.safetensors", a.path("p").name):  # an entry copied in from another identity
            (other.dir / name).write_bytes((a.dir / name).read_bytes())
        with pytest.raises(VRBenchError, match="stale context .*delete it to rebuild"):
            other.missing(["p"])
    a.path("junk").write_bytes(b"not safetensors")
    with pytest.raises(VRBenchError, match="unreadable context file"):
        a.get("junk")
    with pytest.raises(VRBenchError, match="no Omni-Video context.*git clone https://github.com/SAIS-FUXI/Omni-Video"):
        a.get("never")
    # a prompt whose unconditional context differs from the shared one keeps its own
    a.put("odd", cond, uncond + 1)
    assert torch.equal(a.get("odd")[1], uncond + 1) and torch.equal(a.get("p")[1], uncond)
    a.put("long", torch.zeros(2561, 4), uncond)
    with pytest.raises(VRBenchError, match="expected \\[L, D\\] with L <= 2560"):
        a.get("long")


def test_the_generators_options_reach_the_worker(upstream, tmp_path):
    from vrbench.generator import GenerationRequest, get_generator

    repo, log = upstream
    for name in ("omni-video", "lumos-nexus"):
        gen = get_generator(name)(ckpt_dir=str(repo / "omni_ckpts"), upstream_repo=str(repo), upstream_python=sys.executable,
                                  context_dir=str(tmp_path / "ctx"), worker_timeout=120, device="cpu")
        requests = [GenerationRequest(f"c{i}", p, 0) for i, p in enumerate(["a ball rolls", "ice melts", "a ball rolls"])]
        gen.prepare(requests)
        assert gen._store().missing([gen.prompt_prefix + r.prompt for r in requests]) == []
    assert len(records(log, "process")) == 1  # the second generator found every context in place
