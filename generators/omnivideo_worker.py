"""The Omni-Video context worker: runs in upstream's own environment, never in vrbench's.

``omnivideo.build_contexts`` starts this file as a script with the upstream environment's python (Python
3.10, torch 2.6, its own transformers), once for every prompt a process will generate. It builds the
contexts exactly as upstream's ``generate.py`` does under the text-to-video flags of ``inference.sh``,
records what upstream's DiT receives, and stores it for the harness (see ``omnivideo.ContextStore``).

Only the standard library is imported at the top (upstream's packages and safetensors are imported
inside), and nothing from vrbench: this file must run where vrbench is not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: bump when the worker's way of building contexts changes: entries made by another version are refused
CONTEXT_BUILDER_VERSION = 2
#: upstream's ``max_context_len`` in inference.sh: the DiT's ``text_len``, to which contexts are zero-padded
CONTEXT_LEN = 2560
#: the text-to-video settings of upstream's tools/inference/inference.sh (its BASE_CMD and T2V tasks). The
#: worker passes every one explicitly: generate.py's own argparse defaults differ (max_context_len 1024 cuts
#: the context before the T5 prompt embedding; no visual-context adapter; skip_num 0; sample_fps 8).
INFERENCE_SH_T2V = {
    "sample_solver": "unipc", "adapter_in_channels": "1152", "adapter_out_channels": "4096", "adapter_query_length": "256",
    "use_visual_context_adapter": "true", "visual_context_adapter_patch_size": "1,4,4", "use_visual_as_input": "false",
    "condition_mode": "full", "max_context_len": str(CONTEXT_LEN), "ar_model_num_video_frames": "8", "ar_conv_mode": "llama_3",
    "sampling_rate": "3", "skip_num": "1", "unconditioned_context_length": "2560", "classifier_free_ratio": "0.0",
    "size": "832*480", "frame_num": "81", "sample_steps": "50", "sample_fps": "16", "sample_guide_scale": "5.0", "base_seed": "42",
}
#: what those flags must have become after upstream's parse_args (checked, so a changed parser cannot slip by)
EXPECTED_ARGS = {
    "max_context_len": CONTEXT_LEN, "unconditioned_context_length": 2560, "use_visual_context_adapter": True,
    "visual_context_adapter_patch_size": (1, 4, 4), "use_visual_as_input": False, "skip_num": 1, "sample_fps": 16,
    "condition_mode": "full", "classifier_free_ratio": 0.0, "adapter_query_length": 256, "frame_num": 81,
}
def context_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]


def _save_tensors(path: str | Path, tensors: dict, metadata: dict[str, str]) -> None:
    """Write a safetensors file atomically (a temp file renamed into place). Needs only safetensors, so
    the worker in upstream's environment uses it too."""
    from safetensors.torch import save_file

    fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", dir=os.path.dirname(path) or ".")
    os.close(fd)
    umask = os.umask(0)  # mkstemp makes 0600; give the file what the umask gives (single-threaded here)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _same(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())




class _Captured(Exception):
    """Raised by the worker's hook once the conditional and the unconditional context are recorded."""


def _worker_main(argv: list[str] | None = None) -> None:
    """Runs in upstream's environment (Python 3.10, its torch): contexts exactly as upstream builds them.

    Uses upstream's own objects, set up as ``generate.py`` does under the flags of ``inference.sh``: the
    OmniVideoGenerator, its VILA model (``general_emb`` for t2v; upstream's task detection is skipped, the
    task is text-to-video) and its ``OmniVideoX2XUnified.generate``. A hook on the mixed-condition model's
    DiT (``.wan_model``) records the unpadded context it receives on the conditional call and then the
    unconditional one, and stops ``generate`` there; so the adapter / special-token / T5 assembly stays
    upstream's code. Needs the standard library here; torch, safetensors and upstream's modules are
    imported after the arguments are parsed.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Omni-Video context builder (runs in the upstream environment)")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out", required=True, help="the context store's folder")
    ap.add_argument("--prompts", required=True, help="JSON list of prompts")
    ap.add_argument("--identity", required=True, help="JSON metadata every file carries")
    ap.add_argument("--report", required=True, help="JSON report written at the end (error or provenance)")
    ns = ap.parse_args(argv)
    report: dict[str, Any] = {}
    try:
        report.update(_build_in_upstream(ns))
    except _WorkerError as e:
        report["error"] = str(e)
    finally:
        with open(ns.report, "w") as f:
            json.dump(report, f)
    if "error" in report:
        sys.exit(f"omni-video worker: {report['error']}")


class _WorkerError(Exception):
    pass


def _build_in_upstream(ns) -> dict[str, Any]:
    import torch  # upstream's own torch, from here on

    repo = os.path.realpath(ns.repo)
    sys.path[:0] = [repo, os.path.join(repo, "nets", "third_party"), os.path.join(repo, "tools", "inference")]
    import generate as upstream_cli  # tools/inference/generate.py
    from nets.omni.omni_video_generator import OmniVideoGenerator

    identity = json.loads(ns.identity)
    context_len = int(identity["context_len"])
    argv = ["generate.py", "--prompt", "placeholder"]
    for flag, value in INFERENCE_SH_T2V.items():
        argv += [f"--{flag}", value]
    sys.argv = argv
    args = upstream_cli.parse_args()  # upstream's parser and validate_args
    wrong = {k: getattr(args, k, None) for k, v in EXPECTED_ARGS.items() if getattr(args, k, None) != v}
    if wrong:
        raise _WorkerError(f"upstream's generate.py parsed inference.sh's flags into {wrong}, expected {EXPECTED_ARGS}")

    gen = OmniVideoGenerator(args)
    ours = os.path.realpath(os.path.join(repo, "omni_ckpts"))
    if os.path.realpath(gen.models_dir) != ours:
        raise _WorkerError(f"upstream reads its checkpoints from {gen.models_dir}, not {ours}: is another copy of 'nets' importable?")
    if not os.path.isfile(gen.model_paths["transformer_ckpt"]):  # upstream would silently skip it
        raise _WorkerError(f"{gen.model_paths['transformer_ckpt']}: missing")
    gen.setup_distributed()
    gen.load_special_tokens()
    gen.load_unconditioned_context()
    for name, what in (("special_tokens", "special_tokens/tokens.pkl"), ("unconditioned_context", "unconditioned_context/context.pkl")):
        if getattr(gen, name) is None:  # upstream only logs a warning and goes on without them
            raise _WorkerError(f"omni_ckpts/{what}: missing or unreadable (see upstream's log above)")
    gen.initialize_models()
    mixed = gen.omnivideo_x2x.model
    if mixed.max_context_len != context_len or mixed.wan_model.text_len != context_len:
        raise _WorkerError(f"upstream's DiT has max_context_len {mixed.max_context_len} / text_len {mixed.wan_model.text_len}, "
                           f"expected {context_len}")
    if getattr(mixed, "visual_context_adapter", None) is None:
        raise _WorkerError("upstream's model was built without its visual-context adapter (inference.sh turns it on)")
    end_token = (gen.special_tokens or {}).get("<prp_ed>")
    width, height = (int(v) for v in args.size.split("*"))

    captured: list = []

    def record(module, call_args, call_kwargs):
        captured.append(call_kwargs["context"][0].detach().float().cpu())
        if len(captured) == 2:
            raise _Captured

    out = ns.out
    uncond_path = os.path.join(out, "uncond.safetensors")
    shared_uncond = None
    if os.path.isfile(uncond_path):
        from safetensors.torch import load_file

        shared_uncond = load_file(uncond_path)["uncond"]
    hook = mixed.wan_model.register_forward_pre_hook(record, with_kwargs=True)
    built = 0
    try:
        with open(ns.prompts) as f:
            prompts = json.load(f)
        for prompt in prompts:
            captured.clear()
            text = prompt.strip()  # as generate.py does
            vlm = gen.ar_model.general_emb(text, None, task_type="t2v")
            try:
                gen.omnivideo_x2x.generate(
                    text, visual_emb=None, ar_vision_input=vlm, size=(width, height), frame_num=args.frame_num,
                    shift=args.sample_shift, sample_solver=args.sample_solver, sampling_steps=args.sample_steps,
                    guide_scale=args.sample_guide_scale, seed=args.base_seed, offload_model=False,
                    special_tokens=gen.special_tokens, classifier_free_ratio=args.classifier_free_ratio,
                    unconditioned_context=gen.unconditioned_context, condition_mode=args.condition_mode,
                    use_visual_as_input=args.use_visual_as_input,
                )
            except _Captured:
                pass
            if len(captured) != 2:
                raise _WorkerError(f"upstream's generate called its DiT {len(captured)} time(s) per step, expected 2 (cond, uncond)")
            cond, uncond = captured  # upstream calls the DiT with the conditional context first
            _check_not_cut(cond, context_len, end_token, prompt)
            if shared_uncond is None:
                _save_tensors(uncond_path, {"uncond": uncond}, identity)
                shared_uncond = uncond
            tensors = {"cond": cond}
            if not _same(uncond, shared_uncond):
                tensors["uncond"] = uncond
            _save_tensors(os.path.join(out, f"{context_key(prompt)}.safetensors"), tensors, {**identity, "prompt": prompt})
            built += 1
            print(f"omni-video worker: context {built}/{len(prompts)} (length {cond.shape[0]})", flush=True)
    finally:
        hook.remove()
    return {"built": built, "upstream_commit": _git_commit(repo), "torch": torch.__version__,
            "args": {k: getattr(args, k) for k in sorted(vars(args))}}


def _check_not_cut(cond, context_len: int, end_token, prompt: str) -> None:
    """The context must end with the prompt: shorter than the DiT's length and closed by ``<prp_ed>``."""
    if cond.shape[0] >= context_len:
        raise _WorkerError(f"the context of {prompt[:60]!r} fills max_context_len ({context_len}): the prompt may be cut")
    if end_token is not None:
        end = end_token.detach().float().cpu().reshape(-1, cond.shape[-1])
        if not _same(cond[-end.shape[0]:], end):
            raise _WorkerError(f"the context of {prompt[:60]!r} does not end with upstream's <prp_ed> token: it was cut")


def _git_commit(repo: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return done.stdout.strip() or None


if __name__ == "__main__":  # pragma: no cover
    _worker_main()
