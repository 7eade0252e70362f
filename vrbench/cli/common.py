"""Options and helpers that several commands share (each command lives in the module named after it)."""

from __future__ import annotations


def add_cases_option(p) -> None:
    """``--cases SEL...`` as every command spells it (repeatable, comma lists allowed)."""
    p.add_argument("--cases", nargs="+", action="extend", metavar="SEL",
                   help="only these dimensions (ETV), categories (HL-Comm) or case ids (ETV-07)")



def add_judge_options(p) -> None:
    """How to reach and configure the judge; shared by `judge` and `run`."""
    p.add_argument("--judge-url", metavar="URL", help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (vllm serve)")
    p.add_argument("--judge-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a judge option, e.g. model=gpt-4.1, num_frames=16 (repeatable)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N", help="questions in flight at once (default: 8)")
    p.add_argument("--max-failures", type=int, default=20, metavar="K",
                   help="stop after K requests in a row fail the same way (default: 20); answers so far are kept")


def judge_options(args) -> dict:
    """The judge's constructor options from ``--judge-arg`` (checked against the judge's signature)."""
    from ..judge import get_judge
    from ..options import parse_options

    return parse_options(get_judge(args.judge), args.judge_arg, owner=f"judge {args.judge}")



def write_json(path: str | None, obj) -> None:
    """``--json OUT``: the printed results, machine-readable."""
    if path:
        from pathlib import Path

        from ..files import atomic_write_json

        atomic_write_json(Path(path), obj)
        print(f"wrote {path}")


def read_runs(args, mixed_suites: bool = False):
    """The suite, the human labels (``--human``: one or more files, merged in the order given; None when not
    given) and the runs of ``args.run_dirs``: everything the report and agreement read, read before either
    writes anything.

    Runs made with different suites are refused, unless ``mixed_suites`` (the report, which ranks each
    suite's runs apart): then each run is loaded with the suite its run.json records, and the suite
    returned is None when they differ. ``--suite`` always means every run must have been made with it."""
    from ..agreement import read_human_labels
    from ..results import check_labels, load_run, load_runs
    from ..runstore import suite_for_runs

    if mixed_suites and not args.suite:
        labels = read_human_labels(args.human) if args.human else None
        runs = [load_run(d) for d in args.run_dirs]  # each with the suite it recorded (v1.0 runs: v1.0)
        check_labels(runs)
        suites = {r.suite.sha256: r.suite for r in runs if r.suite is not None}
        return (next(iter(suites.values())) if len(suites) == 1 else None), labels, runs
    suite = suite_for_runs(args.run_dirs, args.suite)  # the suite the runs recorded (v1.0 runs: v1.0)
    labels = read_human_labels(args.human) if args.human else None
    return suite, labels, load_runs(args.run_dirs, suite)
