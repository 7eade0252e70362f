"""An example vrbench judge. It is a TOY: it needs no model and no weights, and its answers mean nothing.

It answers every question from one number, how much the sampled frames change from one to the next
(motion energy): "yes" when the video moves more than ``threshold``, "no" when it is nearly still,
whatever the question asks. It shows the interface a real judge implements; replace ``ask`` with a call
to your model. Install this folder as a package (``pip install ./examples/judge``) and vrbench finds
it through the entry point in its pyproject.toml: ``vrbench judge RUN --judge example-motion``.
"""

from __future__ import annotations

import numpy as np

from vrbench.errors import VRBenchError
from vrbench.judge import Judge, Reply, register_judge


@register_judge("example-motion")
class MotionToyJudge(Judge):
    """Example plugin, a toy without a model: answers yes when the frames move, whatever the question."""

    # vrbench samples the frames (decoded once per video, for all its questions); this judge reads them
    # as arrays, so it asks vrbench not to encode them as JPEGs for a server.
    needs_jpegs = False

    # Keyword arguments are the options (`--judge-arg threshold=2.5`). Keep the constructor cheap and
    # always call super().__init__(): it stores num_frames, max_pixels and the prompt template, which
    # go into the judge signature.
    def __init__(self, *, threshold: float = 4.0, num_frames: int = 8, max_pixels: int | None = 128 * 128):
        super().__init__(num_frames=num_frames, max_pixels=max_pixels)
        if not threshold > 0:  # a bad option is a one-line error (VRBenchError), raised before any work
            raise VRBenchError(f"example-motion option threshold: expected > 0, got {threshold}")
        self.threshold = threshold

    def signature(self):
        # Every option (threshold, num_frames, ...) is in the signature already, so a cached answer is
        # reused only under the same values; add what options do not say, such as the rule's version.
        return {**super().signature(), "rule": "motion-energy/v1"}

    # ask() must be a coroutine (async def): the judge stage keeps many questions in flight at once.
    # A judge that blocks (a local model) runs its work in a thread: `await asyncio.to_thread(...)`.
    async def ask(self, video, question, *, prompt=None, strict=False):
        images = video.frames.images.astype(np.float32)  # (N, H, W, 3) uint8 -> float, N <= num_frames
        energy = float(np.abs(np.diff(images, axis=0)).mean()) if len(images) > 1 else 0.0
        p_yes = energy / (energy + self.threshold)  # 0 when still, 0.5 at the threshold, towards 1 above
        # The stage parses the text as yes/no; p_yes is optional (None when your backend has none).
        return Reply(text="yes" if energy > self.threshold else "no", p_yes=p_yes)
