"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A fixed-width table; ``align`` holds 'l' or 'r' per column (default: first left, rest right)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)
    def fmt(row):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)).rstrip()
    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def fmt_score(est: dict) -> tuple[str, str]:
    """('79.28', '[77.10, 81.40]') or ('—', '') for an undefined score."""
    if est.get("score") is None:
        return "—", ""
    ci = est.get("ci")
    return f"{est['score']:.2f}", (f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def scores_table(result: dict, suite) -> str:
    """Per dimension, per category and overall, with CIs, coverage and invalid counts."""
    rows = []
    def add(label, name, est):
        score, ci = fmt_score(est)
        expected = est.get("n_expected_cases")
        coverage = f"{est['n_cases']}/{expected}" if expected is not None else str(est["n_cases"])
        rows.append([label, name, score, ci, coverage, est["n_videos"], f"{est['n_invalid']}/{est['n_answers']}"])
    for dim in suite.dimensions:
        add(dim.code, dim.name, result["dimensions"][dim.code])
    for cat in suite.categories:
        add(cat.code, cat.name, result["categories"][cat.code])
    add("Overall", "", result["overall"])
    text = table(["", "name", "score", "95% CI", "cases", "videos", "invalid"], rows, "llrrrrr")
    notes = []
    missing = result["overall"].get("missing_dimensions") or []
    if missing:
        notes.append(f"overall is undefined: no judged case in {', '.join(missing)}")
    partial = [d.code for d in suite.dimensions
               if 0 < result["dimensions"][d.code]["n_cases"] < (result["dimensions"][d.code].get("n_expected_cases") or 0)]
    if partial:
        notes.append(f"partial coverage in {', '.join(partial)}: scores cover only the judged cases")
    if result.get("videos_missing"):
        notes.append(f"{result['videos_missing']} of {result['videos_expected']} (case, seed) videos are missing "
                     "(not generated, failed, or a shard still running); they are not in these scores")
    if result["overall"]["n_invalid"]:
        notes.append(f"{result['overall']['n_invalid']} invalid or missing answers counted as 0")
    return text + "".join(f"\nnote: {n}" for n in notes)
