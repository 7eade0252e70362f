from typing import Literal, Optional

import pytest

from vrbench.errors import VRBenchError
from vrbench.options import parse_options


class Adapter:
    registry_name = "adapter"

    def __init__(self, steps: int = 50, guidance: float = 5.0, offload: bool = False, dtype: Literal["bf16", "fp32"] = "bf16",
                 model_path: Optional[str] = None, size: tuple[int, ...] = (480, 832)):
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
