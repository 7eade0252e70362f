"""The generator interface every adapter implements.

A generator turns prompts into frames. Its constructor is cheap (no imports of torch or diffusers,
no weights); ``load()`` does the heavy work once; ``generate()`` returns frames and the runner (not
the adapter) writes the mp4 files. ``signature()`` lists every setting that changes pixels, so two
runs with equal signatures are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import VRBenchError
from .registry import Registry

#: every generator: the modules of ``vrbench.generators`` (the repo's ``generators/``) and entry points
GENERATORS: Registry = Registry("generator", "vrbench.generators", builtin_package="vrbench.generators")
register_generator = GENERATORS.register
get_generator = GENERATORS.get


@dataclass(frozen=True)
class GenerationRequest:
    case_id: str
    prompt: str
    seed: int


@dataclass
class GeneratedVideo:
    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float
    info: dict[str, Any] = field(default_factory=dict)  # e.g. timings; recorded in generations.jsonl


class CaseFailed(VRBenchError):
    """One request could not be turned into a video (e.g. its file is missing); the others can.

    The runner records a row with ``"error"`` for that case and carries on; any other exception stops
    the run (finished videos stay saved).
    """


class Generator:
    """Base class for video generators (see module docstring)."""

    registry_name: ClassVar[str] = ""
    #: optional packages ``load()`` imports, checked (without importing) before the generator is made
    requires: ClassVar[tuple[str, ...]] = ()
    requires_extra: ClassVar[str] = "gen"
    #: how many requests ``generate`` takes at once (the runner batches accordingly); an adapter may
    #: set it per instance from an option
    batch_size: int = 1

    def prepare(self, requests: Sequence[GenerationRequest]) -> None:
        """Called once with every request this process will generate, before ``load()``: work that needs
        the GPU to itself or runs in another process (e.g. Omni-Video's conditioning). Optional."""

    def load(self) -> None:
        """Import heavy libraries and load weights; called once before the first ``generate``."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedVideo]:
        raise NotImplementedError

    def signature(self) -> dict[str, Any]:
        """Every setting that changes pixels: model id, revision, steps, guidance, size, frames, fps, dtype."""
        raise NotImplementedError

    def close(self) -> None:
        """Release weights and GPU memory (optional)."""
