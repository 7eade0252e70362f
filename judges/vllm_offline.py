"""The offline vLLM engine behind `qwen3-vl` when no --judge-url is given (needs vllm and a CUDA GPU).

Thin on purpose: it takes the same request the server path sends (``Qwen3VLJudge.build_request``),
swaps the video part for a placeholder, renders the prompt with the model's chat template, and hands
vLLM the decoded frames with their metadata (fps, total_num_frames, frames_indices) so Qwen3-VL
knows each frame's timestamp. Questions arriving together are batched into one ``generate`` call, so
the 8 questions of a video share the prefix and encoder caches. Not testable on CPU; its test is
marked gpu.
"""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace
from typing import Any

from .prompts import VideoInput


def offline_available() -> str | None:
    """None when the offline engine can run here, else why not."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "vllm is not installed: pip install 'vrbench[vllm]'"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    return None


def _as_completion(output: Any) -> SimpleNamespace:
    """A vLLM RequestOutput shaped like an OpenAI chat completion (what reply_from_response reads)."""
    first = output.outputs[0]
    content = None
    if first.logprobs:
        top = [SimpleNamespace(token=lp.decoded_token, logprob=lp.logprob) for lp in first.logprobs[0].values()]
        content = [SimpleNamespace(token=top[0].token if top else "", logprob=top[0].logprob if top else -math.inf,
                                   top_logprobs=top)]
    choice = SimpleNamespace(message=SimpleNamespace(content=first.text), logprobs=SimpleNamespace(content=content))
    return SimpleNamespace(choices=[choice])


class OfflineVLLM:
    def __init__(self, model: str, *, revision: str | None = None, **engine_args: Any):
        from transformers import AutoProcessor
        from vllm import LLM

        self.llm = LLM(model=model, revision=revision, limit_mm_per_prompt={"video": 1, "image": 0}, **engine_args)
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self._pending: list[tuple[dict, Any, asyncio.Future]] = []
        self._flush: asyncio.Task | None = None

    def token_ids(self, words: tuple[str, ...]) -> list[int]:
        tok = self.llm.get_tokenizer()
        return sorted({ids[0] for w in words if len(ids := tok.encode(w, add_special_tokens=False)) == 1})

    def _sampling_params(self, request: dict[str, Any]):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        extra = request.get("extra_body") or {}
        choice = (extra.get("structured_outputs") or {}).get("choice")
        return SamplingParams(
            temperature=request.get("temperature", 0.0),
            max_tokens=request.get("max_tokens", 16),
            logprobs=request.get("top_logprobs") if request.get("logprobs") else None,
            allowed_token_ids=extra.get("allowed_token_ids") or None,
            structured_outputs=StructuredOutputsParams(choice=choice) if choice else None,
        )

    def _engine_input(self, request: dict[str, Any], video: VideoInput) -> dict[str, Any]:
        # the same messages the server gets, with the video part as the chat template's placeholder
        messages = [{**m, "content": [{"type": "video"} if part["type"] == "video_url" else part for part in m["content"]]}
                    for m in request["messages"]]
        prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        f = video.frames
        metadata = {"fps": f.fps, "total_num_frames": f.total_frames, "frames_indices": list(f.indices),
                    "duration": f.duration, "video_backend": "vrbench-decord", "do_sample_frames": False}
        return {"prompt": prompt, "multi_modal_data": {"video": [(f.images, metadata)]},
                "mm_processor_kwargs": {"do_sample_frames": False}}

    async def complete_video(self, request: dict[str, Any], video: VideoInput) -> tuple[Any, int]:
        """Queue one request; requests queued in the same event-loop turn go to vLLM as one batch."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((self._engine_input(request, video), self._sampling_params(request), future))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._run_batch())
        return await future, 1

    async def _run_batch(self) -> None:
        await asyncio.sleep(0)  # let the rest of this turn's questions queue up
        batch, self._pending = self._pending, []
        try:
            outputs = await asyncio.to_thread(self.llm.generate, [b[0] for b in batch], [b[1] for b in batch], use_tqdm=False)
        except Exception as e:  # one failed batch must not hang its waiters
            for _, _, fut in batch:
                fut.set_exception(e)
            return
        for (_, _, fut), out in zip(batch, outputs):
            fut.set_result(_as_completion(out))

    async def aclose(self) -> None:
        del self.llm
