"""`vrbench label`: label a run's videos by hand in the browser, blind, into a CSV that `vrbench agreement` reads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import VRBenchError

DEFAULT_PORT = 8765


def default_labels_file(annotator: str) -> Path:
    from ..runstore import safe_name

    return Path(f"labels-{safe_name(annotator)}.csv")


def _open_browser(url: str) -> None:
    """Open the page where a graphical browser is likely; never a text browser in this terminal."""
    import webbrowser

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass


def cmd_label(args) -> int:
    from ..label import LabelSession, check_annotator, load_videos, plan_videos
    from ..label_server import LabelServer

    annotator = check_annotator(args.annotator)
    videos, suite = load_videos(args.run_dirs, args.suite)
    plan = plan_videos(videos, suite, sample=args.sample, seed=args.seed)
    labels = Path(args.labels) if args.labels else default_labels_file(annotator)
    session = LabelSession(plan, suite, labels, annotator)
    try:
        server = LabelServer(session, port=args.port)
    except OSError as e:
        raise VRBenchError(f"--port {args.port}: cannot listen on 127.0.0.1:{args.port} ({e.strerror}); "
                           "pass another port, or --port 0 for any free one") from None
    p = session.progress()
    runs = len({v.run for v in plan})
    print(f"labelling {p['total']} videos from {runs} run{'s' if runs != 1 else ''} as {annotator}, "
          f"blind, in a shuffled order (seed {args.seed}); {p['done']} done already")
    print(f"answers go to {labels} the moment they are given")
    print(f"open {server.url} in a browser; Ctrl-C stops (nothing is lost; rerun the same command to go on)", flush=True)
    if not args.no_browser:
        _open_browser(server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        p = session.progress()
        print(f"\n{p['done']} / {p['total']} videos labelled ({p['answered']} answers) in {labels}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "label", help="label videos by hand in the browser (blind), for `vrbench agreement --human`",
        description="Serve a labelling page on 127.0.0.1: one video at a time, looping, with its questions and yes / no / "
                    "can't tell for each (keys y, n, space; arrows move; u undoes). Blind: run and model names and the "
                    "judge's answers are never shown, and the runs' videos come in one seeded, shuffled order. Every answer "
                    "is appended to the labels CSV at once; rerun the same command to continue where you stopped.",
        epilog="Example: vrbench label runs/wan runs/lumos --annotator alice --sample 20  "
               "(then: vrbench agreement runs/wan runs/lumos --human labels-*.csv)",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories whose videos to label (all made with one suite)")
    p.add_argument("--annotator", required=True, metavar="NAME", help="your name or id, written on every row")
    p.add_argument("--labels", metavar="FILE", help="labels CSV to append to (default: labels-NAME.csv); several annotators "
                                                    "may share one file, even at the same time")
    p.add_argument("--sample", type=int, metavar="N", help="only N cases, spread evenly over the dimensions, the same for "
                                                           "every run (one seed each); default: every video")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the sample and of the order (default: 0)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="P", help=f"port on 127.0.0.1 (default: {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the address; do not open a browser")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the one the runs recorded)")
    p.set_defaults(func=cmd_label)
