"""`vrbench report`, `vrbench vbench import` and `vrbench agreement`."""

from __future__ import annotations


from ..errors import VRBenchError


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def cmd_report(args) -> int:
    from ..agreement import all_agreements, read_human_labels
    from ..report import build_site, load_runs
    from ..stages import suite_for_runs
    from ..vbench import read_vbench_sources

    suite = suite_for_runs(args.run_dirs, args.suite)  # the suite the runs recorded (v1.0 runs: v1.0)
    # Read every input before writing anything, so a bad file never leaves a half-made site.
    vbench = read_vbench_sources(args.vbench, percent=args.percent) if args.vbench else None
    labels = read_human_labels(args.human) if args.human else None
    runs = load_runs(args.run_dirs, suite)
    agreement = None
    if labels is not None or len({j for r in runs for j in r.judges}) > 1:
        agreement = all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)
    index = build_site(runs, suite, args.out, vbench=vbench, agreement=agreement, copy_videos=args.copy_videos)
    print(f"wrote {index} (open it in a browser; it needs no network)")
    return 0


def cmd_vbench_import(args) -> int:
    from ..console import table
    from ..vbench import (BENCHMARK_NAMES, I2V_NORMALIZATION, T2V_NORMALIZATION, V2_CATEGORIES, V2_DIMENSIONS, VBENCH,
                          VBENCH2, VBENCH_I2V, read_vbench_sources)

    # per benchmark: its score columns (header, key into totals()) and how many dimensions it has
    layouts = {
        VBENCH: ([("Total", "total"), ("Quality", "quality"), ("Semantic", "semantic")], len(T2V_NORMALIZATION)),
        VBENCH2: ([("Total", "total")] + [(c.replace("_", " ").title(), ("categories", c)) for c in V2_CATEGORIES], len(V2_DIMENSIONS)),
        VBENCH_I2V: ([("Total", "total"), ("I2V", "i2v"), ("Quality", "quality")], len(I2V_NORMALIZATION)),
    }
    results = read_vbench_sources(args.files, percent=args.percent)
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
    _write_json(args.json, out)
    return 0


def _write_json(path: str | None, obj) -> None:
    """``--json OUT``: the printed results, machine-readable."""
    if path:
        from pathlib import Path

        from ..runstore import atomic_write_json

        atomic_write_json(Path(path), obj)
        print(f"wrote {path}")


def cmd_agreement(args) -> int:
    from ..agreement import all_agreements, read_human_labels
    from ..console import table
    from ..report import load_runs
    from ..stages import suite_for_runs

    suite = suite_for_runs(args.run_dirs, args.suite)
    labels = read_human_labels(args.human) if args.human else None
    runs = load_runs(args.run_dirs, suite)
    judges = sorted({j for r in runs for j in r.judges})
    if not judges:
        raise VRBenchError("no run has judgments: run `vrbench judge` first")
    if labels is None and len(judges) < 2:
        raise VRBenchError(f"nothing to compare: pass --human FILE, or runs judged by two judges (found: {', '.join(judges)})")
    result = all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)

    def tau(r: dict) -> str:
        if r["tau_b"] is None:
            return "— (needs 2+ models with distinct scores)"
        ci = f" [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r["ci"] else ""
        return f"{r['tau_b']:.3f}{ci}"

    def questions(q: dict | None) -> list[str]:
        if not q:
            return ["", "", ""]
        acc = "—" if q["accuracy"] is None else f"{100 * q['accuracy']:.1f}%"
        kappa = "—" if q["kappa"] is None else f"{q['kappa']:.3f}"
        return [acc, kappa, f"{q['n']}" + (f" (+{q['n_invalid']} invalid)" if q["n_invalid"] else "")]

    rows = []
    for a in result["human"]:
        rows.append([f"{a['judge']} vs humans", a["ranking"]["n_models"], tau(a["ranking"]), *questions(a.get("questions"))])
    for a in result["judges"]:
        rows.append([f"{a['judges'][0]} vs {a['judges'][1]}", a["ranking"]["n_models"], tau(a["ranking"]), *questions(a["questions"])])
    print(table(["raters", "models", "Kendall tau-b [95% CI]", "accuracy", "kappa", "answers"], rows))
    for a in result["human"]:
        for e in a.get("excluded") or []:
            print(f"note: {a['judge']} vs humans leaves out {e}")
    _write_json(args.json, result)
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="build the static HTML leaderboard site",
                       description="Build a static site (leaderboard, charts, a page per model, a page per case with its video) "
                                   "from run directories. It opens from file:// with no network.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (one per model)")
    p.add_argument("--out", required=True, metavar="SITE", help="folder to write the site into")
    p.add_argument("--vbench", nargs="+", metavar="FILE", default=[],
                   help="VBench results to show beside VR-Bench: a CSV with a model column, or MODEL=RESULTS.json")
    p.add_argument("--percent", action="store_true", help="VBench CSV values are percentages (0-100), as on the VBench leaderboard")
    p.add_argument("--human", metavar="FILE", help="human labels CSV: model,case,question,answer[,seed] or model,score")
    p.add_argument("--copy-videos", action="store_true", help="copy videos into the site (self-contained) instead of linking to the runs")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for agreement CIs (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.set_defaults(func=cmd_report)

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

    p = sub.add_parser("agreement", help="judge-vs-human and judge-vs-judge agreement",
                       description="Kendall's tau-b between model rankings (with a bootstrap CI), and question-level accuracy "
                                   "and Cohen's kappa, for every judge against human labels and for every pair of judges.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (one per model)")
    p.add_argument("--human", metavar="FILE", help="human labels CSV: model,case,question,answer[,seed] or model,score")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.set_defaults(func=cmd_agreement)
