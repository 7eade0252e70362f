"""An example vrbench model adapter: any diffusers text-to-video pipeline, one video per request.

Install this folder as a package (``pip install ./examples/adapter``) and vrbench finds the adapter
through the entry point in its pyproject.toml: ``vrbench run --model example-diffusers ...``.
Copy the file, rename the class and the entry point, and change what your model needs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from vrbench.generator import GeneratedVideo, Generator, register_generator


@register_generator("example-diffusers")
class ExampleDiffusers(Generator):
    """Example plugin: any diffusers text-to-video pipeline, loaded with DiffusionPipeline (--model-path)."""

    # Optional packages load() imports: checked (without importing them) before anything else happens.
    requires = ("torch", "diffusers")

    # The constructor's keyword arguments are the options: `--gen-arg steps=30`, `--model-path DIR`,
    # `--device cpu`, `--dtype float32`. Their annotations say how the command line text is parsed.
    # Keep it cheap (no torch, no weights): vrbench makes it to check the options and read signature().
    def __init__(self, model_path: str = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", steps: int = 50, guidance: float = 5.0,
                 height: int = 480, width: int = 832, frames: int = 81, fps: float = 16.0, device: str = "cuda",
                 dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"):
        self.model_path, self.steps, self.guidance = model_path, steps, guidance
        self.height, self.width, self.frames, self.fps = height, width, frames, fps
        self.device, self.dtype = device, dtype
        self.pipe = None

    def load(self):
        # Heavy imports and weights live here; vrbench calls it once, before the first generate().
        import torch
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(self.model_path, torch_dtype=getattr(torch, self.dtype))
        pipe.set_progress_bar_config(disable=True)  # vrbench shows its own progress bar
        self.pipe = pipe.to(self.device)

    def generate(self, requests):
        # One GeneratedVideo per request: uint8 frames (T, H, W, 3) and the fps to play them at.
        # The runner writes the mp4 files, resumes after a crash and shards across GPUs.
        import torch

        videos = []
        for r in requests:
            out = self.pipe(
                r.prompt,
                num_frames=self.frames,
                height=self.height,
                width=self.width,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                generator=torch.Generator(self.device).manual_seed(r.seed),  # same (case, seed) -> same video
                output_type="np",  # floats in [0, 1], shape (batch, T, H, W, 3)
            )
            frames = (np.clip(out.frames[0], 0.0, 1.0) * 255).round().astype(np.uint8)
            videos.append(GeneratedVideo(frames=frames, fps=self.fps))
        return videos

    def signature(self):
        # Every setting that changes pixels. vrbench records it in run.json and refuses to mix videos
        # made with another signature into the same run directory.
        return {"model": self.model_path, "steps": self.steps, "guidance": self.guidance, "height": self.height,
                "width": self.width, "frames": self.frames, "fps": self.fps, "dtype": self.dtype,
                "device": self.device}  # the starting noise comes from a generator on this device
