"""`vrbench export`: a run's results as tables (CSV, Parquet or JSON lines) for pandas, R or a spreadsheet."""

from __future__ import annotations

from ..errors import VRBenchError

FORMATS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}  # format -> file extension
#: table -> what one row is (the tables of vrbench.results, in the order they are written)
TABLES = {
    "judgments": "run x judge x video x question",
    "case_scores": "run x judge x video",
    "scores": "run x judge x level x code",
    "generations": "run x video",
}


def _need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise VRBenchError("--format parquet needs pyarrow, which is not installed: pip install 'vrbench[parquet]'") from None


def _write(df, path, fmt: str) -> None:
    """One table, atomically: readers see the old file or the whole new one."""
    from ..files import atomic_output

    with atomic_output(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False, engine="pyarrow")
        else:
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)


def cmd_export(args) -> int:
    from pathlib import Path

    from .. import results
    from ..runstore import suite_for_runs

    fmt = args.format
    if fmt == "parquet":
        _need_pyarrow()  # before reading or writing anything
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise VRBenchError(f"--out {out}: exists and is not a directory; pass a folder for the tables")
    suite = suite_for_runs(args.run_dirs, args.suite)
    runs = results.load_runs(args.run_dirs, suite)
    judged = sorted({j for r in runs for j in r.judges})
    if args.judge:
        unknown = [j for j in args.judge if j not in judged]
        if unknown:
            raise VRBenchError(f"--judge {unknown[0]}: no run has scored judgments by this judge (judges: {', '.join(judged) or 'none'})")
    tables = {
        "judgments": results.judgments(runs, judge=args.judge),
        "case_scores": results.case_scores(runs, judge=args.judge),
        "scores": results.scores(runs, judge=args.judge),
        "generations": results.generations(runs),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        path = out / f"{name}.{FORMATS[fmt]}"
        _write(df, path, fmt)
        print(f"wrote {path} ({len(df)} rows: a row per {TABLES[name]})")
    if not judged:
        print("note: no run has judgments yet, so only generations has rows (`vrbench judge` first)")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "export", help="write runs' results as tables (CSV, Parquet or JSON lines)",
        description="Read run directories (as `vrbench report` does: only what earlier stages wrote; scores must be up to "
                    "date) and write four tables into --out: judgments (a row per run x judge x video x question), "
                    "case_scores (a row per run x judge x video), scores (a row per run x judge x overall/category/"
                    "dimension, with CIs) and generations (a row per run x video). Runs are named by their label: run.json's "
                    "label (`vrbench generate --label`), else the folder's name. The same tables come from vrbench.results "
                    "in Python.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (each with its own label)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the tables into (made if missing; files are replaced)")
    p.add_argument("--format", choices=sorted(FORMATS), default="csv",
                   help="csv (default), parquet (needs pyarrow: pip install 'vrbench[parquet]') or jsonl (a JSON object per row)")
    p.add_argument("--judge", nargs="+", action="extend", metavar="NAME", help="only these judges' judgments and scores (default: all)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the one the runs were made with)")
    p.set_defaults(func=cmd_export)
