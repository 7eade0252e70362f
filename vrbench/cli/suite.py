"""`vrbench list` and `vrbench suite lint`."""

from __future__ import annotations

import json
import sys

from ..console import table


def cmd_list(args) -> int:
    if args.what in ("models", "generators"):
        from vrbench.generators import GENERATORS

        rows = GENERATORS.describe()
        print(table(["model", "description"], rows, "ll") if rows else "no models registered")
    elif args.what == "judges":
        from vrbench.judges import JUDGES

        rows = JUDGES.describe()
        print(table(["judge", "description"], rows, "ll") if rows else "no judges registered")
    else:
        from ..suite import load_suite

        suite = load_suite(args.suite)
        cases = suite.select(args.cases)
        if args.format == "jsonl":
            for c in cases:
                print(json.dumps(c.to_dict(), ensure_ascii=False))
        else:
            width = 90
            rows = [[c.id, c.category, c.prompt if len(c.prompt) <= width else c.prompt[: width - 1] + "…"] for c in cases]
            print(table(["case", "category", "prompt"], rows, "lll"))
            print(f"{len(cases)} of {len(suite.cases)} cases, suite {suite.name} {suite.version}")
    return 0


def cmd_suite_lint(args) -> int:
    from ..suite import lint_suite

    suite, problems = lint_suite(args.path)
    wanted = {d.upper() for d in args.dimension} if args.dimension else None
    if wanted:
        problems = [p for p in problems if p.dimension is None or p.dimension in wanted]
    for p in problems:
        print(p)
    if suite is not None:
        counts = {d.code: 0 for d in suite.dimensions}
        for c in suite.cases:
            counts[c.dimension] += 1
        rows = [[d.code, d.name, d.category, counts[d.code]] for d in suite.dimensions if not wanted or d.code in wanted]
        print(table(["dimension", "name", "category", "valid cases"], rows, "lllr"))
        print(f"suite {suite.name} {suite.version}: {len(suite.cases)} valid cases, sha256 {suite.sha256[:12]}")
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", file=sys.stderr)
        return 1
    print("ok")
    return 0


def add_cases_option(p) -> None:
    """``--cases SEL...`` as every command spells it (repeatable, comma lists allowed)."""
    p.add_argument("--cases", nargs="+", action="extend", metavar="SEL",
                   help="only these dimensions (ETV), categories (HL-Comm) or case ids (ETV-07)")


def register(sub) -> None:
    p = sub.add_parser("list", help="list registered models, judges, or the suite's cases",
                       description="List registered models (generators), judges, or the suite's cases.")
    p.add_argument("what", choices=["models", "generators", "judges", "cases"], help="what to list")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    add_cases_option(p)
    p.add_argument("--format", choices=["text", "jsonl"], default="text", help="output format for cases (default: text)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("suite", help="work with the benchmark suite", description="Work with the benchmark suite.")
    suite_sub = p.add_subparsers(dest="suite_command", metavar="SUBCOMMAND", required=True)
    q = suite_sub.add_parser("lint", help="validate a suite and print per-dimension counts",
                             description="Validate every case of a suite (format, layers, negations, leaks, duplicates); "
                                         "print each problem as file:line: field: problem and exit 1 if there are any.")
    q.add_argument("path", nargs="?", help="suite directory holding suite.json (default: the bundled VR-Bench)")
    q.add_argument("--dimension", nargs="+", metavar="DIM", help="only report problems and counts for these dimensions")
    q.set_defaults(func=cmd_suite_lint)
