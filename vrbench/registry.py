"""Name -> class registries for generators and judges, filled by decorators and entry points."""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from importlib.util import find_spec
from typing import Generic, TypeVar

from .errors import VRBenchError

T = TypeVar("T")
log = logging.getLogger(__name__)


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it); a dotted name whose parent is missing is not."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Registry(Generic[T]):
    """Maps names to classes.

    In-tree classes register with ``@registry.register("name")`` in the modules of ``builtin_package``:
    every module there whose name does not start with ``_`` is imported on the first look-up (lazily, so
    ``vrbench --help`` stays fast; no hand-kept list can drop one). Third-party packages add classes
    through the entry-point group, e.g. in their pyproject.toml::

        [project.entry-points."vrbench.generators"]
        my-model = "my_package.adapter:MyModel"
    """

    def __init__(self, kind: str, group: str, builtin_package: str | None = None,
                 check: Callable[[T, str], None] | None = None):
        self.kind = kind
        self.group = group
        self.builtin_package = builtin_package
        #: called with each instance ``create`` makes and its name; raises a one-line VRBenchError when the
        #: class breaks a rule of its interface that would otherwise surface later as a traceback
        self.check = check
        self._classes: dict[str, type[T]] = {}
        self._entry_points: dict[str, object] | None = None
        self._builtins_loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} name '{name}' is already registered by {existing.__module__}.{existing.__qualname__}")
            self._classes[name] = cls
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _load_builtins(self) -> None:
        if self._builtins_loaded:
            return
        self._builtins_loaded = True
        for module in self.builtin_modules():
            import_module(module)

    def builtin_modules(self) -> list[str]:
        """The in-tree modules that may register classes: every public module of ``builtin_package``."""
        if self.builtin_package is None:
            return []
        package = import_module(self.builtin_package)
        return [f"{self.builtin_package}.{m.name}" for m in pkgutil.iter_modules(package.__path__)
                if not m.name.startswith("_") and not m.ispkg]

    def _plugins(self) -> dict[str, object]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(set(self._classes) | set(self._plugins()))

    def get(self, name: str) -> type[T]:
        self._load_builtins()
        if name in self._classes:
            return self._classes[name]
        ep = self._plugins().get(name)
        if ep is not None:
            try:
                cls = ep.load()  # type: ignore[attr-defined]
            except Exception as e:  # a broken plugin must not take the whole CLI down
                raise VRBenchError(f"{self.kind} '{name}' from entry point {ep.value} failed to import: {e}") from e  # type: ignore[attr-defined]
            self._classes[name] = cls
            cls.registry_name = name
            return cls
        known = ", ".join(self.names()) or "none registered"
        raise VRBenchError(f"unknown {self.kind} '{name}' (known: {known})")

    def create(self, name: str, options: dict | None = None) -> T:
        """Construct the class registered as ``name`` (cheap: no weights), after checking that the optional
        packages it lists in ``requires`` are installed, then pass the instance to ``check``; every problem
        is a one-line error."""
        cls = self.get(name)
        # Plugin classes need not subclass our bases: ``requires`` / ``requires_extra`` may be absent, None or a bare string.
        requires = getattr(cls, "requires", None) or ()
        missing = [m for m in ([requires] if isinstance(requires, str) else requires) if not _installed(m)]
        if missing:
            extra = getattr(cls, "requires_extra", None)
            install = f"pip install 'vrbench[{extra}]'" if extra else f"pip install {' '.join(missing)}"
            hint = " (install a torch build for your machine first)" if "torch" in missing else ""
            raise VRBenchError(f"{self.kind} '{name}' needs {', '.join(missing)}: {install}{hint}")
        try:
            instance = cls(**(options or {}))
        except TypeError as e:  # an option the class does not take (Python API; the CLI checks earlier)
            raise VRBenchError(f"{self.kind} '{name}': {e}") from None
        if self.check is not None:
            self.check(instance, name)
        return instance

    def describe(self) -> list[tuple[str, str]]:
        """(name, first docstring line) for every registered class, importing plugins."""
        rows = []
        for name in self.names():
            try:
                cls = self.get(name)
                doc = (cls.__doc__ or "").strip().splitlines()
                rows.append((name, doc[0] if doc else ""))
            except VRBenchError as e:
                rows.append((name, f"(broken: {e})"))
        return rows
