"""The package's imports run one way: suite -> generate -> judge -> score -> results -> report/agreement.

Every import in the package is read from its source (lazy imports inside functions included) and
checked against the layers below: a module may import only modules of a LOWER layer, so two modules of
one layer never import each other (``agreement`` does not import ``report``). The command-line modules
may import each other; the plugin folders (``generators/``, ``judges/``) may import their own modules
and the core's interfaces, and no core module imports them (they are found through the registries).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: the core's modules, lowest first; README's "Architecture" section draws the same picture
LAYERS: list[set[str]] = [
    {"vrbench", "vrbench.errors"},
    {"vrbench.text", "vrbench.console", "vrbench.options", "vrbench.answers", "vrbench.files", "vrbench.registry"},
    {"vrbench.suite", "vrbench.video", "vrbench.scoring", "vrbench.significance", "vrbench.vbench"},
    {"vrbench.vbench_prompts"},  # VBench's prompt suites, read from the vbench package's files
    {"vrbench.runstore", "vrbench.judge_messages"},
    {"vrbench.generator", "vrbench.judge", "vrbench.judge_cache"},  # the interfaces plugins implement
    {"vrbench.stages", "vrbench.stages.generate"},
    {"vrbench.stages.judge"},
    {"vrbench.stages.score", "vrbench.audit"},  # the audit reads what the judge stage reads and uses its machinery
    {"vrbench.results"},
    {"vrbench.vbench_eval"},  # VBench runs: VBench in its own venv, and its results for the report
    {"vrbench.report", "vrbench.agreement"},
    {"vrbench.label"},  # reads labels files as agreement does
    {"vrbench.label_server"},
    {"vrbench.cli"},
    {"vrbench.__main__"},
]
PLUGIN_PACKAGES = ("vrbench.generators", "vrbench.judges")
INTERFACES = LAYERS.index({"vrbench.generator", "vrbench.judge", "vrbench.judge_cache"})
SOURCE_ROOTS = {"vrbench": REPO / "vrbench", "vrbench.generators": REPO / "generators", "vrbench.judges": REPO / "judges"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCE_ROOTS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _rank(module: str) -> float:
    if module.startswith(PLUGIN_PACKAGES):
        return INTERFACES + 0.5
    for i, layer in enumerate(LAYERS):
        if module in layer or any(module.startswith(m + ".") for m in layer if m == "vrbench.cli"):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported vrbench module, line) for every import in the file, however deep in the code."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "vrbench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "vrbench":
                continue
            # `from . import x` / `from vrbench.generators import omnivideo_worker`: a module, not a name
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub if sub in MODULES else target, node.lineno))
    return out


MODULES = _modules()


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _rank(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    path = MODULES[module]
    mine = _rank(module)
    for target, line in _imports(module, path):
        if target == module or target not in MODULES:
            continue
        where = f"{path.relative_to(REPO)}:{line}: {module} imports {target}"
        if module.startswith("vrbench.cli") and target.startswith("vrbench.cli"):
            continue  # commands share option helpers
        if module.startswith(PLUGIN_PACKAGES):
            same_folder = target.startswith(module.rsplit(".", 1)[0] + ".")
            assert same_folder or _rank(target) <= INTERFACES, f"{where}: a plugin may use only the core's interfaces and helpers"
            continue
        assert not target.startswith(PLUGIN_PACKAGES), f"{where}: the core finds plugins through its registries, never by import"
        assert _rank(target) < mine, f"{where}: an arrow from a lower stage to a higher one (or within one layer)"


def test_the_omnivideo_worker_imports_nothing_from_vrbench():
    """It runs in upstream's environment, where vrbench is not installed."""
    path = MODULES["vrbench.generators.omnivideo_worker"]
    assert _imports("vrbench.generators.omnivideo_worker", path) == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The test above can fail: an import of the report from the run store is an upward arrow."""
    bad = tmp_path / "runstore.py"
    bad.write_text("def f():\n    from .report import build_site\n")
    imports = _imports("vrbench.runstore", bad)
    assert imports == [("vrbench.report", 2)]
    assert _rank("vrbench.report") > _rank("vrbench.runstore")
