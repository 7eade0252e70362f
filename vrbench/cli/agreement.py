"""`vrbench agreement`: judge-vs-human and judge-vs-judge agreement."""

from __future__ import annotations

from ..errors import VRBenchError
from .common import read_runs, write_json


def cmd_agreement(args) -> int:
    from ..agreement import all_agreements
    from ..console import table

    suite, labels, runs = read_runs(args)
    judges = sorted({j for r in runs for j in r.judges})
    if not judges:
        raise VRBenchError("no run has judgments: run `vrbench judge` first")
    if labels is None and len(judges) < 2:
        raise VRBenchError(f"nothing to compare: pass --human FILE, or runs judged by two judges (found: {', '.join(judges)})")
    result = all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)

    def tau(r: dict) -> str:
        if r["tau_b"] is None:
            return "— (needs 2+ runs with distinct scores)"
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
    print(table(["raters", "runs", "Kendall tau-b [95% CI]", "accuracy", "kappa", "answers"], rows))
    for a in result["human"]:
        for e in a.get("excluded") or []:
            print(f"note: {a['judge']} vs humans leaves out {e}")
    write_json(args.json, result)
    return 0



def register(sub) -> None:
    p = sub.add_parser("agreement", help="judge-vs-human and judge-vs-judge agreement",
                       description="Kendall's tau-b between rankings of runs (with a bootstrap CI), and question-level accuracy "
                                   "and Cohen's kappa, for every judge against human labels and for every pair of judges. "
                                   "A run is named by its label: run.json's label (`vrbench generate --label`), else its folder's name.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (several runs of one model may be compared; each needs its own label)")
    p.add_argument("--human", metavar="FILE", help="human labels CSV: run,case,question,answer[,seed] or run,score, where run is a run's label "
                                                   "(the column may be called model)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.set_defaults(func=cmd_agreement)
