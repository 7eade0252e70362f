"""`vrbench suite lint`."""

from __future__ import annotations

import sys

from ..console import table


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



def register(sub) -> None:
    p = sub.add_parser("suite", help="work with the benchmark suite", description="Work with the benchmark suite.")
    suite_sub = p.add_subparsers(dest="suite_command", metavar="SUBCOMMAND", required=True)
    q = suite_sub.add_parser("lint", help="validate a suite and print per-dimension counts",
                             description="Validate every case of a suite (format, layers, negations, leaks, duplicates); "
                                         "print each problem as file:line: field: problem and exit 1 if there are any.")
    q.add_argument("path", nargs="?", help="suite directory holding suite.json (default: the bundled VR-Bench)")
    q.add_argument("--dimension", nargs="+", metavar="DIM", help="only report problems and counts for these dimensions")
    q.set_defaults(func=cmd_suite_lint)
