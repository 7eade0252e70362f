"""The generate stage: (case, seed) pairs -> ``videos/<case>-s<seed>.mp4`` + ``generations.jsonl``.

- ``run.json`` is written first. A run never mixes settings: a rerun whose generator signature differs
  from the recorded one is refused unless ``overwrite=True``, which discards the old outputs.
- Provenance: the first call's (vrbench version, git commit, host, command, library versions) stays at
  the top of ``run.json``; every call, the first included, is appended to ``invocations``, so a resumed
  or sharded run keeps where each part came from.
- Resumable: a pair whose video exists and has a row is skipped; a video that was renamed into place
  just before a crash (so has no row yet) is adopted, not remade; a half-written last row is cut off.
- Shardable: under ``torchrun`` / ``accelerate launch`` (RANK, WORLD_SIZE) each rank takes every
  WORLD_SIZE-th pair; ``--shard i/N`` does the same for job arrays (both compose). Ranks and shards
  share one run directory: videos are renamed into place atomically, rows are appended whole, and
  ``run.json`` is updated under a file lock, so they never collide.
- A pair the generator cannot make (:class:`~vrbench.generator.CaseFailed`, e.g. a missing file
  for ``videos``) gets a row with ``"error"`` and no ``"video"``; the others proceed; a rerun retries it.

Rows of ``generations.jsonl``::

    {"case": "ETV-07", "seed": 0, "video": "videos/ETV-07-s0.mp4", "sha256": "...", "generator": "wan2.1-t2v-14b",
     "fps": 16.0, "frames": 81, "width": 832, "height": 480, "seconds": 41.2, "created": "2025-...Z"}

Several rows may exist for one pair (an error, then a success on rerun); the latest one counts
(:func:`latest_generations`, :func:`finished_videos`).

:func:`generate_vbench_run` makes VBench's standard prompt suite through the same loop
(:func:`_generate_pairs`): pairs are (file stem, sample index), videos ``videos/{prompt}-{index}.mp4``.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from vrbench import __version__

from ..errors import VRBenchError
from ..files import append_jsonl
from ..runstore import VBENCH_KIND, Pair, RunDir, latest_generations, run_lock, update_manifest
from ..suite import Case

log = logging.getLogger(__name__)



# ----------------------------------------------------------------------------------------- shards


@dataclass(frozen=True)
class Shard:
    """Take every ``count``-th pair starting at ``index`` (0-based)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/N"`` with 0 <= i < N, as given to ``--shard``."""
        i, sep, n = text.partition("/")
        try:
            shard = cls(int(i), int(n))
        except ValueError:
            shard = None
        if not sep or shard is None or not 0 <= shard.index < shard.count:
            raise VRBenchError(f"--shard: expected i/N with 0 <= i < N (e.g. 0/4 for the first of 4), got {text!r}")
        return shard

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Shard:
        """This process's share under torchrun / accelerate launch (RANK, WORLD_SIZE); the whole if unset."""
        env = os.environ if env is None else env
        try:
            rank, world = int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))
        except ValueError:
            raise VRBenchError(f"RANK={env.get('RANK')!r} / WORLD_SIZE={env.get('WORLD_SIZE')!r}: expected integers") from None
        if not 0 <= rank < world:
            raise VRBenchError(f"RANK={rank} / WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
        return cls(rank, world)

    def within(self, outer: Shard) -> Shard:
        """This share of ``outer``'s share, as one shard of the whole (``items[o.i::o.n][s.i::s.n]``)."""
        return Shard(outer.index + outer.count * self.index, outer.count * self.count)

    def take(self, items: Sequence) -> list:
        return list(items[self.index :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def current_shard(option: str | None = None) -> Shard:
    """``--shard i/N`` (if given) split further by the launcher's RANK / WORLD_SIZE (if set)."""
    outer = Shard.parse(option) if option else Shard()
    return Shard.from_env().within(outer)


def append_row(run: RunDir, row: dict) -> int:
    """Append one generations.jsonl row under the run lock (ranks and shards append to the same file); return
    the file's size just after it (so a process can tell later whether its row is still the last one)."""
    with run_lock(run.root):
        append_jsonl(run.generations_file, [row])
        return run.generations_file.stat().st_size


def _file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def is_judging_process(*, complete: bool, size_now: int, my_last_row_end: int | None, size_at_start: int,
                       shard_index: int) -> bool:
    """Whether this process, among all the ranks and shards that generate one run, judges and scores it.

    Exactly one does: the one whose row is the file's last (it completed the run), or, when no process
    wrote a row (a rerun of a finished run), shard 0. A process that wrote nothing while another wrote
    during its lifetime leaves it to that one. Decided under the run lock, from the file alone.
    """
    if not complete:
        return False
    if my_last_row_end is not None:
        return size_now == my_last_row_end
    return size_now == size_at_start and shard_index == 0


def git_commit() -> dict[str, Any] | None:
    """The commit of the vrbench source tree, if it is a git checkout (and whether it has local edits)."""
    here = Path(__file__).resolve().parent
    try:
        # Only if this very file is tracked: an installed copy inside some other repository is not "our" commit.
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", Path(__file__).name], cwd=here,
                                 capture_output=True, text=True, timeout=5)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if tracked.returncode != 0 or head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None}


def environment() -> dict[str, Any]:
    """Library versions that can change pixels (read from package metadata; nothing is imported)."""
    versions: dict[str, str | None] = {}
    for pkg in ("torch", "diffusers", "transformers", "av"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {"python": platform.python_version(), "platform": platform.platform(terse=True), **versions}


# An argument whose name looks like a secret (``--gen-arg hf_token=...``, ``--api-key X``) is recorded without its value.
_SECRET_NAME = re.compile(r"key|token|secret|passw|credential", re.IGNORECASE)


def command_line(argv: Sequence[str] | None = None) -> list[str]:
    """The process's command line for run.json, with the values of secret-looking arguments replaced by ``***``."""
    args = list(sys.argv if argv is None else argv)
    out: list[str] = []
    for i, arg in enumerate(args):
        name, sep, _ = arg.partition("=")
        if sep and _SECRET_NAME.search(name):
            arg = f"{name}=***"
        elif i > 0 and args[i - 1].startswith("-") and "=" not in args[i - 1] and _SECRET_NAME.search(args[i - 1]):
            arg = "***"
        out.append(arg)
    return out


def invocation(started: str, shard: Shard) -> dict[str, Any]:
    """Where one ``generate`` call ran: appended to run.json's ``invocations``."""
    return {"started": started, "command": command_line(), "host": socket.gethostname(), "shard": str(shard),
            "vrbench_version": __version__, "git": git_commit(), "environment": environment()}


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _signature_diff(old: dict, new: dict) -> str:
    keys = sorted(set(old) | set(new))
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    text = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return text[:300]


def check_writable(root: Path) -> None:
    """Create the run directory and prove it can be written, with a one-line error if not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise VRBenchError(f"--out {root}: cannot write the run directory ({e.strerror or type(e).__name__})") from None


def _discard_outputs(run: RunDir) -> None:
    """Remove what a run made with other settings (``--overwrite``); run.json is rewritten next."""
    import shutil

    log.warning("--overwrite: discarding videos, generations, judgments, scores and VBench results in %s", run.root)
    for d in (run.videos_dir, run.root / "judgments", run.root / "scores", run.vbench_dir):
        shutil.rmtree(d, ignore_errors=True)
    run.generations_file.unlink(missing_ok=True)


def prepare_run(run: RunDir, generator_name: str, signature: dict, suite_info: dict | None, cases: Sequence[str],
                seeds: Sequence[int], overwrite: bool = False, called: dict[str, Any] | None = None,
                label: str | None = None, vbench: dict | None = None) -> dict:
    """Write (or extend) run.json before any video; refuse a different generator signature.

    ``called`` (see :func:`invocation`) is appended to ``invocations``; the first call's provenance
    also stays at the top level, never overwritten by later calls. ``vbench`` (a VBench prompt suite's
    ``info()``) makes the run a VBench run (``"kind": "vbench"``, no ``suite``, ``cases`` or ``seeds``):
    a run holds one kind of videos, and one prompt file, whose selected dimensions add up over calls."""
    called = called if called is not None else invocation(utc_now(), Shard())

    def change(manifest: dict) -> None:
        recorded = manifest.get("generator")
        ours = {"name": generator_name, "signature": signature}
        if manifest:
            _check_same_prompts(run, manifest, vbench, overwrite)
        if recorded and recorded != ours:
            if not overwrite:
                what = (f"generator '{recorded.get('name')}'" if recorded.get("name") != generator_name
                        else f"other {generator_name} settings ({_signature_diff(recorded.get('signature') or {}, signature)})")
                raise VRBenchError(
                    f"{run.run_file}: this run was made with {what}; a run never mixes settings: "
                    "use another --out, or pass --overwrite to discard its videos, judgments and scores"
                )
            _discard_outputs(run)
            manifest.clear()
        if not manifest:
            manifest.update({"vrbench_version": called["vrbench_version"], "created": called["started"],
                             "git": called["git"], "host": called["host"], "command": called["command"],
                             "environment": called["environment"]})
        if vbench is None:
            manifest["suite"] = suite_info
        else:
            manifest["kind"] = VBENCH_KIND
            manifest["vbench"] = _merge_vbench_info(manifest.get("vbench"), vbench)
        manifest["generator"] = ours
        if label is not None:
            manifest["label"] = label
        if vbench is None:
            manifest["cases"] = sorted(set(manifest.get("cases") or []) | set(cases))
            manifest["seeds"] = sorted(set(manifest.get("seeds") or []) | set(seeds))
        manifest.setdefault("invocations", []).append(called)
        manifest.setdefault("timings", {})

    return update_manifest(run.root, change)


def _check_same_prompts(run: RunDir, manifest: dict, vbench: dict | None, overwrite: bool) -> None:
    """A run holds the videos of one prompt suite: VR-Bench's or one VBench prompt file (never both)."""
    recorded_kind = manifest.get("kind") or "vrbench"
    ours = VBENCH_KIND if vbench is not None else "vrbench"
    if recorded_kind != ours:
        holds = "VBench's prompt suite" if recorded_kind == VBENCH_KIND else "VR-Bench's suite"
        raise VRBenchError(f"{run.run_file}: this run holds {holds}; a run holds the videos of one prompt suite: use another --out")
    if vbench is None:
        return
    old = manifest.get("vbench") or {}
    if (old.get("benchmark"), old.get("sha256")) != (vbench["benchmark"], vbench["sha256"]) and not overwrite:
        raise VRBenchError(f"{run.run_file}: this run was made from {old.get('benchmark')} prompt file {old.get('file')} "
                           f"(sha256 {str(old.get('sha256'))[:12]}), not {vbench['file']} (sha256 {vbench['sha256'][:12]}): "
                           "use another --out, or pass --overwrite to discard its videos and results")


def _merge_vbench_info(old: dict | None, new: dict) -> dict:
    """run.json's ``vbench``: the selected dimensions add up over calls; the largest ``--samples`` counts."""
    if not old or old.get("sha256") != new["sha256"]:
        return dict(new)
    dims = list(dict.fromkeys([*(old.get("dimensions") or []), *new["dimensions"]]))
    samples = None if old.get("samples") is None or new["samples"] is None else max(old["samples"], new["samples"])
    return {**new, "dimensions": dims, "samples": samples}


# ------------------------------------------------------------------------------------ generating


@dataclass
class GenerationSummary:
    run_dir: Path
    pairs: int  # (case, seed) pairs selected for the run
    assigned: int  # pairs in this process's shard
    skipped: int  # already finished before this call
    made: int  # videos made by this call
    recovered: int  # videos found on disk without a row (a crash between write and append) and adopted
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # (case, seed, error)
    seconds: float = 0.0
    complete: bool = False  # every selected pair (all shards) has a row: a video or an error
    judge_here: bool = False  # this process is the one (of all ranks and shards) to judge and score the run
    last_row_end: int | None = field(default=None, repr=False)  # generations.jsonl's size after our last row

    def line(self) -> str:
        parts = [f"{self.made} made", f"{self.skipped} already done"]
        if self.recovered:
            parts.append(f"{self.recovered} recovered")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        share = f" (this shard: {self.assigned} of {self.pairs})" if self.assigned != self.pairs else ""
        return f"generate: {', '.join(parts)}{share} in {self.seconds:.1f}s -> {self.run_dir}"


def _remove_stale_temp_files(run: RunDir, videos: Sequence[Path]) -> None:
    """Temporary files of writes a kill interrupted (``files.atomic_output``: ``.{name}.XXXX.mp4`` beside the
    video), for videos this process owns (no other process writes them)."""
    if not run.videos_dir.is_dir():
        return
    prefixes = tuple(f".{v.name}." for v in videos)
    for path in run.videos_dir.iterdir():
        if path.name.startswith(prefixes) and path.suffix == ".mp4":
            path.unlink(missing_ok=True)


def _video_row(run: RunDir, generator_name: str, case_id: str, seed: int, seconds: float | None,
               info: dict | None = None, path: Path | None = None) -> dict:
    from ..video import sha256_file, video_info

    path = path or run.video_path(case_id, seed)
    meta = video_info(path)
    row = {
        "case": case_id,
        "seed": seed,
        "video": path.relative_to(run.root).as_posix(),
        "sha256": sha256_file(path),
        "generator": generator_name,
        "fps": meta["fps"],
        "frames": meta["frames"],
        "width": meta["width"],
        "height": meta["height"],
        "seconds": None if seconds is None else round(seconds, 3),
        "created": utc_now(),
    }
    if info:
        row["info"] = info
    return row


def _error_row(generator_name: str, case_id: str, seed: int, error: str) -> dict:
    return {"case": case_id, "seed": seed, "generator": generator_name, "error": error, "created": utc_now()}


def generate_run(
    run_dir: str | Path,
    model: str,
    *,
    options: dict[str, Any] | None = None,
    cases: Sequence[str] | None = None,
    seeds: int | Sequence[int] = 1,
    limit: int | None = None,
    suite_path: str | Path | None = None,
    shard: Shard | None = None,
    overwrite: bool = False,
    progress: bool = True,
    generator=None,
    label: str | None = None,
) -> GenerationSummary:
    """Generate the videos of a run (or of this process's shard of it); see the module docstring.

    ``cases`` are selectors (``ETV``, ``HL-Comm``, ``ETV-07``); ``seeds`` is a count (seeds 0..N-1) or
    explicit seeds; ``limit`` keeps the first N selected cases. ``generator`` may be a ready instance
    (its ``signature()`` is still recorded under ``model``). ``label`` names the run downstream (report,
    agreement, exports; default: the run folder's name) and is stored in run.json.
    """
    from ..generator import GENERATORS
    from ..runstore import suite_for_run

    started, t0 = utc_now(), time.monotonic()
    run = RunDir(run_dir)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else sorted(set(seeds))
    if not seed_list or any(s < 0 for s in seed_list):
        raise VRBenchError(f"--seeds: expected a positive count, got {seeds}")
    if limit is not None and limit < 1:
        raise VRBenchError(f"--limit: expected a positive number, got {limit}")
    _check_label(label)
    check_writable(run.root)
    size_at_start = _file_size(run.generations_file)
    suite = suite_for_run(run, suite_path)
    selected: list[Case] = suite.select(cases)[:limit]
    if not selected:
        raise VRBenchError("no cases selected")
    gen = generator if generator is not None else GENERATORS.create(model, options)  # cheap: no weights yet
    signature = gen.signature()
    shard = shard or Shard()
    prepare_run(run, model, signature, suite.info(), [c.id for c in selected], seed_list, overwrite,
                invocation(started, shard), label=label)
    pairs: list[Pair] = [(c.id, s) for c in selected for s in seed_list]
    return _generate_pairs(run, model, gen, {c.id: c.prompt for c in selected}, pairs, run.video_path,
                           owns_generator=generator is None, shard=shard, started=started, t0=t0,
                           size_at_start=size_at_start, progress=progress)


def generate_vbench_run(
    run_dir: str | Path,
    model: str,
    *,
    benchmark: str = "vbench",
    dimensions: Sequence[str] | None = None,
    samples: int | None = None,
    info_path: str | Path | None = None,
    options: dict[str, Any] | None = None,
    limit: int | None = None,
    shard: Shard | None = None,
    overwrite: bool = False,
    progress: bool = True,
    generator=None,
    label: str | None = None,
) -> GenerationSummary:
    """Generate VBench's standard prompt suite (``vbench_prompts``) as VBench's standard mode looks it up:
    ``videos/{prompt}-{index}.mp4``, index = seed = 0..samples-1, with the same machinery as VR-Bench
    runs (resume, shards, ranks, atomic writes, generations.jsonl rows whose ``case`` is the file stem).

    run.json records ``"kind": "vbench"`` and the prompt file (``vbench``), so ``judge`` and ``score``
    refuse the run and `vrbench vbench evaluate` knows what to evaluate. ``limit`` keeps the first N prompts.
    """
    from ..generator import GENERATORS
    from ..vbench_prompts import load_prompt_suite, video_file_name

    started, t0 = utc_now(), time.monotonic()
    run = RunDir(run_dir)
    if limit is not None and limit < 1:
        raise VRBenchError(f"--limit: expected a positive number, got {limit}")
    _check_label(label)
    suite = load_prompt_suite(benchmark, info_path, dimensions, samples)
    prompts = suite.prompts[:limit]
    if not prompts:
        raise VRBenchError(f"--vbench-dimensions: no prompts of {suite.path} belong to {', '.join(suite.dimensions)}")
    check_writable(run.root)
    size_at_start = _file_size(run.generations_file)
    gen = generator if generator is not None else GENERATORS.create(model, options)  # cheap: no weights yet
    shard = shard or Shard()
    prepare_run(run, model, gen.signature(), None, [], [], overwrite, invocation(started, shard), label=label,
                vbench=suite.info())
    pairs: list[Pair] = [(p.id, i) for p in prompts for i in range(p.samples)]

    def video_path(stem: str, index: int) -> Path:
        return run.videos_dir / video_file_name(stem, index)

    return _generate_pairs(run, model, gen, {p.id: p.prompt for p in prompts}, pairs, video_path,
                           owns_generator=generator is None, shard=shard, started=started, t0=t0,
                           size_at_start=size_at_start, progress=progress)


def _check_label(label: str | None) -> None:
    if label is not None and (not label.strip() or label != label.strip() or "\n" in label):
        raise VRBenchError(f"--label: expected a non-empty name without surrounding spaces, got {label!r}")


def _generate_pairs(run: RunDir, model: str, gen, prompts: Mapping[str, str], pairs: list[Pair],
                    video_path: Callable[[str, int], Path], *, owns_generator: bool, shard: Shard, started: str,
                    t0: float, size_at_start: int, progress: bool) -> GenerationSummary:
    """The one generation loop of every run: this process's share of ``pairs`` ((id, seed), the id's prompt in
    ``prompts``), each written to ``video_path(id, seed)``; resumes, records rows and decides who judges."""
    from tqdm.auto import tqdm

    from ..generator import GenerationRequest

    mine = shard.take(pairs)
    latest = latest_generations(run.root)
    done = {k for k, r in latest.items() if "error" not in r and (run.root / r["video"]).is_file()}

    # A video renamed into place just before a crash has no row: adopt it (it is complete, written atomically).
    recovered = [p for p in mine if p not in done and video_path(*p).is_file()]
    last_row_end = None
    for case_id, seed in recovered:
        last_row_end = append_row(run, {**_video_row(run, model, case_id, seed, None, path=video_path(case_id, seed)),
                                        "recovered": True})
        done.add((case_id, seed))
    todo = [p for p in mine if p not in done]
    _remove_stale_temp_files(run, [video_path(*p) for p in todo])
    summary = GenerationSummary(run.root, len(pairs), len(mine), len(mine) - len(todo) - len(recovered), 0, len(recovered),
                                last_row_end=last_row_end)
    if todo:
        log.info("generating %d videos with %s into %s (shard %s)", len(todo), model, run.root, shard)
        try:
            gen.prepare([GenerationRequest(c, prompts[c], seed) for c, seed in todo])  # e.g. conditioning, before weights
            gen.load()
            batch_size = max(1, int(getattr(gen, "batch_size", 1)))
            bar = tqdm(total=len(todo), desc=f"generate {model}", unit="video", disable=not progress)
            with bar:
                for start in range(0, len(todo), batch_size):
                    batch = todo[start : start + batch_size]
                    _generate_batch(gen, run, model, [GenerationRequest(c, prompts[c], s) for c, s in batch], video_path,
                                    summary, latest)
                    bar.update(len(batch))
        finally:
            if owns_generator:
                gen.close()
    else:
        log.info("nothing to generate: all %d videos of this shard exist in %s", len(mine), run.root)

    summary.seconds = time.monotonic() - t0
    with run_lock(run.root):  # ranks finishing together decide one after the other
        latest = latest_generations(run.root)
        summary.complete = all(p in latest for p in pairs)
        summary.judge_here = is_judging_process(complete=summary.complete, size_now=_file_size(run.generations_file),
                                                my_last_row_end=summary.last_row_end, size_at_start=size_at_start,
                                                shard_index=shard.index)
    key = "generate" if shard.count == 1 else f"generate[{shard}]"

    def record(manifest: dict) -> None:
        manifest.setdefault("timings", {})[key] = {
            "started": started, "finished": utc_now(), "seconds": round(summary.seconds, 3),
            "made": summary.made, "failed": len(summary.failed),
            "device": getattr(gen, "device", None) if todo else None,  # numerics differ slightly across devices
        }

    update_manifest(run.root, record)
    return summary


def _generate_batch(gen, run: RunDir, model: str, requests: list, video_path: Callable[[str, int], Path],
                    summary: GenerationSummary, latest: dict[Pair, dict]) -> None:
    """Generate, write and record one batch; a CaseFailed batch is retried one by one to find the culprit."""
    from ..generator import CaseFailed
    from ..video import write_video

    t0 = time.monotonic()
    try:
        results = gen.generate(requests)
    except CaseFailed as e:
        if len(requests) > 1:
            for request in requests:
                _generate_batch(gen, run, model, [request], video_path, summary, latest)
            return
        case_id, seed = requests[0].case_id, requests[0].seed
        log.info("%s seed %d: %s", case_id, seed, e)  # reported once, by the caller (summary.failed)
        summary.failed.append((case_id, seed, str(e)))
        previous = latest.get((case_id, seed))
        if not (previous and previous.get("error") == str(e)):  # the same failure again adds no row
            summary.last_row_end = append_row(run, _error_row(model, case_id, seed, str(e)))
        return
    if len(results) != len(requests):
        raise RuntimeError(f"generator {model} returned {len(results)} videos for {len(requests)} requests")
    seconds = (time.monotonic() - t0) / len(requests)
    for req, video in zip(requests, results):
        path = video_path(req.case_id, req.seed)
        write_video(path, video.frames, video.fps)
        summary.last_row_end = append_row(run, _video_row(run, model, req.case_id, req.seed, seconds, video.info, path=path))
        summary.made += 1
