from typing import Literal

import pytest

from vrbench.errors import VRBenchError
from vrbench.options import parse_options


class Adapter:
    registry_name = "adapter"

    def __init__(self, steps: int = 50, guidance: float = 5.0, offload: bool = False, dtype: Literal["bf16", "fp32"] = "bf16",
                 model_path: str | None = None, size: tuple[int, ...] = (480, 832)):
        pass


def test_parse_options():
    got = parse_options(Adapter, ["steps=4", "guidance=3.5", "offload=true", "dtype=fp32", "model-path=/w", "size=240,416"])
    assert got == {"steps": 4, "guidance": 3.5, "offload": True, "dtype": "fp32", "model_path": "/w", "size": (240, 416)}
    assert parse_options(Adapter, ["model_path=none"]) == {"model_path": None}


@pytest.mark.parametrize("pair,message", [
    ("step=4", "adapter has no option 'step' (options: dtype, guidance, model_path, offload, size, steps)"),
    ("steps=four", "adapter option steps: expected int, got 'four'"),
    ("dtype=fp8", "adapter option dtype: expected one of bf16, fp32, got 'fp8'"),
    ("offload=maybe", "adapter option offload: expected bool"),
    ("steps", "expected key=value"),
])
def test_bad_options(pair, message):
    with pytest.raises(VRBenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_options(Adapter, [pair])


# -- options from a dataclass (one annotated definition shared by several classes) -----------------------------

from dataclasses import dataclass  # noqa: E402


@dataclass(kw_only=True)
class SharedOptions:
    steps: int = 50
    dtype: Literal["bf16", "fp32"] = "bf16"
    model_path: str | None = None


@dataclass(kw_only=True)
class FastOptions(SharedOptions):
    steps: int = 4  # declared again: same place, new default
    offload: bool = False


class Fast:
    registry_name = "fast"
    Options = FastOptions

    def __init__(self, **options):
        self.options = options


def test_options_from_a_dataclass():
    from vrbench.options import make_options, option_defaults, option_types, option_values

    assert option_types(Fast) == {"steps": int, "dtype": Literal["bf16", "fp32"], "model_path": str | None, "offload": bool}
    assert option_defaults(Fast) == {"steps": 4, "dtype": "bf16", "model_path": None, "offload": False}
    assert parse_options(Fast, ["steps=8", "offload=yes", "model-path=none"]) == {"steps": 8, "offload": True, "model_path": None}
    with pytest.raises(VRBenchError, match="fast option dtype: expected one of bf16, fp32, got 'fp8'"):
        parse_options(Fast, ["dtype=fp8"])
    with pytest.raises(VRBenchError, match=r"fast has no option 'stepz' \(options: dtype, model_path, offload, steps\)"):
        parse_options(Fast, ["stepz=3"])
    assert option_values(Fast, (), {"steps": 2}) == {"steps": 2, "dtype": "bf16", "model_path": None, "offload": False}
    assert make_options(Fast, {"offload": True}) == FastOptions(offload=True)
    with pytest.raises(VRBenchError, match=r"^fast has no option 'stepz'"):
        make_options(Fast, {"stepz": 3})


def test_option_values_of_a_constructor():
    from vrbench.options import option_values

    assert option_values(Adapter, (), {"steps": 4}) == {"steps": 4, "guidance": 5.0, "offload": False, "dtype": "bf16",
                                                        "model_path": None, "size": (480, 832)}
    assert option_values(Adapter, (7, 1.5))["guidance"] == 1.5  # given by position


@pytest.mark.parametrize("name,pair,message", [
    ("gpt", "frames_as=video", "judge gpt has no option 'frames_as'"),
    ("gpt", "detail=medium", "judge gpt option detail: expected one of low, high, auto, got 'medium'"),
    ("openai-compatible", "frames_as=gif", "option frames_as: expected one of images, video, mp4, file"),
    ("qwen3-vl", "constrain=maybe", "option constrain: cannot read 'maybe'"),
    ("qwen3-vl", "max_model_len=big", "option max_model_len: cannot read|expected int"),
])
def test_the_openai_style_judges_still_check_every_option(name, pair, message):
    from vrbench.judge import get_judge

    with pytest.raises(VRBenchError, match=message):
        parse_options(get_judge(name), [pair], owner=f"judge {name}")


#: the options and defaults of the three OpenAI-style judges, as each spelt them out in its own signature before
#: they shared one definition
_CHAT = {"model": "", "url": None, "api_key_env": None, "num_frames": 16, "max_pixels": 448 * 448, "template": "yes_no",
         "show_prompt": False, "temperature": 0.0, "max_tokens": None, "top_logprobs": 20, "timeout": 120.0, "max_retries": 6}
_DEFAULTS = {
    "openai-compatible": {**_CHAT, "frames_as": "images", "detail": None, "max_tokens": 16, "logprobs": True},
    "gpt": {**_CHAT, "model": "gpt-4.1", "api_key_env": "OPENAI_API_KEY", "max_pixels": 512 * 512, "detail": "low",
            "logprobs": None, "reasoning_effort": None},
    "qwen3-vl": {**_CHAT, "model": "Qwen/Qwen3-VL-30B-A3B-Instruct", "revision": None, "api_key_env": "VLLM_API_KEY",
                 "frames_as": "images", "trust_request_mm_kwargs": False, "constrain": None, "thinking": None,
                 "timeout": 300.0, "dtype": "auto", "tensor_parallel_size": 1, "max_model_len": 32768,
                 "gpu_memory_utilization": 0.9},
}


@pytest.mark.parametrize("name", sorted(_DEFAULTS))
def test_the_openai_style_judges_share_one_options_definition(name):
    from dataclasses import fields

    from vrbench.judge import get_judge
    from vrbench.judges.openai_judges import ChatOptions
    from vrbench.options import option_defaults

    cls = get_judge(name)
    assert issubclass(cls.Options, ChatOptions)  # the common options are annotated once, there
    assert {f.name for f in fields(ChatOptions)} <= set(option_defaults(cls))
    assert option_defaults(cls) == _DEFAULTS[name]
