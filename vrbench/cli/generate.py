"""`vrbench generate`, and the generation options and summary that `run` and `demo` share."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import VRBenchError
from .common import add_cases_option


def generator_options(args) -> dict:
    """``--gen-arg`` pairs plus the ``--model-path/--dtype/--device/--offload`` shortcuts, checked against the model."""
    from ..generator import get_generator
    from ..options import option_types, parse_options

    cls = get_generator(args.model)
    options = parse_options(cls, args.gen_arg, owner=f"model {args.model}")
    accepted = option_types(cls)
    for flag, key in (("--model-path", "model_path"), ("--dtype", "dtype"), ("--device", "device"), ("--offload", "offload")):
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            raise VRBenchError(f"model {args.model} takes no {flag} (options: {', '.join(sorted(accepted)) or 'none'})")
        options[key] = value
    return options


def out_dir(args) -> Path:
    from ..runstore import safe_name

    return Path(args.out) if args.out else Path("runs") / safe_name(args.model)


def generate_videos(args):
    from ..stages.generate import current_shard, generate_run, generate_vbench_run

    prompts = getattr(args, "prompts", "vrbench")
    if prompts != "vrbench":
        _check_vbench_options(args)
        summary = generate_vbench_run(
            out_dir(args), args.model, benchmark=prompts, dimensions=args.vbench_dimensions, samples=args.samples,
            info_path=args.vbench_info, options=generator_options(args), limit=args.limit, shard=current_shard(args.shard),
            overwrite=args.overwrite, progress=not args.no_progress, label=args.label,
        )
    else:
        given = [flag for flag, value in (("--vbench-dimensions", getattr(args, "vbench_dimensions", None)),
                                          ("--samples", getattr(args, "samples", None)),
                                          ("--vbench-info", getattr(args, "vbench_info", None))) if value]
        if given:
            raise VRBenchError(f"{', '.join(given)}: only with --prompts vbench or vbench2")
        summary = generate_run(
            out_dir(args), args.model, options=generator_options(args), cases=args.cases, seeds=args.seeds,
            limit=args.limit, suite_path=args.suite, shard=current_shard(args.shard), overwrite=args.overwrite,
            progress=not args.no_progress, label=getattr(args, "label", None),
        )
    print(summary.line())
    for case_id, seed, error in summary.failed[:20]:
        print(f"  failed: {case_id} seed {seed}: {error}", file=sys.stderr)
    if len(summary.failed) > 20:
        print(f"  ... and {len(summary.failed) - 20} more failures (see generations.jsonl)", file=sys.stderr)
    return summary


#: exit status when some (case, seed) failed but the others were made (batch jobs can tell it from 2, a usage error)
EXIT_SOME_FAILED = 3


def exit_status(summary) -> int:
    return EXIT_SOME_FAILED if summary.failed else 0  # the summary line names how many failed


def cmd_generate(args) -> int:
    return exit_status(generate_videos(args))



def add_generation_options(p: argparse.ArgumentParser, model_required: bool = True) -> None:
    if model_required:
        p.add_argument("--model", required=True, metavar="NAME", help="registered model (`vrbench list models`)")
        p.add_argument("--model-path", metavar="PATH", help="local weights (a diffusers folder) or another Hub id; "
                                                            "for --model videos, the folder of videos")
        p.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="a model option, e.g. steps=30, guidance=6, height=720 (repeatable)")
        p.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], help="weights dtype (default: the model's)")
        p.add_argument("--device", help="auto (default: cuda:$LOCAL_RANK if CUDA, else cpu), cpu, cuda, cuda:N")
        p.add_argument("--offload", choices=["none", "model", "sequential"], help="CPU offload to save GPU memory")
        p.add_argument("--shard", metavar="i/N", help="only every N-th (case, seed) pair starting at i (0-based), for job "
                                                      "arrays; under torchrun each rank also takes its share")
        p.add_argument("--overwrite", action="store_true",
                       help="the run dir was made with other settings: discard its videos, judgments and scores")
    add_cases_option(p)
    p.add_argument("--seeds", type=int, default=1, metavar="N", help="videos per case, seeds 0..N-1 (default: 1)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N selected cases")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<model>)")
    p.add_argument("--label", metavar="NAME", help="the run's name in reports, agreement and exports (default: the run "
                                                   "folder's name); stored in run.json")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")



def _check_vbench_options(args) -> None:
    """VR-Bench's case options mean nothing for VBench's prompt suite: one line, not a silent no-op."""
    given = [flag for flag, value in (("--cases", args.cases), ("--suite", args.suite)) if value]
    if args.seeds != 1:
        given.append("--seeds")
    if given:
        raise VRBenchError(f"{', '.join(given)}: not with --prompts {args.prompts} (VBench's prompts are chosen with "
                           "--vbench-dimensions, their samples with --samples; the sample index is the seed)")


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="generate the suite's videos with a model",
        description="Generate a video per (case, seed) into OUT/videos/ and a row per video into OUT/generations.jsonl. "
                    "Resumable: rerun the same command after a crash or Ctrl-C and finished videos are skipped. "
                    "Under torchrun / accelerate launch each rank generates its share. With --prompts vbench, generate "
                    "VBench's standard prompt suite instead, as OUT/videos/{prompt}-{index}.mp4 for `vrbench vbench evaluate`.",
        epilog="Example: vrbench generate --model wan2.1-t2v-1.3b --cases ETV CCR --seeds 2 --out runs/wan13b",
    )
    add_generation_options(p)
    p.add_argument("--prompts", choices=["vrbench", "vbench", "vbench2"], default="vrbench",
                   help="the prompt suite: VR-Bench's (default), VBench's standard suite (VBench_full_info.json of the "
                        "installed vbench package, 946 entries) or VBench-2.0's (vbench2's VBench2_full_info.json)")
    p.add_argument("--vbench-dimensions", nargs="+", action="extend", metavar="DIM",
                   help="--prompts vbench/vbench2: only the prompts of these VBench dimensions (default: all)")
    p.add_argument("--samples", type=int, metavar="N",
                   help="--prompts vbench/vbench2: videos per prompt, indices and seeds 0..N-1 (default: what VBench "
                        "looks up: 5; VBench-2.0: 3, and 20 for Diversity)")
    p.add_argument("--vbench-info", metavar="PATH",
                   help="--prompts vbench/vbench2: the prompt file (default: the one inside the installed package)")
    p.set_defaults(func=cmd_generate)
