"""Omni-Video (SAIS-FUXI/Omni-Video, arXiv 2507.06119) as a small generator the harness can run and bridge.

Omni-Video = a VILA understanding model + vision head + a ~1.9B adapter whose output, concatenated with
learned special tokens and UMT5 text embeddings, is the cross-attention context (zero-padded to 2560
tokens of width 4096) of a fine-tuned Wan2.1-T2V-1.3B. Its unconditional context is stored with the
checkpoints (``unconditioned_context/context.pkl``). Its CFG is ``cond + s * (cond - uncond)``, i.e.
the standard form with ``g = 1 + s`` (its default s = 5 is g = 6).

Split of work:
- the harness owns the DiT (diffusers ``WanTransformer3DModel``; the original-format weights in
  ``omni_ckpts/transformer/model.pt`` are converted with diffusers' Wan table once and cached as
  safetensors), the scheduler and the VAE (Wan2.1's);
- the VLM conditioning (VILA, vision head, adapter, T5) runs in the upstream package's own environment
  (it pins torch 2.6 / transformers 4.51 / flash-attn), as a subprocess: this file run as a script
  with that environment's python. It writes one ``.safetensors`` per prompt with ``cond`` and
  ``uncond`` context tensors ``[L, D]`` into a context folder (:class:`ContextStore`); the harness
  reads them. Contexts can also be precomputed elsewhere and copied into the folder.

The worker part (:func:`_worker_main`) needs the upstream package and a GPU, so it is not exercised by
the tests here; everything else is (tiny random DiT, precomputed random contexts).
This module imports only the standard library at the top so the worker can run outside vrbench.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

#: Omni-Video's DiT is a fine-tuned Wan2.1-T2V-1.3B: its config, VAE and scheduler come from here
BASE_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
UPSTREAM_URL = "https://github.com/SAIS-FUXI/Omni-Video"
#: where the upstream inference keeps each part, relative to ``omni_ckpts``
TRANSFORMER_CHECKPOINT = "transformer/model.pt"
#: where upstream's mixed-condition model (``OmniVideoMixedConditionModel``) keeps its Wan DiT
DIT_PREFIX = "wan_model."
#: Omni-Video's own text-to-video prompt template (tools/inference/inference.sh)
PROMPT_PREFIX = "Generate a video about: "

INSTALL_HINT = (
    f"the Omni-Video conditioning (VILA + vision head + adapter + T5) runs in the upstream package's own "
    f"environment: git clone {UPSTREAM_URL}, set up previous_version/Omni-Video1 as its SETUP_MODELS.md says "
    "(conda env, omni_ckpts/), then pass --gen-arg upstream_python=/path/to/that/env/bin/python "
    "--gen-arg upstream_repo=/path/to/Omni-Video/previous_version/Omni-Video1; or precompute the contexts into "
    "--gen-arg context_dir=DIR (one <key>.safetensors per prompt with 'cond' and 'uncond')"
)


def _error(message: str) -> Exception:
    from vrbench.errors import VRBenchError

    return VRBenchError(message)


# ----------------------------------------------------------------------------------------- the DiT


def convert_transformer_state_dict(state_dict: dict[str, Any], expected_keys: Iterable[str]) -> dict[str, Any]:
    """Omni-Video's original-Wan-format DiT weights -> diffusers ``WanTransformer3DModel`` keys.

    Upstream saves ``model.pt`` from its mixed-condition model, whose DiT sits at ``.wan_model`` beside
    the adapter, the vision head and the visual-context adapter: the DiT's keys are ``wan_model.*``.
    Those are kept (prefix removed) and renamed with diffusers' own Wan conversion table; the other
    modules are dropped with a log line; a missing DiT weight is an error. A bare Wan state dict (no
    ``wan_model.`` keys) and a deepspeed ``module`` wrapper are taken as well.
    """
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    if "module" in state_dict and isinstance(state_dict["module"], dict):  # deepspeed wrapper
        state_dict = state_dict["module"]
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    dit = {k.removeprefix(DIT_PREFIX): v for k, v in state_dict.items() if k.startswith(DIT_PREFIX)}
    if dit:
        others = sorted({k.split(".", 1)[0] for k in state_dict if not k.startswith(DIT_PREFIX)})
        log.info("Omni-Video checkpoint: the DiT is %s*; dropping %s", DIT_PREFIX, ", ".join(others) or "nothing")
        state_dict = dit
    converted = convert_wan_transformer_to_diffusers(dict(state_dict))
    expected = set(expected_keys)
    kept = {k: v for k, v in converted.items() if k in expected}
    missing = sorted(expected - set(kept))
    if missing:
        raise _error(f"Omni-Video transformer checkpoint lacks {len(missing)} Wan DiT weights (first: {missing[0]}); "
                     "is it omni_ckpts/transformer/model.pt?")
    dropped = len(converted) - len(kept)
    if dropped:
        log.info("Omni-Video checkpoint: kept %d DiT tensors, dropped %d of other modules (adapter, heads)", len(kept), dropped)
    return kept


def _cache_key(path: Path, base_model: str, revision: str | None) -> str:
    st = path.stat()
    text = json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns, base_model, revision])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    from vrbench.runstore import cache_dir

    return cache_dir() / "omnivideo"


def load_transformer(checkpoint: str | Path, *, base_model: str = BASE_MODEL, revision: str | None = None,
                     torch_dtype=None, cache_dir: str | Path | None = None):
    """The Omni-Video DiT as a diffusers model; converted weights are cached as safetensors on first use."""
    import shutil

    import torch
    from diffusers import WanTransformer3DModel

    checkpoint = Path(checkpoint).expanduser()
    if checkpoint.is_dir():
        checkpoint = checkpoint / TRANSFORMER_CHECKPOINT
    if not checkpoint.is_file():
        raise _error(f"Omni-Video transformer checkpoint {checkpoint}: no such file (expected omni_ckpts/{TRANSFORMER_CHECKPOINT})")
    cache = Path(cache_dir or default_cache_dir()) / f"transformer-{_cache_key(checkpoint, base_model, revision)}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    from vrbench.runstore import file_lock

    with file_lock(cache.parent / f".{cache.name}.lock"):  # ranks under torchrun convert once, the others wait
        if not (cache / "config.json").is_file():
            log.info("converting the Omni-Video DiT %s to diffusers format (cached in %s)", checkpoint, cache)
            config = WanTransformer3DModel.load_config(base_model, subfolder="transformer", revision=revision)
            model = WanTransformer3DModel.from_config(config)
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
            model.load_state_dict(convert_transformer_state_dict(state, model.state_dict().keys()), strict=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
            try:
                model.save_pretrained(tmp, safe_serialization=True)
                os.replace(tmp, cache)  # atomic: a crash leaves no half-written cache
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not (cache / "config.json").is_file():
                    raise
                # another process (where flock does not work, e.g. on some network file systems) got there first:
                # its copy is the same conversion, so use it
                log.info("%s: converted by another process meanwhile; using its copy", cache)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            del model
    return WanTransformer3DModel.from_pretrained(cache, torch_dtype=torch_dtype)


def build_pipeline(checkpoint: str | Path, *, base_model: str = BASE_MODEL, revision: str | None = None,
                   torch_dtype=None, flow_shift: float = 5.0, cache_dir: str | Path | None = None):
    """A ``WanPipeline`` with the Omni-Video DiT, Wan2.1's VAE (float32) and UniPC; no text encoder (contexts come precomputed)."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline

    transformer = load_transformer(checkpoint, base_model=base_model, revision=revision, torch_dtype=torch_dtype, cache_dir=cache_dir)
    vae = AutoencoderKLWan.from_pretrained(base_model, subfolder="vae", torch_dtype=torch.float32, revision=revision)
    base_scheduler = UniPCMultistepScheduler.load_config(base_model, subfolder="scheduler", revision=revision)
    scheduler = UniPCMultistepScheduler.from_config(base_scheduler, prediction_type="flow_prediction", use_flow_sigmas=True,
                                                    flow_shift=float(flow_shift))
    return WanPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, transformer=transformer)


# ------------------------------------------------------------------------------------- conditioning


class ContextStore:
    """Per-prompt Omni-Video contexts on disk: ``<dir>/<key>.safetensors`` holding ``cond`` and ``uncond``."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory).expanduser()

    @staticmethod
    def key(prompt: str) -> str:
        return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]

    def path(self, prompt: str) -> Path:
        return self.dir / f"{self.key(prompt)}.safetensors"

    def missing(self, prompts: Iterable[str]) -> list[str]:
        return [p for p in dict.fromkeys(prompts) if not self.path(p).is_file()]

    def put(self, prompt: str, cond, uncond) -> Path:
        from safetensors.torch import save_file

        from vrbench.runstore import atomic_output

        path = self.path(prompt)
        with atomic_output(path, suffix=".safetensors") as tmp:
            save_file({"cond": cond.detach().cpu().contiguous(), "uncond": uncond.detach().cpu().contiguous()}, str(tmp),
                      metadata={"prompt": prompt})
        return path

    def get(self, prompt: str):
        """``(cond, uncond)`` as ``[L, D]`` tensors."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = self.path(prompt)
        try:
            tensors = load_file(path)
        except FileNotFoundError:
            raise _error(f"no Omni-Video context for prompt {prompt[:60]!r} ({path}); {INSTALL_HINT}") from None
        except SafetensorError as e:
            raise _error(f"{path}: unreadable context file ({e}); delete it to rebuild") from None
        if set(tensors) != {"cond", "uncond"} or tensors["cond"].ndim != 2 or tensors["cond"].shape[-1] != tensors["uncond"].shape[-1]:
            raise _error(f"{path}: expected tensors 'cond' and 'uncond' of shape [L, D], got "
                         + ", ".join(f"{k} {tuple(v.shape)}" for k, v in tensors.items()))
        return tensors["cond"], tensors["uncond"]


def build_contexts(prompts: list[str], store: ContextStore, *, upstream_python: str | None, upstream_repo: str | None,
                   ckpt_dir: str | None = None, timeout: float | None = None) -> None:
    """Fill ``store`` for the prompts it lacks by running the upstream package in its own environment."""
    todo = store.missing(prompts)
    if not todo:
        return
    if not upstream_python or not upstream_repo:
        raise _error(f"omni-video: {len(todo)} prompt(s) have no precomputed context in {store.dir}; {INSTALL_HINT}")
    repo = Path(upstream_repo).expanduser()
    if not (repo / "nets" / "omni").is_dir():
        raise _error(f"option upstream_repo {repo}: not an Omni-Video1 checkout (no nets/omni); {INSTALL_HINT}")
    store.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=store.dir, delete=False) as f:
        json.dump(todo, f)
    cmd = [upstream_python, str(Path(__file__).resolve()), "--repo", str(repo), "--out", str(store.dir), "--prompts", f.name]
    if ckpt_dir:
        cmd += ["--ckpt-dir", str(ckpt_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "nets" / "third_party"), os.environ.get("PYTHONPATH", "")])}
    log.info("building Omni-Video contexts for %d prompt(s) with %s", len(todo), upstream_python)
    try:
        subprocess.run(cmd, cwd=repo, env=env, check=True, timeout=timeout)
    except FileNotFoundError:
        raise _error(f"option upstream_python {upstream_python}: no such executable; {INSTALL_HINT}") from None
    except subprocess.CalledProcessError as e:
        raise _error(f"the Omni-Video conditioning subprocess failed (exit {e.returncode}); see its output above") from None
    finally:
        Path(f.name).unlink(missing_ok=True)
    still = store.missing(todo)
    if still:
        raise _error(f"the Omni-Video conditioning subprocess wrote no context for {len(still)} prompt(s) in {store.dir}")


def omnivideo_denoiser(pipe, store: ContextStore, *, device: str = "cpu", batch_cfg: bool = True):
    """A :class:`bridge.WanDenoiser` over the Omni-Video DiT whose ``encode`` reads the stored contexts."""
    from .bridge import Conditioning, WanDenoiser

    class OmniVideoDenoiser(WanDenoiser):
        def encode(self, prompt: str, negative_prompt: str = "") -> Conditioning:
            # the unconditional context is Omni-Video's own, stored with each prompt; no negative prompt
            cond, uncond = store.get(prompt)
            dtype = self._dtype
            return Conditioning(cond[None].to(device=self.device, dtype=dtype), uncond[None].to(device=self.device, dtype=dtype))

    return OmniVideoDenoiser(pipe, device=device, batch_cfg=batch_cfg)


# ------------------------------------------------------------- the worker (upstream environment only)


def _worker_main(argv: list[str] | None = None) -> None:  # pragma: no cover - needs the upstream package + GPU
    """Run inside the upstream environment: contexts exactly as upstream builds them, saved per prompt.

    Uses upstream's own objects (OmniVideoGenerator, its AR model and mixed-condition DiT) and records
    the padded context the DiT's ``text_embedding`` receives on the conditional and the unconditional
    call of one sampling step, so the adapter/special-token/T5 assembly stays upstream's code.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Omni-Video context builder (runs in the upstream environment)")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompts", required=True, help="JSON list of prompts")
    ap.add_argument("--ckpt-dir", default=None)
    ns = ap.parse_args(argv)
    import torch  # upstream's own torch, from here on
    sys.path[:0] = [ns.repo, os.path.join(ns.repo, "nets", "third_party"), os.path.join(ns.repo, "tools", "inference")]
    import generate as upstream_cli  # tools/inference/generate.py
    from nets.omni.omni_video_generator import OmniVideoGenerator
    from safetensors.torch import save_file

    sys.argv = ["generate.py", "--prompt", "x", *(["--ckpt_dir", ns.ckpt_dir] if ns.ckpt_dir else [])]
    args = upstream_cli.parse_args()
    upstream_cli.validate_args(args)
    gen = OmniVideoGenerator(args)
    gen.setup_distributed()
    gen.load_special_tokens()
    gen.load_unconditioned_context()
    gen.initialize_models()
    dit = gen.omnivideo_x2x.model
    captured: list[torch.Tensor] = []
    hook = dit.text_embedding.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0][0].detach().float().cpu()))
    try:
        for prompt in json.load(open(ns.prompts)):
            captured.clear()
            vlm = gen.ar_model.general_emb(prompt, None, task_type="t2v")
            gen.omnivideo_x2x.generate(
                prompt, visual_emb=None, ar_vision_input=vlm, size=(832, 480), frame_num=5, shift=args.sample_shift,
                sample_solver="unipc", sampling_steps=1, guide_scale=5.0, seed=0, special_tokens=gen.special_tokens,
                classifier_free_ratio=0.0, unconditioned_context=gen.unconditioned_context, condition_mode="full",
                use_visual_as_input=False,
            )
            cond, uncond = captured[0], captured[1]  # upstream calls the DiT conditional first
            name = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]
            tmp = os.path.join(ns.out, f".{name}.tmp")
            save_file({"cond": cond.contiguous(), "uncond": uncond.contiguous()}, tmp, metadata={"prompt": prompt})
            os.replace(tmp, os.path.join(ns.out, f"{name}.safetensors"))
    finally:
        hook.remove()


if __name__ == "__main__":  # pragma: no cover
    _worker_main()
