"""`vrbench audit`: ask the judge about control clips (static, reversed, shuffled, swapped) and flag blind spots."""

from __future__ import annotations

from ..errors import VRBenchError
from .common import add_cases_option, add_judge_options, judge_options


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _tokens(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def cmd_audit(args) -> int:
    from ..audit import FLAGS, Thresholds, audit_run
    from ..console import table

    order_kinds = tuple(k.strip() for k in args.order_kinds.split(",") if k.strip())
    thresholds = Thresholds(default_yes=args.default_yes_threshold, order_blind=args.order_blind_threshold,
                            content_blind=args.content_blind_threshold, order_kinds=order_kinds)
    if args.confirm_above < 0:
        raise VRBenchError(f"--confirm-above: expected >= 0, got {args.confirm_above}")

    def before_asking(cost: dict) -> None:
        tokens = ""
        if cost["tokens"] is not None:
            tokens = f", about {_tokens(cost['tokens'])} tokens ({_tokens(cost['tokens_per_request'])} a request, as the run's judgments)"
        print(f"audit {args.judge}: {cost['videos']} videos x {len(cost['controls'])} controls ({', '.join(cost['controls'])}): "
              f"{cost['questions']} questions to answer, {cost['cached']} in the judge cache, "
              f"{cost['requests']} requests{tokens}", flush=True)
        if cost["requests"] > args.confirm_above and not args.yes:
            raise VRBenchError(f"this audit would send {cost['requests']} requests (more than --confirm-above "
                               f"{args.confirm_above}); add --yes to go ahead, or narrow it with --controls, --cases or --limit")

    result = audit_run(
        args.run_dir, args.judge, options=judge_options(args), judge_url=args.judge_url, controls=args.controls,
        cases=args.cases, limit=args.limit, thresholds=thresholds, concurrency=args.concurrency,
        max_failures=args.max_failures, suite_path=args.suite, progress=not args.no_progress,
        use_cache=not args.no_cache, before_asking=before_asking)
    asked, summary = result["asked"], result["summary"]
    print(f"asked {asked['questions']} questions ({asked['cache_hits']} from the cache, {asked['requests']} requests): "
          f"{asked['yes']} yes, {asked['no']} no, {asked['invalid']} invalid ({asked['errors']} errors)")
    controls = summary["controls"]

    def flags(group: dict) -> str:
        out = []
        for f in FLAGS:
            st = group["flags"][f]
            n = st.get("flagged_questions") or 0
            if st["flagged"] or n:
                out.append(f"{f}{' ' + _pct(st['rate']) if st['flagged'] else ''} ({n} q)")
        return ", ".join(out)

    rows = [["overall", summary["overall"]["questions"], _pct(summary["overall"]["real"]["yes_rate"]),
             *(_pct(summary["overall"]["controls"][c]["yes_rate"]) for c in controls), flags(summary["overall"])]]
    for dim, g in summary["dimensions"].items():
        rows.append([dim, g["questions"], _pct(g["real"]["yes_rate"]), *(_pct(g["controls"][c]["yes_rate"]) for c in controls), flags(g)])
    print(table(["scope", "questions", "real yes", *(f"{c} yes" for c in controls), "flags (pooled rate where flagged; flagged questions)"],
                rows, align="lr" + "r" * (len(controls) + 1) + "l"))
    flagged = summary["flagged"]
    th = summary["thresholds"]
    print(f"flags: default-yes >= {_pct(th['default-yes'])} (static, layers {','.join(map(str, th['static_layers']))}), "
          f"order-blind >= {_pct(th['order-blind'])} (reversed, kinds {','.join(th['order_kinds']) or 'none'}), "
          f"content-blind >= {_pct(th['content-blind'])} (swapped): share of real yes kept by the control")
    print(f"{len(flagged)} of {len(summary['questions'])} questions flagged")
    for q in flagged[:20]:
        print(f"  {q['case']} {q['question']}: {', '.join(q['flags'])}")
    if len(flagged) > 20:
        print(f"  ... and {len(flagged) - 20} more (see the JSON)")
    if result["skipped"]:
        print(f"note: {result['skipped']} videos have no answers from {args.judge} yet and were not audited")
    print(f"wrote {result['audit_file']} and {result['summary_file']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "audit", help="ask the judge about control clips (static, reversed, shuffled, swapped) and flag blind spots",
        description="From each judged video of RUN_DIR, make control clips under RUN_DIR/audit/controls/ (static: the first "
                    "frame held; reversed; shuffled: a fixed random frame order; swapped: another case's video), ask the judge "
                    "the same questions (answers cached, appended to RUN_DIR/audit/<judge>.jsonl), and compare with its answers "
                    "on the real clips: yes-rates per question, dimension and overall, and flags, in RUN_DIR/audit/<judge>.json. "
                    "Run `vrbench judge` first, with the same --judge-arg.",
        epilog="Flags: default-yes (static keeps a real yes, layer 2-3 questions), order-blind (reversed keeps it, order "
               "questions), content-blind (swapped keeps it); each when it happens for at least the threshold's share of "
               "the videos answered yes. Example: vrbench audit runs/wan --judge qwen3-vl --judge-url http://localhost:8000/v1 "
               "--controls static,reversed --limit 20",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a judged run directory")
    p.add_argument("--judge", required=True, metavar="NAME", help="registered judge name (the run must have its judgments)")
    add_judge_options(p)
    add_cases_option(p)
    p.add_argument("--controls", metavar="LIST", default=None,
                   help="comma list of control clips: static, reversed, shuffled, swapped (default: all)")
    p.add_argument("--limit", type=int, metavar="N", help="audit only the first N videos (by case id, then seed)")
    p.add_argument("--yes", action="store_true", help="go ahead even when the audit would send more than --confirm-above requests")
    p.add_argument("--confirm-above", type=int, default=1000, metavar="N",
                   help="ask for --yes when the audit would send more than N requests (default: 1000)")
    p.add_argument("--default-yes-threshold", type=float, default=0.5, metavar="X",
                   help="flag default-yes when the static clip keeps at least this share of real yes (default: 0.5)")
    p.add_argument("--order-blind-threshold", type=float, default=0.5, metavar="X",
                   help="flag order-blind when the reversed clip keeps at least this share (default: 0.5)")
    p.add_argument("--content-blind-threshold", type=float, default=0.5, metavar="X",
                   help="flag content-blind when the swapped clip keeps at least this share (default: 0.5)")
    p.add_argument("--order-kinds", default="order", metavar="LIST",
                   help="question kinds the order-blind flag looks at (default: order; e.g. order,outcome)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the one the run recorded)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the judge cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_audit)
