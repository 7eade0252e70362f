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
    for a in result["human"]:
        if a.get("n_no_majority"):
            print(f"note: {a['judge']} vs humans leaves out {a['n_no_majority']} question{'s' if a['n_no_majority'] != 1 else ''} "
                  "without a human majority (as many yes as no answers, or only can't-tell)")
    if result.get("annotators"):
        print()
        print(annotators_block(result["annotators"]))
    write_json(args.json, result)
    return 0


def annotators_block(h: dict) -> str:
    """The agreement between annotators and how the human majority came out, as `vrbench agreement` prints it."""
    from ..console import table

    def f3(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f}%"

    lines = [f"annotators: {h['n_annotators']} ({', '.join(h['annotators'])}); {h['n_questions']} questions labelled "
             f"({h['n_videos']} videos), {h['n_labelled_by_2plus']} by 2+ annotators, {h['n_pairable']} with 2+ yes/no answers"]
    if h["n_annotators"] < 2 and not h["n_tied"]:
        return lines[0] + "\n  agreement between annotators: needs two or more"
    ci = f" [{h['alpha_ci'][0]:.3f}, {h['alpha_ci'][1]:.3f}] (bootstrap over videos)" if h["alpha_ci"] else ""
    lines.append(f"  Krippendorff's alpha (nominal): {f3(h['alpha'])}{ci}" + (f" ({h['alpha_note']})" if h["alpha_note"] else ""))
    lines.append(f"  Fleiss' kappa: {f3(h['fleiss_kappa'])}" + (f" ({h['fleiss_note']})" if h["fleiss_note"] else ""))
    lines.append(f"  pairwise percent agreement: {pct(h['percent_agreement'])}")
    lines.append(f"  human majority: {h['n_majority']} questions; {h['n_tied']} tied (no majority, left out of the judge comparison); "
                 f"{h['n_with_cant_tell']} with a can't-tell ({h['n_cant_tell']} can't-tell answers)")
    if h["n_annotators"] > 1:
        rows = [[p["annotator"], p["n_answers"], p["n_cant_tell"], pct(p["vs_others"]["accuracy"]), f3(p["vs_others"]["kappa"]), p["vs_others"]["n"]]
                for p in h["per_annotator"]]
        lines.append(table(["annotator", "answers", "can't tell", "vs the others' majority", "kappa", "n"], rows))
    return "\n".join(lines)



def register(sub) -> None:
    p = sub.add_parser("agreement", help="judge-vs-human and judge-vs-judge agreement",
                       description="Kendall's tau-b between rankings of runs (with a bootstrap CI), and question-level accuracy "
                                   "and Cohen's kappa, for every judge against human labels and for every pair of judges. "
                                   "With several annotators the human answer is their majority (ties left out), and their agreement "
                                   "(Krippendorff's alpha with a bootstrap CI over videos, Fleiss' kappa, percent agreement) is shown. "
                                   "A run is named by its label: run.json's label (`vrbench generate --label`), else its folder's name.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (several runs of one model may be compared; each needs its own label)")
    p.add_argument("--human", nargs="+", metavar="FILE",
                   help="human labels CSV(s): run,case,question,answer[,seed] (one annotator per file), "
                        "run,case,seed,question,answer,annotator,time (what `vrbench label` writes: several annotators, the last row "
                        "per annotator and question counts; files merged in the order given, a later file wins) or run,score (one file), "
                        "where run is a run's label (the column may be called model)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.set_defaults(func=cmd_agreement)
