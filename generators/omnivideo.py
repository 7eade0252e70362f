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

The worker (``omnivideo_worker.py``) needs the upstream package and a GPU; the tests run it against a fake
upstream tree that mirrors upstream's module names, attribute paths, argparse defaults and call order.
The worker itself is ``omnivideo_worker.py`` (standard library only at the top, nothing from vrbench).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vrbench.errors import VRBenchError
from vrbench.generator import GeneratedVideo, GenerationRequest, Generator, register_generator

from . import omnivideo_worker
from .diffusers_video import SEED_POLICY, Dtype, check_video_options, resolve_device, resolve_dtype
from .omnivideo_worker import CONTEXT_BUILDER_VERSION, CONTEXT_LEN, INFERENCE_SH_T2V, _same, _save_tensors, context_key  # noqa: F401  (shared with the worker)

if TYPE_CHECKING:
    from .denoisers import Denoiser

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
    from vrbench.files import cache_dir

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
    from vrbench.files import file_lock

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

#: torchrun's variables: the worker must not inherit them (it would try to join the parent's job)
_DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK",
              "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")
_MIB = 1 << 20


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
        cmd = [upstream_python, str(Path(omnivideo_worker.__file__).resolve()), "--repo", str(repo), "--out", str(store.dir),
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
    """A :class:`denoisers.WanDenoiser` over the Omni-Video DiT whose ``encode`` reads the stored contexts."""
    from .denoisers import Conditioning, WanDenoiser

    class OmniVideoDenoiser(WanDenoiser):
        def encode(self, prompt: str, negative_prompt: str = "") -> Conditioning:
            # Omni-Video's unconditional context is its own (no negative prompt); both padded as upstream pads them
            cond, uncond = (pad_context(c, store.context_len)[None].to(device=self.device, dtype=self._dtype) for c in store.get(prompt))
            return Conditioning(cond, uncond)

    return OmniVideoDenoiser(pipe, device=device, batch_cfg=batch_cfg)


# ---------------------------------------------------------------------------------- the generator


@dataclass
class OmniVideoOptions:
    """Where Omni-Video's weights and conditioning come from (shared by omni-video and the Lumos-Nexus pairs)."""

    ckpt_dir: str | None = None  # upstream omni_ckpts/ (the DiT is omni_ckpts/transformer/model.pt)
    context_dir: str | None = None  # Omni-Video contexts, one folder per checkpoint (default: the vrbench cache)
    upstream_python: str | None = None  # python of the upstream Omni-Video environment, to build missing contexts
    upstream_repo: str | None = None  # its previous_version/Omni-Video1 checkout (with omni_ckpts/ inside)
    worker_timeout: float = 3600.0  # seconds for one context-worker run (model loading included)
    base_model: str = BASE_MODEL  # Wan2.1-1.3B diffusers repo: DiT config, VAE, scheduler
    cache_dir: str | None = None  # converted DiT weights (default: ~/.cache/vrbench/omnivideo)
    prompt_prefix: str = PROMPT_PREFIX

    def _checked_ckpt_dir(self) -> str:
        if not self.ckpt_dir:
            raise VRBenchError(f"{self.registry_name} needs --gen-arg ckpt_dir=/path/to/omni_ckpts (Omni-Video's checkpoints)")  # type: ignore[attr-defined]
        if not Path(self.ckpt_dir).expanduser().is_dir():
            raise VRBenchError(f"{self.registry_name} option ckpt_dir {self.ckpt_dir}: no such directory")  # type: ignore[attr-defined]
        return self.ckpt_dir

    def _fingerprint(self) -> str:
        if getattr(self, "_ckpt_fingerprint", None) is None:
            self._ckpt_fingerprint = checkpoint_fingerprint(self._checked_ckpt_dir())
        return self._ckpt_fingerprint

    def _store(self):
        return ContextStore(self.context_dir or default_cache_dir() / "contexts", checkpoint=self._fingerprint())

    def _omni_prompt(self, prompt: str) -> str:
        return self.prompt_prefix + prompt

    def prepare(self, requests: Sequence[GenerationRequest]) -> None:
        """Build every missing context in one upstream run, before any weights are loaded here."""
        build_contexts([self._omni_prompt(r.prompt) for r in requests], self._store(), upstream_python=self.upstream_python,
                       upstream_repo=self.upstream_repo, ckpt_dir=self.ckpt_dir,
                       device=resolve_device(self.device), timeout=self.worker_timeout)  # type: ignore[attr-defined]

    def _omni_pipeline(self, torch_dtype, flow_shift: float):
        return build_pipeline(self._checked_ckpt_dir(), base_model=self.base_model, torch_dtype=torch_dtype, flow_shift=flow_shift,
                              cache_dir=self.cache_dir)

    def _omni_signature(self) -> dict[str, Any]:
        ckpt = self.ckpt_dir and Path(self.ckpt_dir).expanduser()
        return {"model": "Omni-Video (SAIS-FUXI/Omni-Video v1)", "ckpt_dir": self.ckpt_dir, "base_model": self.base_model,
                "prompt_prefix": self.prompt_prefix,
                # where the contexts come from: the checkpoint, the worker's version, the DiT's context length
                "contexts": {"checkpoint": self._fingerprint() if ckpt and ckpt.is_dir() else None,
                             "builder": CONTEXT_BUILDER_VERSION, "context_len": CONTEXT_LEN,
                             "upstream_flags": "tools/inference/inference.sh (t2v)"}}


@register_generator("omni-video")
@dataclass
class OmniVideo(OmniVideoOptions, Generator):
    """Omni-Video (Wan2.1-1.3B DiT conditioned by its VLM), sampled as upstream does: UniPC, shift 5, CFG s=5 (g=6)."""

    requires = ("torch", "diffusers", "transformers")

    steps: int = 50
    guidance: float = 6.0  # standard form; upstream's cond + 5 (cond - uncond)
    flow_shift: float = 5.0
    height: int = 480
    width: int = 832
    frames: int = 81
    fps: float = 16.0
    batch_cfg: bool = True
    dtype: Dtype = "auto"
    device: str = "auto"

    def __post_init__(self) -> None:
        check_video_options(self.registry_name, self.steps, self.height, self.width, self.frames, self.fps)
        self._denoiser: Denoiser | None = None

    def load(self) -> None:
        import torch

        if self._denoiser is not None:
            return
        device = resolve_device(self.device)
        pipe = self._omni_pipeline(getattr(torch, resolve_dtype(self.dtype, device, "bfloat16")), self.flow_shift).to(device)
        self._denoiser = omnivideo_denoiser(pipe, self._store(), device=device, batch_cfg=self.batch_cfg)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedVideo]:
        from .sampling import frames_uint8, sample, seeded_generator

        self.prepare(requests)  # a no-op when the runner already prepared them
        self.load()
        d = self._denoiser
        assert d is not None  # load() set it
        out = []
        for r in requests:
            start = time.perf_counter()
            generator = seeded_generator(r.seed)
            latents = d.prepare_latents(1, self.height, self.width, self.frames, generator)
            latents = sample(d, d.encode(self._omni_prompt(r.prompt)), latents, num_steps=self.steps,
                             guidance_scale=self.guidance, generator=generator)
            frames = frames_uint8(d.decode(latents))[0]
            out.append(GeneratedVideo(frames, float(self.fps), info={"seconds": round(time.perf_counter() - start, 3)}))
        return out

    def signature(self) -> dict[str, Any]:
        device = resolve_device(self.device)
        return {**self._omni_signature(), "steps": self.steps, "guidance": self.guidance, "flow_shift": self.flow_shift,
                "scheduler": "UniPCMultistepScheduler(flow_prediction)", "height": self.height, "width": self.width,
                "frames": self.frames, "fps": self.fps, "batch_cfg": self.batch_cfg,
                "dtype": resolve_dtype(self.dtype, device, "bfloat16"), "seed_policy": SEED_POLICY}

    def close(self) -> None:
        self._denoiser = None
