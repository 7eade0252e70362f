"""The `vrbench` command line.

Each command has its own module, named after it, with a ``register(subparsers)`` function that adds it;
a subcommand's handler takes the parsed arguments and returns an exit code. User mistakes raise
VRBenchError and are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module

from .. import __version__
from ..errors import SuiteError, VRBenchError

# One module per command, named after it; this order is the order of `vrbench --help`.
COMMAND_MODULES = ("run", "demo", "generate", "judge", "score", "report", "export", "agreement", "label", "audit", "vbench", "list", "suite")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that points at ``--help`` (not the whole usage block)."""

    def error(self, message: str):  # type: ignore[override,unused-ignore]  # argparse's stub says NoReturn
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vrbench",
        description="VR-Bench: does this text-to-video model reason? Generate videos, judge them with an MLLM, score and publish.",
        epilog="Run `vrbench COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"vrbench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SuiteError as e:
        for p in e.problems[:20]:
            print(f"vrbench: error: {p}", file=sys.stderr)
        if len(e.problems) > 20:
            print(f"vrbench: error: ... and {len(e.problems) - 20} more (run `vrbench suite lint`)", file=sys.stderr)
        return 2
    except VRBenchError as e:
        print(f"vrbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vrbench: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vrbench list cases | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
