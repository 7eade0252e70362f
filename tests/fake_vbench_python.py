"""A stand-in for the python of VBench's own venv, for `vrbench vbench evaluate` tests on CPU.

Started as ``fake_vbench_python.py ARGS`` by a one-line wrapper script that tests pass as --vbench-python.
It answers the two things vrbench asks that interpreter:

- ``-c CODE ARG...``: runs CODE (vrbench's probe) with ``$FAKE_VBENCH_SITE`` first on sys.path: a folder
  where the REAL vbench 0.1.5 wheel is installed with ``pip install --no-deps --target`` (unset: no vbench).
- ``-m torch.distributed.run --standalone --nproc_per_node N <vbench>/launch/evaluate.py ARGS``: what
  VBench's own CLI runs (vbench 0.1.5 ``vbench/cli/evaluate.py``). ARGS are parsed with the options of
  vbench 0.1.5's ``launch/evaluate.py`` (same names, types, defaults and choices), and the standard mode is
  mirrored from ``VBench.build_full_info_json`` in its ``vbench/__init__.py``: list the videos folder, take
  the extension of the FIRST name listed, look up ``f"{prompt}-{i}{ext}"`` for i in range(5), write
  ``results_<%Y-%m-%d-%H:%M:%S>_full_info.json`` and then ``results_<time>_eval_results.json`` (json.dump,
  indent 4) shaped ``{dimension: [aggregate, [{"video_path": ..., "video_results": ...}, ...]]}``.

The scores are not computed (that needs VBench's models on a GPU): each dimension's aggregate is taken from
``$FAKE_VBENCH_SCORES`` (a JSON object, dimension -> value in [0, 1]) and each video's result is that value
(imaging_quality per video on VBench's 0-100 scale, as VBench writes it). ``$FAKE_VBENCH_LOG`` gets a JSON
line with the argv and what was found; ``$FAKE_VBENCH_EXIT`` makes the evaluation fail with that status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path


def log(**record) -> None:
    path = os.environ.get("FAKE_VBENCH_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def launch_parser() -> argparse.ArgumentParser:
    """vbench 0.1.5 launch/evaluate.py's parse_args (help texts left out)."""
    p = argparse.ArgumentParser(description="VBench")
    p.add_argument("--output_path", type=str, default="./evaluation_results/")
    p.add_argument("--full_json_dir", type=str, default=None)  # upstream: <vbench>/VBench_full_info.json
    p.add_argument("--videos_path", type=str, required=True)
    p.add_argument("--dimension", nargs="+", required=True)
    p.add_argument("--load_ckpt_from_local", type=bool, required=False)
    p.add_argument("--read_frame", type=bool, required=False)
    p.add_argument("--mode", choices=["custom_input", "vbench_standard", "vbench_category"], default="vbench_standard")
    p.add_argument("--prompt", type=str, default="None")
    p.add_argument("--prompt_file", type=str, required=False)
    p.add_argument("--category", type=str, required=False)
    p.add_argument("--imaging_quality_preprocessing_mode", type=str, required=False, default="longer")
    return p


def evaluate(argv: list[str]) -> int:
    # torch.distributed.run's own options, then the script and its arguments
    runner = argparse.ArgumentParser()
    runner.add_argument("--standalone", action="store_true")
    runner.add_argument("--nproc_per_node", type=int, default=1)
    runner.add_argument("script")
    runner.add_argument("args", nargs=argparse.REMAINDER)
    ns = runner.parse_args(argv)
    script = Path(ns.script)
    assert script.is_file() and script.parts[-3:] == ("vbench", "launch", "evaluate.py"), script
    args = launch_parser().parse_args(ns.args)
    full_json = args.full_json_dir or str(script.parent.parent / "VBench_full_info.json")
    if os.environ.get("FAKE_VBENCH_EXIT"):
        print("Traceback (most recent call last):\nRuntimeError: CUDA error: no CUDA-capable device is detected")
        return int(os.environ["FAKE_VBENCH_EXIT"])
    assert args.mode == "vbench_standard", args.mode

    # VBench.build_full_info_json, standard mode
    with open(full_json, encoding="utf-8") as f:
        full_info_list = json.load(f)
    video_names = os.listdir(args.videos_path)
    postfix = Path(video_names[0]).suffix
    cur_full_info_list, missing = [], []
    for prompt_dict in full_info_list:
        if set(args.dimension) & set(prompt_dict["dimension"]):
            prompt = prompt_dict["prompt_en"]
            prompt_dict["video_list"] = []
            for i in range(5):
                intended_video_name = f"{prompt}-{str(i)}{postfix}"
                if intended_video_name in video_names:
                    prompt_dict["video_list"].append(os.path.join(args.videos_path, intended_video_name))
                else:
                    print(f"WARNING!!! This required video is not found! The missing video is: {intended_video_name}")
                    missing.append(intended_video_name)
            cur_full_info_list.append(prompt_dict)
    os.makedirs(args.output_path, exist_ok=True)
    name = f"results_{datetime.now().strftime('%Y-%m-%d-%H:%M:%S')}"
    with open(os.path.join(args.output_path, name + "_full_info.json"), "w", encoding="utf-8") as f:
        json.dump(cur_full_info_list, f, indent=4)

    scores = json.loads(os.environ.get("FAKE_VBENCH_SCORES", "{}"))
    results_dict = {}
    for dimension in args.dimension:
        value = float(scores.get(dimension, 0.5))
        per_video = 100 * value if dimension == "imaging_quality" else value
        videos = [v for d in cur_full_info_list if dimension in d["dimension"] for v in d["video_list"]]
        results_dict[dimension] = [value, [{"video_path": v, "video_results": per_video} for v in videos]]
    with open(os.path.join(args.output_path, name + "_eval_results.json"), "w", encoding="utf-8") as f:
        json.dump(results_dict, f, indent=4)
    log(argv=sys.argv[1:], postfix=postfix, found=sum(len(d["video_list"]) for d in cur_full_info_list), missing=missing,
        cwd=os.getcwd())
    print(f"Evaluation results saved to {os.path.join(args.output_path, name + '_eval_results.json')}")
    return 0


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["-c"]:
        site = os.environ.get("FAKE_VBENCH_SITE")
        if site:
            sys.path.insert(0, site)
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
        return 0
    if argv[:2] == ["-m", "torch.distributed.run"]:
        return evaluate(argv[2:])
    print(f"fake VBench python: unexpected arguments {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
