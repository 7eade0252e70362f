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
  (it pins torch 2.6 / transformers 4.51 / flash-attn), as a subprocess: this file run as a script with
  that environment's python, once for all the prompts a process will generate, before the large model
  loads. It records the context upstream's DiT receives and stores it unpadded in a
  :class:`ContextStore` folder named by the checkpoint, the builder version and the context length;
  the harness reads and zero-pads it. Contexts can also be built elsewhere and the folder copied.

The worker (:func:`_worker_main`) needs the upstream package and a GPU; the tests run it against a fake
upstream tree that mirrors upstream's module names, attribute paths, argparse defaults and call order.
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
    "--gen-arg upstream_repo=/path/to/Omni-Video/previous_version/Omni-Video1 (its omni_ckpts/ is the checkpoint); "
    "or copy contexts built elsewhere for the same checkpoint into --gen-arg context_dir=DIR"
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
#: torchrun's variables: the worker must not inherit them (it would try to join the parent's job)
_DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
              "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")
_MIB = 1 << 20


def context_key(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:24]


def checkpoint_fingerprint(ckpt_dir: str | Path) -> str:
    """Which Omni-Video checkpoints these are, cheaply and portably across copies: every file's relative
    path and size and a hash of its first and last MiB (hashing all ~40 GB would take minutes)."""
    root = Path(ckpt_dir).expanduser()
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(f for f in filenames if not f.startswith(".")):
            path = Path(dirpath) / name
            size = path.stat().st_size
            h.update(f"{path.relative_to(root).as_posix()}\0{size}\0".encode())
            with open(path, "rb") as f:
                h.update(f.read(_MIB))
                if size > 2 * _MIB:
                    f.seek(-_MIB, os.SEEK_END)
                    h.update(f.read(_MIB))
    return h.hexdigest()[:16]


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


class ContextStore:
    """Omni-Video contexts on disk, one folder per identity: which checkpoint built them, with which builder
    version, for which context length. A context is stored unpadded (``[L, D]``, float32): each prompt's
    ``cond`` in ``<key>.safetensors``, and the unconditional context, which for text-to-video does not
    depend on the prompt, once in ``uncond.safetensors`` (a prompt file carries its own ``uncond`` only if
    it differs). Every file's metadata repeats the identity; a file made for another one is refused."""

    def __init__(self, root: str | Path, *, checkpoint: str, context_len: int = CONTEXT_LEN,
                 builder: int = CONTEXT_BUILDER_VERSION):
        self.identity = {"checkpoint": checkpoint, "builder": str(builder), "context_len": str(context_len)}
        self.context_len = context_len
        self.dir = Path(root).expanduser() / f"{checkpoint}-b{builder}-L{context_len}"

    def path(self, prompt: str) -> Path:
        return self.dir / f"{context_key(prompt)}.safetensors"

    @property
    def uncond_path(self) -> Path:
        return self.dir / "uncond.safetensors"

    def _metadata(self, path: Path) -> dict[str, str]:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return f.metadata() or {}
        except (SafetensorError, OSError) as e:
            raise _error(f"{path}: unreadable context file ({e}); delete it to rebuild") from None

    def _check(self, path: Path, prompt: str | None) -> None:
        meta = self._metadata(path)
        expected = {**self.identity, **({"prompt": prompt} if prompt is not None else {})}
        for field, want in expected.items():
            if meta.get(field) != want:
                raise _error(f"{path}: stale context ({field} is {meta.get(field)!r}, this run needs {want!r}); "
                             "delete it to rebuild")

    def missing(self, prompts: Iterable[str]) -> list[str]:
        """Prompts without a context here; a file made for another identity is an error, not a miss."""
        unique = list(dict.fromkeys(prompts))  # once: ``prompts`` may be a one-pass iterator
        todo = []
        for p in unique:
            if self.path(p).is_file():
                self._check(self.path(p), p)
            else:
                todo.append(p)
        if len(todo) < len(unique) and not self.uncond_path.is_file():
            raise _error(f"{self.uncond_path}: missing (the unconditional context of the contexts beside it)")
        return todo

    def put(self, prompt: str, cond, uncond) -> Path:
        """Store one prompt's contexts (the worker writes the same layout)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tensors = {"cond": cond.float()}
        if not self.uncond_path.is_file():
            _save_tensors(self.uncond_path, {"uncond": uncond.float()}, self.identity)
        elif not _same(self._load(self.uncond_path, None)["uncond"], uncond.float()):
            tensors["uncond"] = uncond.float()
        _save_tensors(self.path(prompt), tensors, {**self.identity, "prompt": prompt})
        return self.path(prompt)

    def _load(self, path: Path, prompt: str | None) -> dict:
        from safetensors.torch import load_file

        self._check(path, prompt)
        tensors = load_file(path)
        for name, t in tensors.items():
            if t.ndim != 2 or t.shape[0] > self.context_len:
                raise _error(f"{path}: tensor {name!r} has shape {tuple(t.shape)}, expected [L, D] with L <= {self.context_len}")
        return tensors

    def get(self, prompt: str):
        """``(cond, uncond)``, each ``[L, D]`` unpadded."""
        path = self.path(prompt)
        if not path.is_file():
            raise _error(f"no Omni-Video context for prompt {prompt[:60]!r} ({path}); {INSTALL_HINT}")
        tensors = self._load(path, prompt)
        if "cond" not in tensors:
            raise _error(f"{path}: expected a tensor 'cond', got {sorted(tensors)}")
        uncond = tensors.get("uncond")
        if uncond is None:
            if not self.uncond_path.is_file():
                raise _error(f"{self.uncond_path}: missing (the unconditional context of {path.name})")
            uncond = self._load(self.uncond_path, None)["uncond"]
        if uncond.shape[-1] != tensors["cond"].shape[-1]:
            raise _error(f"{path}: cond and uncond widths differ ({tensors['cond'].shape[-1]} vs {uncond.shape[-1]})")
        return tensors["cond"], uncond


def _same(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def pad_context(context, length: int):
    """Zero rows up to ``length``, as upstream's WanModel pads every context to its ``text_len`` before the
    text embedding (the padded rows become the embedding's bias and are attended to)."""
    import torch

    return torch.cat([context, context.new_zeros(length - context.shape[0], context.shape[1])])


def physical_gpu(device: str, visible: str | None) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` entry of the parent's ``device`` (``cuda:N``), so the worker uses that GPU."""
    if not device.startswith("cuda"):
        return None
    index = int(device.partition(":")[2] or 0)
    entries = [e.strip() for e in visible.split(",")] if visible else None
    if entries is None:
        return str(index)
    if index >= len(entries):
        raise _error(f"device {device}: CUDA_VISIBLE_DEVICES={visible} has no such GPU")
    return entries[index]


def worker_env(parent: dict[str, str], *, device: str, port: int, repo: Path) -> dict[str, str]:
    """A clean single-process distributed environment for upstream's ``init_process_group`` (rank 0 of 1 on a
    free local port), pinned to the parent's GPU, with upstream's own PYTHONPATH (as inference.sh sets it)."""
    env = {k: v for k, v in parent.items() if k not in _DIST_VARS and not k.startswith("TORCHELASTIC_")}
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    gpu = physical_gpu(device, parent.get("CUDA_VISIBLE_DEVICES"))
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), str(repo / "nets" / "third_party"), parent.get("PYTHONPATH")) if p)
    return env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def build_contexts(prompts: list[str], store: ContextStore, *, upstream_python: str | None, upstream_repo: str | None,
                   ckpt_dir: str | None, device: str = "cpu", timeout: float = 3600.0) -> None:
    """Fill ``store`` for the prompts it lacks with ONE run of the upstream package in its own environment.

    Refused unless ``ckpt_dir`` (where the harness loads the DiT from) is the checkpoint upstream reads:
    upstream ignores ``--ckpt_dir`` and always loads ``<repo>/omni_ckpts``.
    """
    todo = store.missing(prompts)
    if not todo:
        return
    if not upstream_python or not upstream_repo:
        raise _error(f"omni-video: {len(todo)} prompt(s) have no precomputed context in {store.dir}; {INSTALL_HINT}")
    repo = Path(upstream_repo).expanduser().resolve()
    if not (repo / "nets" / "omni").is_dir():
        raise _error(f"option upstream_repo {repo}: not an Omni-Video1 checkout (no nets/omni); {INSTALL_HINT}")
    theirs = repo / "omni_ckpts"
    if not theirs.is_dir():
        raise _error(f"{theirs}: no such directory; upstream reads its checkpoints only from there (link it to your omni_ckpts)")
    if ckpt_dir is None or (Path(ckpt_dir).expanduser().resolve() != theirs.resolve()
                            and checkpoint_fingerprint(ckpt_dir) != checkpoint_fingerprint(theirs)):
        raise _error(f"option ckpt_dir {ckpt_dir}: not the checkpoint upstream's worker uses ({theirs}, which upstream "
                     "always reads, ignoring --ckpt_dir); point ckpt_dir at it or make it a link to ckpt_dir")
    store.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".worker-", dir=store.dir) as tmp:
        prompts_file, report_file = Path(tmp) / "prompts.json", Path(tmp) / "report.json"
        prompts_file.write_text(json.dumps(todo))
        cmd = [upstream_python, str(Path(__file__).resolve()), "--repo", str(repo), "--out", str(store.dir),
               "--prompts", str(prompts_file), "--identity", json.dumps(store.identity), "--report", str(report_file)]
        env = worker_env(dict(os.environ), device=device, port=_free_port(), repo=repo)
        log.info("building Omni-Video contexts for %d prompt(s) with %s (one upstream process, GPU %s)", len(todo),
                 upstream_python, env.get("CUDA_VISIBLE_DEVICES", "-"))
        try:
            proc = subprocess.Popen(cmd, cwd=repo, env=env, start_new_session=True)
        except OSError as e:
            raise _error(f"option upstream_python {upstream_python}: cannot run it ({e.strerror}); {INSTALL_HINT}") from None
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise _error(f"the Omni-Video context worker did not finish within {timeout:g} s ({len(todo)} prompts); "
                         "contexts written so far are kept; raise --gen-arg worker_timeout=SECONDS") from None
        except BaseException:  # Ctrl-C: the worker is in its own session, so stop it here
            _kill(proc)
            raise
        report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    if code != 0 or report.get("error"):
        raise _error(f"the Omni-Video context worker failed (exit {code}): "
                     + (report.get("error") or "see its output above"))
    log.info("Omni-Video contexts built by upstream commit %s", report.get("upstream_commit", "?"))
    still = store.missing(todo)
    if still:
        raise _error(f"the Omni-Video context worker wrote no context for {len(still)} prompt(s) in {store.dir}")


def omnivideo_denoiser(pipe, store: ContextStore, *, device: str = "cpu", batch_cfg: bool = True):
    """A :class:`bridge.WanDenoiser` over the Omni-Video DiT whose ``encode`` reads the stored contexts."""
    from .bridge import Conditioning, WanDenoiser

    class OmniVideoDenoiser(WanDenoiser):
        def encode(self, prompt: str, negative_prompt: str = "") -> Conditioning:
            # Omni-Video's unconditional context is its own (no negative prompt); both padded as upstream pads them
            cond, uncond = (pad_context(c, store.context_len)[None].to(device=self.device, dtype=self._dtype) for c in store.get(prompt))
            return Conditioning(cond, uncond)

    return OmniVideoDenoiser(pipe, device=device, batch_cfg=batch_cfg)


# ------------------------------------------------------------- the worker (upstream environment only)


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
