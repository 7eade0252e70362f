"""VBench runs end to end: run VBench itself, in its own venv, on a run made with `vrbench generate --prompts
vbench`, and read its results back for the report.

VBench 0.1.5 pins ``transformers==4.33.2`` and ``numpy<2``, so it cannot share vrbench's environment. Like
Omni-Video's conditioning worker, it runs as a subprocess of the interpreter given with ``--vbench-python``,
started exactly as VBench's own ``vbench evaluate`` starts it (``vbench/cli/evaluate.py``: ``python -m
torch.distributed.run --standalone --nproc_per_node N <vbench>/launch/evaluate.py --videos_path ...
--dimension ... --mode vbench_standard``), except that it is that venv's python rather than whatever
``python`` the shell finds. VBench writes ``results_<time>_eval_results.json`` (``{dimension: [aggregate,
[per-video results]]}``) and ``results_<time>_full_info.json`` into ``RUN/vbench/``; the report reads every
``RUN/vbench/*_eval_results.json``, a later file's value of a dimension replacing an earlier one.

Which VR-Bench run a VBench run belongs to (its row on the leaderboard), :func:`match_vbench_run`:
1. the VR-Bench run whose label is the VBench run's label (``vrbench generate --prompts vbench --label``);
2. else the one VR-Bench run made with the same generator name and signature (run.json ``generator``);
3. several such runs: refused, naming them (give the VBench run the label of its row);
4. none: the VBench run is listed as matching no run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VRBenchError
from .results import run_label
from .runstore import RunDir, finished_videos, is_vbench_manifest, update_manifest
from .vbench import VBENCH, VBENCH2, VBenchResult, canonical_dimension, read_vbench_sources

log = logging.getLogger(__name__)

SETUP = ("set VBench up in its own venv: `python3.10 -m venv vbench-env && vbench-env/bin/pip install torch torchvision "
         "vbench==0.1.5` (a CUDA build of torch; object_class, multiple_objects and spatial_relationship also need "
         "detectron2), then pass --vbench-python vbench-env/bin/python")
RESULTS_GLOB = "*_eval_results.json"

# Run in the VBench venv: where the package is (found, not imported: importing it needs a GPU stack) and its version.
_PROBE = """
import importlib.util, json, sys
from importlib.metadata import version
spec = importlib.util.find_spec(sys.argv[1])
folders = list(spec.submodule_search_locations or []) if spec else []
print(json.dumps({"folder": folders[0] if folders else None, "version": version(sys.argv[1]) if folders else None,
                  "python": sys.version.split()[0]}))
"""


@dataclass(frozen=True)
class VBenchInstall:
    python: str
    folder: Path  # the vbench package folder inside the VBench venv
    version: str | None


def find_vbench(python: str | None, package: str = "vbench") -> VBenchInstall:
    """Check the VBench venv's interpreter and find the package in it; one line saying how to set it up if not."""
    if not python:
        raise VRBenchError(f"--vbench-python: VBench runs in its own venv, whose python is needed: {SETUP}")
    path = Path(python).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise VRBenchError(f"--vbench-python {python}: no such interpreter; {SETUP}")
    try:
        proc = subprocess.run([str(path), "-c", _PROBE, package], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise VRBenchError(f"--vbench-python {python}: cannot run it ({e}); {SETUP}") from None
    try:
        found = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (json.JSONDecodeError, IndexError):
        found = None
    if not isinstance(found, dict):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise VRBenchError(f"--vbench-python {python}: not a working Python ({tail}); {SETUP}")
    if not found.get("folder"):
        raise VRBenchError(f"--vbench-python {python}: the {package} package is not installed there; {SETUP}")
    return VBenchInstall(str(path), Path(found["folder"]), found.get("version"))


def _vbench_manifest(run: RunDir) -> dict:
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    manifest = run.read_manifest()
    if not is_vbench_manifest(manifest):
        raise VRBenchError(f"{run.root}: not a VBench run; make one with `vrbench generate --model M --prompts vbench --out RUN`")
    assert manifest is not None
    if not isinstance(manifest.get("vbench"), dict) or not manifest["vbench"].get("sha256"):
        raise VRBenchError(f"{run.run_file}: vbench: expected the prompt file the run was made from (benchmark, file, sha256)")
    return manifest


def _prompt_file(run: RunDir, info: dict, install: VBenchInstall) -> Path:
    """The prompt file the run was made from: the recorded one, else the VBench venv's copy, if its content is the same."""
    import hashlib

    from .vbench_prompts import KINDS

    candidates = [Path(str(info.get("file"))), install.folder / KINDS[info["benchmark"]].info_file]
    for path in candidates:
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]:
            return path
    raise VRBenchError(f"{run.run_file}: the run was made from prompt file {info.get('file')} (sha256 {info['sha256'][:12]}), "
                       f"which is gone, and the VBench venv's {candidates[1]} differs; VBench must evaluate the prompts the "
                       "videos were made from")


def _check_videos(run: RunDir, info: dict, prompt_file: Path, dimensions: Sequence[str]) -> int:
    """Every video VBench will look up for ``dimensions`` exists, and the folder holds nothing VBench could
    take its extension from but mp4s; returns how many videos it will read."""
    from .vbench_prompts import load_prompt_suite, video_file_name

    suite = load_prompt_suite(info["benchmark"], prompt_file, dimensions, info.get("samples"))
    finished = finished_videos(run.root)  # rows are keyed (file stem, index), as generate writes them
    expected = [(p.id, i) for p in suite.prompts for i in range(p.samples)]
    missing = [pair for pair in expected if pair not in finished]
    if missing:
        raise VRBenchError(f"{run.root}: {len(missing)} of the {len(expected)} videos of {', '.join(dimensions)} are missing "
                           f"(e.g. {video_file_name(*missing[0])!r}); finish `vrbench generate --prompts {info['benchmark']} "
                           f"--out {run.root} ...` first (the same command resumes)")
    # VBench takes the extension of the FIRST name it lists for every video: anything but an mp4 there would hide them all.
    # Temporary files of writes in progress are hidden .mp4s, which VBench never looks up.
    other = sorted(p.name for p in run.videos_dir.iterdir() if p.suffix != ".mp4" or not p.is_file())
    if other:
        raise VRBenchError(f"{run.videos_dir}: holds {other[0]!r}, which is not an mp4; VBench takes the extension of the "
                           "first file it lists for every video, so the folder must hold only the run's mp4s: move it away")
    return len(expected)


def vbench_command(install: VBenchInstall, videos: Path, dimensions: Sequence[str], output: Path, prompt_file: Path,
                   ngpus: int = 1) -> list[str]:
    """What VBench's own `vbench evaluate --videos_path V --dimension D --mode vbench_standard` runs (its
    cli/evaluate.py), with the VBench venv's python."""
    return [install.python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ngpus),
            str(install.folder / "launch" / "evaluate.py"), "--videos_path", str(videos), "--dimension", *dimensions,
            "--output_path", str(output), "--full_json_dir", str(prompt_file), "--mode", "vbench_standard"]


def evaluate_run(run_dir: str | Path, python: str | None, dimensions: Sequence[str] | None = None, ngpus: int = 1) -> Path:
    """Run VBench on a VBench run's videos (see the module docstring); return the results file it wrote."""
    from .stages.generate import utc_now
    from .vbench_prompts import KINDS, select_dimensions

    run = RunDir(run_dir)
    manifest = _vbench_manifest(run)
    info = manifest["vbench"]
    if info.get("benchmark") == VBENCH2:
        raise VRBenchError("vbench evaluate: VBench-2.0 is not run by vrbench (vbench2 0.1.1's launch/evaluate.py imports "
                           "VBench but calls VBench2, so it cannot start); run VBench-2.0's evaluate.py from its GitHub tree "
                           f"with --videos_path {run.videos_dir} --output_path {run.vbench_dir} and `vrbench report` reads "
                           "its *_eval_results.json from there")
    if ngpus < 1:
        raise VRBenchError(f"--ngpus: expected a positive number, got {ngpus}")
    install = find_vbench(python)
    prompt_file = _prompt_file(run, info, install)
    recorded = list(info.get("dimensions") or [])
    dims = (list(select_dimensions([{"dimension": recorded}], dimensions, f"{run.root} (generated for)", "--dimensions"))
            if dimensions else recorded)
    n_videos = _check_videos(run, info, prompt_file, dims)
    if info.get("samples") is not None and info["samples"] < KINDS[VBENCH].samples:
        print(f"note: {run.root} has {info['samples']} samples a prompt, VBench's standard evaluation 5: its scores are "
              "not comparable with published ones", file=sys.stderr)
    run.vbench_dir.mkdir(parents=True, exist_ok=True)
    before = {p: p.stat().st_mtime_ns for p in run.vbench_dir.glob(RESULTS_GLOB)}  # VBench may reuse a name (per second)
    started = utc_now()
    log_path = run.vbench_dir / f"evaluate-{started.replace(':', '')}.log"
    cmd = vbench_command(install, run.videos_dir.resolve(), dims, run.vbench_dir.resolve(), prompt_file.resolve(), ngpus)
    print(f"vbench evaluate: {len(dims)} dimensions over {n_videos} videos with VBench {install.version or '?'}; "
          f"its output goes to {log_path}", file=sys.stderr)
    code, tail = _run_logged(cmd, log_path, cwd=run.vbench_dir)
    if code != 0:
        raise VRBenchError(f"VBench failed (exit {code}): {tail[:200]}; full log: {log_path}")
    new = sorted(p for p in run.vbench_dir.glob(RESULTS_GLOB) if before.get(p) != p.stat().st_mtime_ns)
    if not new:
        raise VRBenchError(f"VBench exited 0 but wrote no {RESULTS_GLOB} into {run.vbench_dir}; see {log_path}")
    result = new[-1]
    got = read_vbench_sources([f"check={result}"])
    written = {d for r in got for d in r.dimensions}
    lacking = [d for d in dims if canonical_dimension(d) not in written]
    if lacking:
        raise VRBenchError(f"{result}: VBench wrote no result for {', '.join(lacking)}; see {log_path}")

    def record(m: dict) -> None:
        m.setdefault("vbench_evaluations", []).append({
            "started": started, "finished": utc_now(), "dimensions": dims, "results": result.relative_to(run.root).as_posix(),
            "vbench_version": install.version, "python": install.python, "ngpus": ngpus})

    update_manifest(run.root, record)
    return result


def _run_logged(cmd: list[str], log_path: Path, cwd: Path) -> tuple[int, str]:
    """Run ``cmd``, its output into ``log_path`` and onto stderr as it comes; return its exit code and last line."""
    last = ""
    with open(log_path, "w", encoding="utf-8") as logf:
        logf.write(" ".join(cmd) + "\n")
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as e:
            raise VRBenchError(f"--vbench-python {cmd[0]}: cannot start VBench ({e}); {SETUP}") from None
        assert proc.stdout is not None
        for line in proc.stdout:
            logf.write(line)
            logf.flush()
            sys.stderr.write(line)
            if line.strip():
                last = line.strip()
        return proc.wait(), last


# --- reading VBench runs back for the report ---------------------------------------------------------


@dataclass
class VBenchRun:
    """A VBench run's identity and its VBench results (one per benchmark), for the report."""

    root: Path
    label: str
    generator: dict
    results: list[VBenchResult] = field(default_factory=list)


def is_vbench_run(path: str | Path) -> bool:
    run = RunDir(path)
    return run.run_file.is_file() and is_vbench_manifest(run.read_manifest())


def load_vbench_run(path: str | Path) -> VBenchRun:
    """A VBench run's label, generator and results; a run VBench has not evaluated yet is an error naming the command."""
    run = RunDir(path)
    manifest = _vbench_manifest(run)
    label = run_label(run, manifest)
    base = run.root.resolve()
    files = sorted(p for p in run.vbench_dir.glob(RESULTS_GLOB) if p.is_file() and p.resolve().is_relative_to(base))
    if not files:
        raise VRBenchError(f"{run.root}: no VBench results yet ({run.vbench_dir}/{RESULTS_GLOB}): run "
                           f"`vrbench vbench evaluate {run.root} --vbench-python PATH` first")
    merged: dict[str, VBenchResult] = {}
    for path in files:  # VBench names them results_<time>_...: sorted, a later evaluation replaces an earlier one
        for res in read_vbench_sources([f"{label}={path}"]):
            into = merged.setdefault(res.benchmark, VBenchResult(label, res.benchmark))
            into.dimensions.update(res.dimensions)
            into.sources.update(res.sources)
    generator = manifest.get("generator")
    return VBenchRun(run.root, label, generator if isinstance(generator, dict) else {}, list(merged.values()))


def match_vbench_run(vb: VBenchRun, runs: Sequence) -> str | None:
    """The label of the VR-Bench run (``RunResults``) a VBench run belongs to, by the rule in the module docstring."""
    labels = [r.label for r in runs]
    if vb.label in labels:
        return vb.label
    same = [r.label for r in runs if isinstance(r.manifest.get("generator"), dict)
            and (r.manifest["generator"].get("name"), r.manifest["generator"].get("signature"))
            == (vb.generator.get("name"), vb.generator.get("signature"))]
    if len(same) > 1:
        raise VRBenchError(f"VBench run {vb.root} ({vb.generator.get('name')}) was made with the same generator and settings "
                           f"as several runs ({', '.join(sorted(same))}); give it the label of its row: "
                           f"`vrbench generate --prompts vbench --label LABEL --out {vb.root} ...` (or set run.json's label)")
    return same[0] if same else None

