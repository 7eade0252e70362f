"""`vrbench vbench import | evaluate`: VBench's own totals from its result files; VBench run on a VBench run."""

from __future__ import annotations

from typing import Any

from .common import write_json


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"



def cmd_vbench_import(args) -> int:
    from ..vbench import read_vbench_sources

    results = read_vbench_sources(args.files, percent=args.percent)
    out = _print_totals(results)
    write_json(args.json, out)
    return 0


def _print_totals(results) -> list[dict]:
    """VBench's totals of each result as tables (one per benchmark), with notes on missing dimensions."""
    from ..console import table
    from ..vbench import BENCHMARK_NAMES, I2V_NORMALIZATION, T2V_NORMALIZATION, V2_CATEGORIES, V2_DIMENSIONS, VBENCH, VBENCH2, VBENCH_I2V

    # per benchmark: its score columns (header, key into totals()) and how many dimensions it has
    layouts: dict[str, tuple[list[tuple[str, Any]], int]] = {
        VBENCH: ([("Total", "total"), ("Quality", "quality"), ("Semantic", "semantic")], len(T2V_NORMALIZATION)),
        VBENCH2: ([("Total", "total")] + [(c.replace("_", " ").title(), ("categories", c)) for c in V2_CATEGORIES], len(V2_DIMENSIONS)),
        VBENCH_I2V: ([("Total", "total"), ("I2V", "i2v"), ("Quality", "quality")], len(I2V_NORMALIZATION)),
    }
    notes, out, printed = [], [], False
    for benchmark, (columns, n_dims) in layouts.items():
        rows = []
        for r in (r for r in results if r.benchmark == benchmark):
            t = r.totals()
            values = [t[key[0]][key[1]] if isinstance(key, tuple) else t[key] for _, key in columns]
            rows.append([r.model or "(unnamed)", *map(_pct, values), f"{len(r.dimensions)}/{n_dims}"])
            if t["missing"]:
                notes.append(f"{r.model or '(unnamed)'}: missing {', '.join(t['missing'])}; totals that need them are not computed")
            out.append({"model": r.model, "benchmark": benchmark, "dimensions": r.dimensions, **t})
        if not rows:
            continue
        if printed:
            print()
        printed = True
        print(f"{BENCHMARK_NAMES[benchmark]} (percent)")
        print(table(["model", *(header for header, _ in columns), "dims"], rows))
    for n in notes:
        print(f"note: {n}")
    return out


def cmd_vbench_evaluate(args) -> int:
    from ..vbench_eval import evaluate_run, load_vbench_run

    path = evaluate_run(args.run_dir, args.vbench_python, args.dimensions, ngpus=args.ngpus)
    print(f"wrote {path}")
    run = load_vbench_run(args.run_dir)  # every evaluation of the run so far, the latest value of each dimension
    _print_totals(run.results)
    return 0



def register(sub) -> None:
    p = sub.add_parser("vbench", help="VBench passthrough", description="Read VBench results and compute VBench's totals.")
    vb = p.add_subparsers(dest="vbench_command", metavar="SUBCOMMAND", required=True)
    q = vb.add_parser("import", help="print VBench Total/Quality/Semantic from result files",
                      description="Read VBench *_eval_results.json files (all files of one model together; name it with "
                                  "MODEL=FILE) or CSVs of per-dimension values, and print Total/Quality/Semantic computed as "
                                  "VBench does (VBench-2.0: Total and its five categories). Missing dimensions are named; no "
                                  "total is computed without them.")
    q.add_argument("files", nargs="+", metavar="FILE", help="*_eval_results.json (optionally MODEL=FILE) or .csv")
    q.add_argument("--percent", action="store_true", help="CSV values are percentages (0-100), as on the VBench leaderboard")
    q.add_argument("--json", metavar="OUT", help="also write the dimensions and totals (0-1 scale) as JSON")
    q.set_defaults(func=cmd_vbench_import)
    e = vb.add_parser("evaluate", help="run VBench (in its own venv) on a run made with `vrbench generate --prompts vbench`",
                      description="Run VBench's standard mode on RUN/videos/ with the python of VBench's own venv (VBench pins "
                                  "transformers==4.33.2 and numpy<2, so it cannot share vrbench's), as its `vbench evaluate` "
                                  "does; its *_eval_results.json goes into RUN/vbench/, where `vrbench report` finds it (give "
                                  "RUN beside the VR-Bench runs). Refuses a run with missing videos.")
    e.add_argument("run_dir", metavar="RUN", help="a run made with `vrbench generate --prompts vbench`")
    e.add_argument("--dimensions", nargs="+", metavar="DIM", help="VBench dimensions to evaluate (default: every one the "
                                                                 "run was generated for)")
    e.add_argument("--vbench-python", metavar="PATH", help="the python of the venv VBench is installed in "
                                                            "(e.g. vbench-env/bin/python)")
    e.add_argument("--ngpus", type=int, default=1, metavar="N", help="GPUs VBench spreads the videos over (default: 1)")
    e.set_defaults(func=cmd_vbench_evaluate)
