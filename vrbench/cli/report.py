"""`vrbench report`: the static HTML leaderboard site, or the leaderboard table for a paper."""

from __future__ import annotations

from ..errors import VRBenchError
from .common import read_runs

FORMATS = ("html", "latex", "markdown", "csv")


def _check_options(args) -> None:
    """Options that make no sense together are one-line errors, before anything is read or written."""
    if args.format == "html":
        if args.ci:
            raise VRBenchError("--ci: only for --format latex, markdown or csv (the site always shows intervals)")
        return
    site_only = [name for name, given in (("--vbench", args.vbench), ("--human", args.human), ("--copy-videos", args.copy_videos),
                                          ("--percent", args.percent)) if given]
    if site_only:
        raise VRBenchError(f"{', '.join(site_only)}: only for the HTML site; --format {args.format} writes the leaderboard table "
                           "(rank, run, model, judge, overall, categories, dimensions)")


def _agreement(runs, suite, labels, args) -> dict:
    """Agreement for the site. Agreement compares rankings, so runs of different suites are never
    ranked together: with human labels they are refused (as `vrbench agreement` refuses them); judge
    against judge is measured on each suite's runs apart, each entry naming its suite."""
    from ..agreement import all_agreements
    from ..report import distinct_suites
    from ..results import suite_of

    if suite is not None:
        return all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)
    suites = distinct_suites([suite_of(r) for r in runs])
    if labels is not None:
        made = "; ".join(f"{s.name} {s.version} ({s.sha256[:12]}): {', '.join(r.label for r in runs if suite_of(r).sha256 == s.sha256)}" for s in suites)
        raise VRBenchError(f"--human: agreement ranks runs together, but these runs were made with different suites ({made}); "
                           "report them separately to compare them with human labels")
    merged: dict = {"human": [], "judges": []}
    for s in suites:
        part = all_agreements([r for r in runs if suite_of(r).sha256 == s.sha256], s, None,
                              samples=args.bootstrap, seed=args.bootstrap_seed)
        merged["judges"] += [{**a, "suite": f"{s.name} {s.version}"} for a in part["judges"]]
    return merged


def cmd_report(args) -> int:
    from ..report import build_site, write_table
    from ..vbench import read_vbench_sources

    _check_options(args)
    if args.bootstrap < 0:
        raise VRBenchError(f"--bootstrap: expected a number >= 0, got {args.bootstrap}")
    vbench_runs = _split_vbench_runs(args)
    if args.format != "html":
        suite, _labels, runs = read_runs(args, mixed_suites=True)
        path = write_table(runs, suite, args.out, args.format, ci=args.ci, samples=args.bootstrap, seed=args.bootstrap_seed)
        print(f"wrote {path}")
        return 0
    # Read every input before writing anything, so a bad file never leaves a half-made site.
    vbench = read_vbench_sources(args.vbench, percent=args.percent) if args.vbench else None
    suite, labels, runs = read_runs(args, mixed_suites=True)
    agreement = None
    if labels is not None or len({j for r in runs for j in r.judges}) > 1:
        agreement = _agreement(runs, suite, labels, args)
    index = build_site(runs, suite, args.out, vbench=vbench, agreement=agreement, copy_videos=args.copy_videos,
                       samples=args.bootstrap, seed=args.bootstrap_seed, vbench_runs=vbench_runs)
    print(f"wrote {index} (open it in a browser; it needs no network)")
    return 0


def _split_vbench_runs(args) -> list:
    """VBench runs (`vrbench generate --prompts vbench`) among the run directories are read for their VBench
    results (shown on the row of the VR-Bench run they belong to); ``args.run_dirs`` keeps the VR-Bench runs."""
    from ..vbench_eval import is_vbench_run, load_vbench_run

    vbench_dirs = [d for d in args.run_dirs if is_vbench_run(d)]
    if not vbench_dirs:
        return []
    args.run_dirs = [d for d in args.run_dirs if d not in vbench_dirs]
    if not args.run_dirs:
        raise VRBenchError(f"only VBench runs given ({', '.join(vbench_dirs)}); give the VR-Bench runs whose rows their "
                           "VBench results go on")
    if args.format != "html":
        print(f"note: VBench runs are shown on the site, not in --format {args.format} tables: {', '.join(vbench_dirs)}")
        return []
    return [load_vbench_run(d) for d in vbench_dirs]



def register(sub) -> None:
    p = sub.add_parser("report", help="build the static HTML leaderboard site (or its table as LaTeX, Markdown or CSV)",
                       description="Build a static site (leaderboard, charts, a page per run, a page per case with its video, "
                                   "P(A beats B) between runs) from run directories. It opens from file:// with no network. "
                                   "Runs judged with different judges, judge settings or scoring options, or made with different "
                                   "suite versions, are ranked in separate tables (each run is read with the suite its run.json "
                                   "records). A run is named by its label: run.json's label (`vrbench generate --label`), else its "
                                   "folder's name. --format latex|markdown|csv writes the leaderboard table alone into one file.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (several runs of one model may be shown; each needs its own label)")
    p.add_argument("--out", required=True, metavar="SITE|FILE", help="folder to write the site into (--format html), else the table's file")
    p.add_argument("--format", choices=FORMATS, default="html",
                   help="html: the site (default); latex, markdown, csv: the leaderboard table as the site shows it, for a paper")
    p.add_argument("--ci", action="store_true", help="tables only: add the 95%% intervals of the scores and of the ranks")
    p.add_argument("--vbench", nargs="+", metavar="FILE", default=[],
                   help="VBench results to show beside VR-Bench: a CSV with a model column, or NAME=RESULTS.json; "
                        "a VBench name is matched to a run label (exactly, else ignoring case). VBench runs (`vrbench "
                        "generate --prompts vbench`, then `vrbench vbench evaluate`) need no --vbench: give them as RUN_DIRs")
    p.add_argument("--percent", action="store_true", help="VBench CSV values are percentages (0-100), as on the VBench leaderboard")
    p.add_argument("--human", nargs="+", metavar="FILE",
                   help="human labels CSV(s): run,case,question,answer[,seed], run,case,seed,question,answer,annotator,time "
                        "(several annotators: their majority is the human answer) or run,score, where run is a run's label "
                        "(the column may be called model); runs they name that are not given are skipped with a note")
    p.add_argument("--copy-videos", action="store_true", help="copy videos into the site (self-contained) instead of linking to the runs")
    p.add_argument("--suite", metavar="PATH", help="suite directory that every run must have been made with "
                                                   "(default: each run's own, as its run.json records)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for rank intervals, P(A beats B) and agreement CIs (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.set_defaults(func=cmd_report)
