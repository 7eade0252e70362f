"""VBench's standard prompt suites, read as the ``vbench`` / ``vbench2`` packages ship them, and the file
names their standard mode looks videos up by.

What VBench's standard mode does (``vbench/__init__.py`` ``VBench.build_full_info_json``, vbench 0.1.5 on
PyPI; ``vbench2/__init__.py`` of vbench2 0.1.1 for VBench-2.0), which this module mirrors:

* the prompts are ``VBench_full_info.json`` inside the package (VBench-2.0: ``VBench2_full_info.json``):
  a list of ``{"prompt_en": ..., "dimension": [...], "auxiliary_info": ...}``; a prompt may appear in
  several entries (VBench 1.0: 946 entries, 944 distinct prompts), and all its entries look up the same
  files, so each distinct file name is generated once;
* it lists the videos folder, takes the extension from the FIRST name listed, and looks up exactly
  ``f"{prompt}-{i}{ext}"``, i = 0..4 (VBench-2.0: ``f"{prompt[:180]}-{i}{ext}"``, i = 0..2, or 0..19 for
  an entry whose first dimension is Diversity). Names are not sanitised: a prompt with ``/`` (none of the
  shipped ones) or a name too long for the file system cannot be evaluated, so it is refused here.

The file is read from the installed package's folder without importing the package (importing vbench
pulls torch and its pinned transformers), or from a path given with ``--vbench-info``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import VRBenchError
from .vbench import VBENCH, VBENCH2, canonical_dimension


@dataclass(frozen=True)
class PromptSuiteKind:
    """How one VBench version ships and looks up its standard prompt suite."""

    benchmark: str  # vrbench's name: "vbench" or "vbench2"
    package: str  # the PyPI package (and import name) that ships the prompt file
    info_file: str  # its name inside the package folder
    cut: int | None  # VBench-2.0 cuts the prompt to this many characters in file names; VBench 1.0 does not
    samples: int  # indices 0..samples-1 are looked up per prompt
    diversity_samples: int | None = None  # VBench-2.0: entries whose first dimension is Diversity look up more


KINDS = {
    VBENCH: PromptSuiteKind(VBENCH, "vbench", "VBench_full_info.json", None, 5),
    VBENCH2: PromptSuiteKind(VBENCH2, "vbench2", "VBench2_full_info.json", 180, 3, diversity_samples=20),
}
# The longest file name most file systems take (ext4, xfs, APFS, NTFS: 255 bytes or characters).
MAX_NAME_BYTES = 255


@dataclass(frozen=True)
class VBenchPrompt:
    """One video file stem of the suite: what VBench looks up, the prompt given to the generator, how many samples."""

    id: str  # the file stem before "-{index}.mp4": the prompt (VBench-2.0: its first 180 characters)
    prompt: str  # the full prompt text the generator receives
    dimensions: tuple[str, ...]  # the dimensions (as the file spells them) of every entry that uses these files
    samples: int  # indices (= seeds) 0..samples-1


@dataclass(frozen=True)
class VBenchPromptSuite:
    kind: PromptSuiteKind
    path: Path
    sha256: str
    package_version: str | None
    entries: int  # entries in the file
    dimensions: tuple[str, ...]  # the selected dimensions, as the file spells them
    prompts: list[VBenchPrompt]
    samples: int | None  # --samples, if given

    @property
    def videos(self) -> int:
        return sum(p.samples for p in self.prompts)

    def info(self) -> dict:
        """What run.json records (``vbench``) so reruns, `vrbench vbench evaluate` and the report know the suite."""
        return {"benchmark": self.kind.benchmark, "package": self.kind.package, "package_version": self.package_version,
                "file": str(self.path), "sha256": self.sha256, "entries": self.entries,
                "dimensions": list(self.dimensions), "samples": self.samples}


def video_file_name(stem: str, index: int) -> str:
    """The name VBench's standard mode looks up for sample ``index`` of a prompt (stem: see :func:`file_stem`)."""
    return f"{stem}-{index}.mp4"


def file_stem(kind: PromptSuiteKind, prompt: str) -> str:
    """The part of the file name before ``-{index}.mp4``: the prompt itself (VBench-2.0: its first 180 characters)."""
    return prompt if kind.cut is None else prompt[: kind.cut]


def check_file_stem(stem: str, where: str) -> None:
    """Refuse a prompt that cannot be a file name as VBench spells it (it does not sanitise names)."""
    bad = next((c for c in ("/", "\0") if c in stem), None)
    if bad is not None:
        raise VRBenchError(f"{where}: prompt {stem[:60]!r} contains {bad!r}, which no file name can hold; VBench's "
                           "standard mode looks the video up under the prompt itself, so it cannot evaluate this prompt")
    if stem in ("", ".", ".."):
        raise VRBenchError(f"{where}: prompt_en: expected a non-empty prompt, got {stem!r}")
    longest = video_file_name(stem, 99)
    if len(longest.encode("utf-8")) > MAX_NAME_BYTES:
        raise VRBenchError(f"{where}: prompt {stem[:60]!r}...: its file name would be {len(longest.encode('utf-8'))} bytes, "
                           f"more than file systems take ({MAX_NAME_BYTES})")


def find_prompt_file(benchmark: str) -> tuple[Path, str | None]:
    """The prompt file inside the installed package's folder, and the package's version; found without
    importing the package (``find_spec`` of a top-level name only locates it)."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    kind = KINDS[benchmark]
    how = (f"pip install --no-deps {kind.package} (only its prompt file is read here; the package itself runs in its "
           "own venv), or pass --vbench-info PATH to the file")
    try:
        spec = importlib.util.find_spec(kind.package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / kind.info_file
        if path.is_file():
            try:
                pkg_version: str | None = version(kind.package)
            except PackageNotFoundError:
                pkg_version = None
            return path, pkg_version
    if folders:
        raise VRBenchError(f"the installed {kind.package} package ({folders[0]}) has no {kind.info_file}; {how}")
    raise VRBenchError(f"--prompts {benchmark}: the {kind.package} package is not installed here, so its {kind.info_file} "
                       f"cannot be read: {how}")


def _read_entries(path: Path) -> list[dict]:
    from .files import read_user_text

    text = read_user_text(path, what="VBench prompt file", encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VRBenchError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, list) or not data:
        raise VRBenchError(f"{path}: expected a non-empty JSON list of {{\"prompt_en\": ..., \"dimension\": [...]}} entries")
    for i, entry in enumerate(data):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict):
            raise VRBenchError(f"{where}: expected an object with prompt_en and dimension")
        if not isinstance(entry.get("prompt_en"), str) or not entry["prompt_en"]:
            raise VRBenchError(f"{where}: prompt_en: expected the prompt text, got {entry.get('prompt_en')!r}")
        dims = entry.get("dimension")
        if not isinstance(dims, list) or not dims or not all(isinstance(d, str) and d for d in dims):
            raise VRBenchError(f"{where}: dimension: expected a non-empty list of dimension names, got {dims!r}")
    return data


def select_dimensions(entries: list[dict], wanted: Sequence[str] | None, where: str,
                      flag: str = "--vbench-dimensions") -> tuple[str, ...]:
    """The file's spellings of the wanted dimensions (any spelling: Human_Anatomy, human anatomy), in file order."""
    spelled: dict[str, str] = {}
    for entry in entries:
        for d in entry["dimension"]:
            spelled.setdefault(canonical_dimension(d), d)
    if not wanted:
        return tuple(spelled.values())
    out: list[str] = []
    for name in wanted:
        found = spelled.get(canonical_dimension(name))
        if found is None:
            raise VRBenchError(f"{flag}: {where} has no dimension {name!r} (it has: {', '.join(spelled.values())})")
        if found not in out:
            out.append(found)
    return tuple(out)


def prompts_of(kind: PromptSuiteKind, entries: list[dict], dimensions: Sequence[str], samples: int | None,
               where: str) -> list[VBenchPrompt]:
    """The distinct file stems the selected dimensions look up, in file order, with their sample counts.

    The count is what VBench looks up for the stem (the most over its entries), capped by ``samples``."""
    chosen = set(dimensions)
    by_stem: dict[str, VBenchPrompt] = {}
    for i, entry in enumerate(entries):
        dims = entry["dimension"]
        if not chosen & set(dims):
            continue
        prompt = entry["prompt_en"]
        stem = file_stem(kind, prompt)
        check_file_stem(stem, f"{where}: entry {i}")
        wanted = kind.diversity_samples if kind.diversity_samples and dims[0] == "Diversity" else kind.samples
        if samples is not None:
            wanted = min(wanted, samples)
        old = by_stem.get(stem)
        if old is None:
            by_stem[stem] = VBenchPrompt(stem, prompt, tuple(d for d in dims if d in chosen), wanted)
        else:  # the same files serve several entries (VBench-2.0: also prompts equal in their first 180 characters)
            merged = tuple(dict.fromkeys(old.dimensions + tuple(d for d in dims if d in chosen)))
            by_stem[stem] = VBenchPrompt(stem, old.prompt, merged, max(old.samples, wanted))
    return list(by_stem.values())


def load_prompt_suite(benchmark: str = VBENCH, path: str | Path | None = None, dimensions: Sequence[str] | None = None,
                      samples: int | None = None) -> VBenchPromptSuite:
    """VBench's standard prompt suite (or VBench-2.0's), narrowed to ``dimensions``; see the module docstring."""
    if benchmark not in KINDS:
        raise VRBenchError(f"--prompts: expected one of vrbench, {', '.join(KINDS)}, got {benchmark!r}")
    kind = KINDS[benchmark]
    most = max(kind.samples, kind.diversity_samples or 0)
    if samples is not None and not 1 <= samples <= most:
        raise VRBenchError(f"--samples: expected 1 to {most} ({kind.package}'s standard mode looks up the indices 0 to "
                           f"{most - 1} only), got {samples}")
    package_version = None
    if path is None:
        path, package_version = find_prompt_file(benchmark)
    path = Path(path)
    if not path.is_file():
        raise VRBenchError(f"--vbench-info {path}: file not found (expected {kind.info_file} as the {kind.package} package ships it)")
    entries = _read_entries(path)
    where = str(path)
    dims = select_dimensions(entries, dimensions, where)
    prompts = prompts_of(kind, entries, dims, samples, where)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return VBenchPromptSuite(kind, path.resolve(), sha, package_version, len(entries), dims, prompts, samples)
