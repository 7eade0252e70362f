"""Adapter options from the command line: `--gen-arg steps=4`, `--judge-arg num_frames=8`.

An adapter's options are its constructor's keyword arguments, or, when the class names a dataclass
in its ``Options`` attribute, that dataclass's fields (several classes can then share one annotated
definition and change only defaults). Their annotations say how to parse the text. Unknown keys and
unparseable values are one-line errors naming the key.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from .errors import VRBenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

#: the default of an option that has none (it must be given)
REQUIRED: Any = inspect.Parameter.empty


def options_dataclass(cls) -> type | None:
    """The dataclass whose fields are ``cls``'s options (its ``Options`` attribute), or None: then the
    keyword arguments of ``cls.__init__`` are."""
    options = getattr(cls, "Options", None)
    return options if isinstance(options, type) and dataclasses.is_dataclass(options) else None


def _hints(obj) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # an annotation that does not resolve: read the value as text
        return {}


def _keyword_parameters(cls) -> list[inspect.Parameter]:
    return [p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def option_types(cls) -> dict[str, Any]:
    """Keyword options of ``cls`` (see the module docstring) with their (resolved) annotations."""
    source = options_dataclass(cls)
    if source is not None:
        hints = _hints(source)
        return {f.name: hints.get(f.name, str) for f in dataclasses.fields(source) if f.init}
    hints = _hints(cls.__init__)
    return {p.name: hints.get(p.name, str) for p in _keyword_parameters(cls)}


def option_defaults(cls) -> dict[str, Any]:
    """Every option of ``cls`` with its default (``REQUIRED`` when it has none)."""
    source = options_dataclass(cls)
    if source is None:
        return {p.name: p.default for p in _keyword_parameters(cls)}
    out = {}
    for f in dataclasses.fields(source):
        if f.init:
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = REQUIRED
    return out


def option_values(cls, args: tuple = (), kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every option of ``cls`` with the value that ``cls(*args, **kwargs)`` gives it: the one passed, else
    its default. Names that are no option of ``cls`` are left out (the constructor refuses them)."""
    given = dict(kwargs or {})
    if args and options_dataclass(cls) is None:
        try:  # options passed by position (a plugin's positional-or-keyword arguments)
            bound = inspect.signature(cls.__init__).bind_partial(None, *args, **given)
            given = dict(list(bound.arguments.items())[1:])
        except TypeError:
            pass
    return {name: given.get(name, default) for name, default in option_defaults(cls).items()
            if name in given or default is not REQUIRED}


def make_options(cls, given: dict[str, Any], owner: str = "") -> Any:
    """An instance of ``cls.Options`` from keyword options, with one-line errors for unknown or missing ones."""
    owner = owner or getattr(cls, "registry_name", "") or cls.__name__
    source = options_dataclass(cls)
    if source is None:
        raise TypeError(f"{cls.__name__} has no Options dataclass")
    defaults = option_defaults(cls)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise VRBenchError(f"{owner} has no option '{unknown[0]}' (options: {', '.join(sorted(defaults)) or 'none'})")
    missing = sorted(n for n, d in defaults.items() if d is REQUIRED and n not in given)
    if missing:
        raise VRBenchError(f"{owner} option {missing[0]}: required, and not given")
    return source(**given)


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
