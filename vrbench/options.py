"""Adapter options from the command line: `--gen-arg steps=4`, `--judge-arg num_frames=8`.

An adapter's options are its constructor's keyword arguments; their annotations say how to parse
the text. Unknown keys and unparseable values are one-line errors naming the key.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from .errors import VRBenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def option_types(cls) -> dict[str, Any]:
    """Keyword options of ``cls.__init__`` with their (resolved) annotations."""
    sig = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    return {
        name: hints.get(name, str)
        for name, p in sig.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def _convert(text: str, kind: Any, key: str, owner: str) -> Any:
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(text, arg, key, owner)
            except VRBenchError:
                continue
        raise VRBenchError(f"{owner} option {key}: cannot read {text!r} as {kind}")
    if origin is typing.Literal:
        if text in args:
            return text
        raise VRBenchError(f"{owner} option {key}: expected one of {', '.join(map(str, args))}, got {text!r}")
    if origin in (tuple, list):
        inner = args[0] if args else str
        return origin(_convert(t.strip(), inner, key, owner) for t in text.split(",") if t.strip())
    try:
        if kind is bool:
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if kind in (int, float):
            return kind(text)
    except ValueError:
        raise VRBenchError(f"{owner} option {key}: expected {kind.__name__}, got {text!r}") from None
    return text


def parse_options(cls, pairs: list[str] | None, owner: str = "") -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into constructor keyword arguments of ``cls``."""
    owner = owner or getattr(cls, "registry_name", cls.__name__)
    types = option_types(cls)
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise VRBenchError(f"{owner} option {pair!r}: expected key=value")
        if key not in types:
            raise VRBenchError(f"{owner} has no option '{key}' (options: {', '.join(sorted(types)) or 'none'})")
        out[key] = _convert(value.strip(), types[key], key, owner)
    return out
