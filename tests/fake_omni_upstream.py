"""A fake upstream Omni-Video1 tree for the context-worker tests, written into a temp folder.

It mirrors what our worker touches in SAIS-FUXI/Omni-Video ``previous_version/Omni-Video1`` (read at
commit adcee0a4a5b439ad3615f825298221b21177d4e3):

- module names and paths: ``tools/inference/generate.py`` (``parse_args`` calling ``validate_args``),
  ``nets/omni/omni_video_generator.py`` (``OmniVideoGenerator``), ``nets/omni/omni_video_unified_gen.py``
  (``OmniVideoX2XUnified``), ``nets/omni/modules/omni_video_model.py`` (``OmniVideoMixedConditionModel``
  with its DiT at ``.wan_model``), ``nets/omni/modules/vila_ar_model.py`` (``VilaARVideoModel.general_emb``);
- generate.py's argparse defaults (max_context_len 1024, unconditioned_context_length 256,
  use_visual_context_adapter false, skip_num 0, sample_fps 8), which differ from inference.sh's flags;
- ``OmniVideoGenerator`` reads ``<repo>/omni_ckpts`` whatever ``--ckpt_dir`` says, calls
  ``init_process_group(init_method="env://")`` with RANK/WORLD_SIZE/LOCAL_RANK from the environment,
  and only warns when the special tokens or the unconditioned context cannot be loaded;
- the mixed model builds ``[<ipl_st>, adapter (4 x query_length rows), <ipl_ed>, <prp_st>, T5, <prp_ed>]``,
  cuts it to ``max_context_len``, and calls ``self.wan_model(x, t=t, context=[...], seq_len=...)``, which
  zero-pads to ``text_len`` before its text embedding; ``generate`` calls the model with the conditional
  arguments first, then the unconditional ones (``uncond_ar_vision`` and ``uncond_context`` from
  ``context.pkl``).

CPU stand-ins where upstream needs CUDA: the gloo backend instead of nccl, no ``torch.cuda.set_device``,
tensors on the CPU; widths are tiny (text width 16). Every component appends a JSON line to
``$FAKE_OMNI_LOG`` (settings, environment) so tests can see what upstream would have received.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

WIDTH = 16  # the DiT's text width (4096 upstream)
LLM = 8  # the VLM's hidden size (4096 upstream)
SPECIAL = ("<ipl_st>", "<ipl_ed>", "<prp_st>", "<prp_ed>", "<img_st>", "<img_ed>")

_LOG = '''
import json, os

def log(**record):
    path = os.environ.get("FAKE_OMNI_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record, default=str) + "\\n")
'''

_GENERATE = '''
import argparse
import sys

import torch

from nets.omni.omni_video_generator import OmniVideoGenerator
from nets.third_party.wan.configs import SIZE_CONFIGS
from nets.third_party.wan.utils.utils import str2bool
from nets.fake_log import log


def validate_args(args):
    if not args.prompt:
        raise ValueError("Please provide a prompt using --prompt argument")
    if args.sample_steps is None:
        args.sample_steps = 40 if "i2v" in args.task else 50
    if args.sample_shift is None:
        args.sample_shift = 5.0
    if args.frame_num is None:
        args.frame_num = 1 if "t2i" in args.task else 81
    if args.base_seed < 0:
        args.base_seed = torch.randint(0, 2**32, (1,)).item()


def str2tuple(v):
    v = v.strip()
    if v.startswith("(") and v.endswith(")"):
        v = v[1:-1]
    return tuple(int(x.strip()) for x in v.split(","))


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--task", type=str, default="t2v", choices=["t2v", "t2i", "i2i", "v2v"])
    p.add_argument("--prompt", type=str, required=True)
    p.add_argument("--size", type=str, default="832*480")
    p.add_argument("--frame_num", type=int, default=None)
    p.add_argument("--sample_fps", type=int, default=8)
    for name in ("--ckpt_dir", "--adapter_ckpt_dir", "--vision_head_ckpt_dir", "--new_checkpoint", "--ar_model_path"):
        p.add_argument(name, type=str)
    p.add_argument("--sample_solver", type=str, default="unipc", choices=["unipc", "dpm++"])
    p.add_argument("--sample_steps", type=int, default=None)
    p.add_argument("--sample_shift", type=float, default=None)
    p.add_argument("--sample_guide_scale", type=float, default=5.0)
    p.add_argument("--base_seed", type=int, default=-1)
    p.add_argument("--src_file_path", type=str, default=None)
    p.add_argument("--save_file", type=str)
    p.add_argument("--adapter_in_channels", type=int, default=1152)
    p.add_argument("--adapter_out_channels", type=int, default=4096)
    p.add_argument("--adapter_query_length", type=int, default=256)
    p.add_argument("--use_visual_context_adapter", type=str2bool, default=False)
    p.add_argument("--visual_context_adapter_patch_size", type=str2tuple, default=(1, 4, 4))
    p.add_argument("--use_visual_as_input", type=str2bool, default=False)
    p.add_argument("--condition_mode", type=str, default="full")
    p.add_argument("--max_context_len", type=int, default=1024)
    p.add_argument("--classifier_free_ratio", type=float, default=0.0)
    p.add_argument("--unconditioned_context_path", type=str)
    p.add_argument("--unconditioned_context_length", type=int, default=256)
    p.add_argument("--special_tokens_path", type=str)
    p.add_argument("--ar_model_num_video_frames", type=int, default=8)
    p.add_argument("--ar_query", type=str)
    p.add_argument("--ar_conv_mode", type=str, default="llama_3")
    p.add_argument("--sampling_rate", type=int, default=3)
    p.add_argument("--skip_num", type=int, default=0)
    args = p.parse_args()
    validate_args(args)
    log(component="parse_args", args=vars(args))
    return args
'''

_GENERATOR = '''
import logging
import os
import pickle as pkl

import torch
import torch.distributed as dist

from nets.fake_log import log
from nets.omni.omni_video_unified_gen import OmniVideoX2XUnified
from nets.omni.modules.vila_ar_model import VilaARVideoModel


class OmniVideoGenerator:
    def __init__(self, args):
        self.args = args
        self.device = None
        self.rank, self.world_size = 0, 1
        self.ar_model = self.omnivideo_x2x = self.special_tokens = self.unconditioned_context = None
        project_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.models_dir = os.path.join(project_root, "omni_ckpts")  # --ckpt_dir is ignored, as upstream does
        self.model_paths = {
            "wan_ckpt": os.path.join(self.models_dir, "wan", "wanxiang1_3b"),
            "adapter_ckpt": os.path.join(self.models_dir, "adapter", "model.pt"),
            "vision_head_ckpt": os.path.join(self.models_dir, "vision_head", "vision_head"),
            "transformer_ckpt": os.path.join(self.models_dir, "transformer", "model.pt"),
            "ar_model": os.path.join(self.models_dir, "ar_model", "checkpoint"),
            "unconditioned_context": os.path.join(self.models_dir, "unconditioned_context", "context.pkl"),
            "special_tokens": os.path.join(self.models_dir, "special_tokens", "tokens.pkl"),
        }
        if not os.path.exists(self.models_dir):
            raise FileNotFoundError(f"Models directory not found: {self.models_dir}.")
        log(component="process", pid=os.getpid())

    def setup_distributed(self):
        self.rank = int(os.getenv("RANK", 0))
        self.world_size = int(os.getenv("WORLD_SIZE", 1))
        local_rank = int(os.getenv("LOCAL_RANK", 0))
        self.device = "cpu"  # upstream: local_rank, after torch.cuda.set_device(local_rank)
        log(component="setup_distributed", env={k: os.environ.get(k) for k in
            ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES", "TORCHELASTIC_RUN_ID")})
        dist.init_process_group(backend="gloo", init_method="env://", rank=self.rank, world_size=self.world_size)

    def load_special_tokens(self):
        path = self.model_paths["special_tokens"]
        if not os.path.exists(path):
            logging.warning(f"Special tokens file not found: {path}")
            return
        with open(path, "rb") as f:
            self.special_tokens = {k: v.to(torch.float32) for k, v in pkl.load(f).items()}

    def load_unconditioned_context(self):
        path = self.model_paths["unconditioned_context"]
        if not os.path.exists(path):
            logging.warning(f"Unconditioned context file not found: {path}")
            return
        pstate = pkl.load(open(path, "rb"))
        self.unconditioned_context = {
            "uncond_aligned_emb": pstate["text_emb_siglip2"][0].float(),
            "uncond_context": pstate["text_emb"][0].float(),
            "uncond_ar_vision": pstate["vlm_last_hidden_states"].float(),
        }

    def initialize_models(self):
        if os.environ.get("FAKE_OMNI_HANG"):
            import time

            time.sleep(600)
        self.ar_model = VilaARVideoModel(model_path=self.model_paths["ar_model"], conv_mode=self.args.ar_conv_mode,
                                         num_video_frames=self.args.ar_model_num_video_frames, device=self.device)
        self.omnivideo_x2x = OmniVideoX2XUnified(
            config=None, checkpoint_dir=self.model_paths["wan_ckpt"], adapter_checkpoint_dir=self.model_paths["adapter_ckpt"],
            vision_head_ckpt_dir=self.model_paths["vision_head_ckpt"],
            adapter_query_length=getattr(self.args, "adapter_query_length", 256),
            use_visual_context_adapter=getattr(self.args, "use_visual_context_adapter", True),
            visual_context_adapter_patch_size=getattr(self.args, "visual_context_adapter_patch_size", (1, 4, 4)),
            max_context_len=getattr(self.args, "max_context_len", 2560),
        )
        if os.path.exists(self.model_paths["transformer_ckpt"]):
            state = torch.load(self.model_paths["transformer_ckpt"], map_location="cpu")
            self.omnivideo_x2x.model.load_state_dict(state, strict=False)
'''

_VILA = '''
import hashlib

import torch


class VilaARVideoModel:
    def __init__(self, model_path, model_name=None, model_base=None, conv_mode=None, num_video_frames=6, device="cpu", **kw):
        self.model_path, self.conv_mode, self.num_video_frames = model_path, conv_mode, num_video_frames

    def general_emb(self, prompt, media_path=None, task_type="vid_gen"):
        """Last hidden states [1, tokens, hidden] of 'Generate a video about:\\n' + prompt (deterministic)."""
        assert "t2v" in task_type and media_path is None
        text = "Generate a video about:\\n" + prompt
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        return torch.randn(1, len(text.split()) + 5, %(llm)d, generator=torch.Generator().manual_seed(seed))
'''

_MIXED = '''
import torch
import torch.nn as nn

from nets.fake_log import log


class WanModel(nn.Module):
    def __init__(self, text_len=512, text_dim=%(width)d):
        super().__init__()
        self.text_len, self.text_dim = text_len, text_dim
        self.text_embedding = nn.Linear(text_dim, 4)

    def forward(self, x, t, context, seq_len):
        context = self.text_embedding(torch.stack(
            [torch.cat([u, u.new_zeros(self.text_len - u.size(0), u.size(1))]) for u in context]))
        return [xi * 0 + context.mean() for xi in x]


class OmniVideoMixedConditionModel(nn.Module):
    def __init__(self, adapter_query_length=64, use_visual_context_adapter=False, visual_context_adapter_patch_size=None,
                 max_context_len=None):
        super().__init__()
        self.wan_model = WanModel()
        if max_context_len is not None:
            self.wan_model.text_len = max_context_len
        self.max_context_len = self.wan_model.text_len
        self.query_length = adapter_query_length
        self.ar_vision_head = nn.Linear(%(llm)d, 4 * 3)  # 4 vision tokens (width 3 for 1152)
        self.adapter = nn.Linear(3, adapter_query_length * %(width)d)
        self.visual_context_adapter = nn.Linear(4, %(width)d) if use_visual_context_adapter else None
        log(component="mixed_model", max_context_len=self.max_context_len, adapter_query_length=adapter_query_length,
            use_visual_context_adapter=use_visual_context_adapter, patch_size=visual_context_adapter_patch_size)

    def forward(self, x, t, context=None, aligned_emb=None, ar_vision_input=None, visual_emb=None, ref_images=None,
                seq_len=None, special_token_dict=None, classifier_free_ratio=None, unconditioned_context=None,
                condition_mode="full"):
        assert condition_mode == "full"
        vision = self.ar_vision_head(ar_vision_input[:, -1]).reshape(1, 4, 3)  # [bs, 4, 1152] upstream
        if x[0].size(1) == 1:
            vision = vision[:, 0:1]
        adapter_item = self.adapter(vision.reshape(-1, 3)).reshape(-1, %(width)d)  # [4 * query_length, width]
        context_item = context[0][0] if context[0].dim() == 3 else context[0]
        tok = special_token_dict
        new_context = torch.cat([tok["<ipl_st>"], adapter_item, tok["<ipl_ed>"], tok["<prp_st>"], context_item, tok["<prp_ed>"]])
        if self.max_context_len is not None and new_context.shape[0] > self.max_context_len:
            new_context = new_context[0:self.max_context_len]
        return self.wan_model(x, t=t, context=[new_context], seq_len=seq_len)
'''

_UNIFIED = '''
import hashlib

import torch

from nets.omni.modules.omni_video_model import OmniVideoMixedConditionModel


class T5EncoderModel:
    def __call__(self, texts, device):
        out = []
        for text in texts:
            rows = []
            for word in text.split():
                seed = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                rows.append(torch.randn(%(width)d, generator=torch.Generator().manual_seed(seed)))
            out.append(torch.stack(rows).to(torch.bfloat16))
        return out


class OmniVideoX2XUnified:
    def __init__(self, config, checkpoint_dir, adapter_checkpoint_dir, vision_head_ckpt_dir, adapter_in_channels=1152,
                 adapter_out_channels=4096, adapter_query_length=64, device_id=0, rank=0, use_visual_context_adapter=False,
                 visual_context_adapter_patch_size=(1, 4, 4), max_context_len=None, **kw):
        self.text_encoder = T5EncoderModel()
        self.model = OmniVideoMixedConditionModel(adapter_query_length, use_visual_context_adapter,
                                                  visual_context_adapter_patch_size, max_context_len)
        self.sample_neg_prompt = "bad quality"

    def generate(self, input_prompt, aligned_emb=None, ar_vision_input=None, visual_emb=None, ref_images=None, size=(1280, 720),
                 frame_num=81, shift=5.0, sample_solver="unipc", sampling_steps=50, guide_scale=5.0, n_prompt="", seed=-1,
                 offload_model=True, special_tokens=None, classifier_free_ratio=0.0, unconditioned_context=None,
                 condition_mode="auto", use_visual_as_input=False):
        latent_frames = (frame_num - 1) // 4 + 1
        context = self.text_encoder([input_prompt], "cpu")
        assert type(unconditioned_context) is dict
        context_null = [unconditioned_context["uncond_context"] for _ in context]
        ar_null = unconditioned_context["uncond_ar_vision"]
        common = dict(seq_len=1, visual_emb=visual_emb, ref_images=ref_images, special_token_dict=special_tokens,
                      classifier_free_ratio=0.0, unconditioned_context=unconditioned_context, condition_mode=condition_mode)
        latents = [torch.randn(4, latent_frames, size[1] // 8, size[0] // 8, generator=torch.Generator().manual_seed(seed))]
        for t in torch.linspace(999, 0, sampling_steps):
            timestep = torch.stack([t])
            cond = self.model(latents, t=timestep, context=context, aligned_emb=aligned_emb, ar_vision_input=ar_vision_input, **common)[0]
            uncond = self.model(latents, t=timestep, context=context_null, aligned_emb=None, ar_vision_input=ar_null, **common)[0]
            latents = [latents[0] - 0.01 * (cond + guide_scale * (cond - uncond))]
        return latents[0]
'''

_UTILS = '''
import argparse


def str2bool(v):
    if isinstance(v, bool):
        return v
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if v.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError("Boolean value expected (True/False)")


def cache_video(*args, **kwargs):
    raise NotImplementedError


def cache_image(*args, **kwargs):
    raise NotImplementedError
'''


def write_fake_upstream(root: Path, *, seed: int = 0) -> Path:
    """Write the fake ``Omni-Video1`` tree with its ``omni_ckpts`` under ``root``; returns the repo folder."""
    repo = root / "Omni-Video1"
    fill = {"width": WIDTH, "llm": LLM}
    files = {
        "nets/__init__.py": "", "nets/omni/__init__.py": "", "nets/omni/modules/__init__.py": "",
        "nets/third_party/__init__.py": "", "nets/third_party/wan/__init__.py": "", "nets/third_party/wan/utils/__init__.py": "",
        "nets/fake_log.py": _LOG,
        "nets/third_party/wan/configs.py": "SIZE_CONFIGS = {'832*480': (832, 480)}\nWAN_CONFIGS = {}\n",
        "nets/third_party/wan/utils/utils.py": _UTILS,
        "tools/inference/generate.py": _GENERATE,
        "nets/omni/omni_video_generator.py": _GENERATOR,
        "nets/omni/modules/vila_ar_model.py": _VILA % fill,
        "nets/omni/modules/omni_video_model.py": _MIXED % fill,
        "nets/omni/omni_video_unified_gen.py": _UNIFIED % fill,
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    ckpts = repo / "omni_ckpts"
    g = torch.Generator().manual_seed(seed)
    for rel in ("wan/wanxiang1_3b/config.json", "vision_head/vision_head/config.json", "ar_model/checkpoint/config.json"):
        (ckpts / rel).parent.mkdir(parents=True, exist_ok=True)
        (ckpts / rel).write_text("{}")
    (ckpts / "adapter").mkdir()
    torch.save({"adapter.weight": torch.randn(2, 2, generator=g)}, ckpts / "adapter" / "model.pt")
    (ckpts / "transformer").mkdir()
    torch.save({"wan_model.text_embedding.weight": torch.randn(4, WIDTH, generator=g)}, ckpts / "transformer" / "model.pt")
    (ckpts / "special_tokens").mkdir()
    with open(ckpts / "special_tokens" / "tokens.pkl", "wb") as f:
        pickle.dump({k: torch.randn(1, WIDTH, generator=g) for k in SPECIAL}, f)
    (ckpts / "unconditioned_context").mkdir()
    with open(ckpts / "unconditioned_context" / "context.pkl", "wb") as f:
        pickle.dump({"text_emb_siglip2": [torch.randn(1, 3, generator=g)], "text_emb": [torch.randn(7, WIDTH, generator=g)],
                     "vlm_last_hidden_states": torch.randn(1, 6, LLM, generator=g)}, f)
    return repo
