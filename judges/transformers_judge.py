"""Local judges through transformers: `transformers` (any Hugging Face VLM) and `tiny-qwen-vl` (tests, demos).

The frames go to the model as a sequence of images, each after its timestamp label, followed by the
same prompt text the server judges send. P(yes) comes from the first decoding step's logits: softmax
over the yes-token and no-token logits (all their casings). The answer text comes from greedy decoding
(``constrain=none``), or is the likelier of yes and no at that first step (``constrain=tokens``: yes
when P(yes) >= 0.5), so answer and P(yes) always agree.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

from vrbench.errors import VRBenchError
from vrbench.judge import Judge, Reply, register_judge
from vrbench.judge_messages import VideoInput, prompt_text

YES_WORDS = ("yes", "Yes", "YES", " yes", " Yes")
NO_WORDS = ("no", "No", "NO", " no", " No")


def _single_token_ids(tokenizer, words: tuple[str, ...]) -> list[int]:
    ids = set()
    for w in words:
        enc = tokenizer.encode(w, add_special_tokens=False)
        if len(enc) == 1 and enc[0] != tokenizer.unk_token_id:
            ids.add(enc[0])
    return sorted(ids)


@register_judge("transformers")
class TransformersJudge(Judge):
    """Any Hugging Face vision-language model run locally (--judge-arg model=PATH_OR_ID); P(yes) from first-step logits."""

    requires = ("torch", "transformers")

    max_concurrency = 1  # one forward pass at a time; the model uses the whole device
    needs_jpegs = False

    def __init__(self, *, model: str = "", revision: str | None = None, device: str = "auto", dtype: str = "auto",
                 num_frames: int = 8, max_pixels: int | None = 448 * 448, template: str = "yes_no",
                 show_prompt: bool = False, max_new_tokens: int = 8, constrain: Literal["none", "tokens"] = "none"):
        super().__init__(num_frames=num_frames, max_pixels=max_pixels, template=template, show_prompt=show_prompt)
        if constrain not in ("none", "tokens"):
            raise VRBenchError(f"{self.registry_name} option constrain: expected none or tokens, got {constrain!r}")
        self.model_id, self.revision = model, revision
        self.device, self.dtype = device, dtype
        self.max_new_tokens = max_new_tokens
        self.constrain = constrain
        self.model: Any = None
        self.processor: Any = None
        self._lock = threading.Lock()

    def signature(self) -> dict[str, Any]:
        # resolved: "auto" means another device and dtype on another machine
        dtype = str(self._torch_dtype()).removeprefix("torch.")
        device = self._torch_device().split(":")[0]  # cuda or cpu (which GPU does not matter)
        return {**super().signature(), "model": self.model_id, "revision": self.revision, "device": device, "dtype": dtype,
                "decoding": "greedy" if self.constrain == "none" else "yes if P(yes) >= 0.5"}

    # -- loading --------------------------------------------------------------------------------
    def check(self) -> None:
        if not self.model_id:
            raise VRBenchError("transformers judge: no model; pass --judge-arg model=HF_ID_OR_PATH")

    def build(self) -> tuple[Any, Any]:
        """(processor, model); subclasses may build them in memory instead of loading them."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(self.model_id, revision=self.revision)
            model = AutoModelForImageTextToText.from_pretrained(self.model_id, revision=self.revision, dtype=self._torch_dtype())
        except OSError as e:
            raise VRBenchError(f"transformers judge: cannot load {self.model_id} ({str(e).splitlines()[0]})") from None
        return processor, model

    def _torch_device(self) -> str:
        import torch

        return ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device

    def _torch_dtype(self):
        import torch

        if self.dtype == "auto":
            return torch.bfloat16 if self._torch_device().startswith("cuda") else torch.float32
        try:
            return getattr(torch, self.dtype)
        except AttributeError:
            raise VRBenchError(f"transformers judge option dtype: expected auto, float32, bfloat16 or float16, got {self.dtype!r}") from None

    def load(self) -> None:
        self.processor, model = self.build()
        self.model = model.to(self._torch_device()).eval()
        tokenizer = self.processor.tokenizer
        self.yes_ids = _single_token_ids(tokenizer, YES_WORDS)
        self.no_ids = _single_token_ids(tokenizer, NO_WORDS)
        if not self.yes_ids or not self.no_ids:
            raise VRBenchError(f"transformers judge: the tokenizer of {self.model_id} has no single-token yes/no")

    # -- answering ------------------------------------------------------------------------------
    def messages(self, video: VideoInput, question: str, *, prompt: str | None, strict: bool) -> list[dict]:
        parts: list[dict] = []
        for t in video.timestamps:
            parts += [{"type": "text", "text": self.template.frame_label(t)}, {"type": "image"}]
        parts.append({"type": "text", "text": prompt_text(self.template, video, question, strict=strict,
                                                          prompt=prompt if self.show_prompt else None)})
        return [{"role": "user", "content": parts}]

    def answer(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        """Blocking: one greedy generation (a single step with ``constrain=tokens``); P(yes) from its first step."""
        import torch

        text = self.processor.apply_chat_template(self.messages(video, question, prompt=prompt, strict=strict),
                                                  add_generation_prompt=True, tokenize=False)
        assert video.frames is not None  # needs_frames: prepare() sampled them
        inputs = self.processor(text=[text], images=list(video.frames.images), return_tensors="pt").to(self.model.device)
        constrained = self.constrain == "tokens"
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=1 if constrained else self.max_new_tokens, do_sample=False,
                                      output_logits=True, return_dict_in_generate=True)
        first = torch.log_softmax(out.logits[0][0].float(), dim=-1)
        yes, no = torch.logsumexp(first[self.yes_ids], 0), torch.logsumexp(first[self.no_ids], 0)
        p_yes = float(torch.sigmoid(yes - no))
        if constrained:  # the likelier answer (its casings summed, as in P(yes)), spelt as its likeliest token
            group = self.yes_ids if p_yes >= 0.5 else self.no_ids
            chosen = [group[int(torch.argmax(first[group]))]]
        else:
            chosen = out.sequences[0, inputs["input_ids"].shape[1]:]
        reply = self.processor.tokenizer.decode(chosen, skip_special_tokens=True).strip()
        return Reply(reply, p_yes)

    async def ask(self, video: VideoInput, question: str, *, prompt: str | None = None, strict: bool = False) -> Reply:
        return await asyncio.to_thread(self.answer, video, question, prompt=prompt, strict=strict)

    async def aclose(self) -> None:
        self.model = None


@register_judge("tiny-qwen-vl")
class TinyQwenVLJudge(TransformersJudge):
    """A tiny randomly initialised Qwen3-VL built in memory (no download) for tests and demos; its answers are meaningless.

    Same code path as the `transformers` judge; only ``build()`` differs: a word-level tokenizer made
    on the spot, a Qwen2-VL image processor (PIL, no torchvision) and a 2-layer Qwen3-VL with random
    weights from a fixed seed, so its (meaningless) answers are reproducible.

    It answers with the likelier of yes and no (``constrain=tokens``: yes when P(yes) >= 0.5). Free
    text from random weights is the same word whatever the video and question (it said "no" to
    everything, so every demo score was 0), while P(yes) moves a little around 0.5 with both, so the
    demo's answers and scores spread out as a real judge's do. They still say nothing about any video.
    """

    def __init__(self, *, seed: int = 0, num_frames: int = 4, max_pixels: int | None = 64 * 64,
                 template: str = "yes_no", show_prompt: bool = False, max_new_tokens: int = 4,
                 constrain: Literal["none", "tokens"] = "tokens"):
        super().__init__(model="tiny-qwen-vl", device="cpu", dtype="float32", num_frames=num_frames,
                         max_pixels=max_pixels, template=template, show_prompt=show_prompt,
                         max_new_tokens=max_new_tokens, constrain=constrain)
        self.seed = seed

    def signature(self) -> dict[str, Any]:
        return {**super().signature(), "seed": self.seed, "weights": "random"}

    def build(self) -> tuple[Any, Any]:
        from ._tiny_qwen import tiny_qwen3_vl

        return tiny_qwen3_vl(seed=self.seed)
