"""`vrbench list`: registered models and judges, or the suite's cases."""

from __future__ import annotations

import json

from ..console import table
from .common import add_cases_option


def cmd_list(args) -> int:
    if args.what in ("models", "generators"):
        from ..generator import GENERATORS

        rows = GENERATORS.describe()
        print(table(["model", "description"], rows, "ll") if rows else "no models registered")
    elif args.what == "judges":
        from ..judge import JUDGES

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
            case_rows = [[c.id, c.category, c.prompt if len(c.prompt) <= width else c.prompt[: width - 1] + "…"] for c in cases]
            print(table(["case", "category", "prompt"], case_rows, "lll"))
            print(f"{len(cases)} of {len(suite.cases)} cases, suite {suite.name} {suite.version}")
    return 0



def register(sub) -> None:
    p = sub.add_parser("list", help="list registered models, judges, or the suite's cases",
                       description="List registered models (generators), judges, or the suite's cases.")
    p.add_argument("what", choices=["models", "generators", "judges", "cases"], help="what to list")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    add_cases_option(p)
    p.add_argument("--format", choices=["text", "jsonl"], default="text", help="output format for cases (default: text)")
    p.set_defaults(func=cmd_list)
