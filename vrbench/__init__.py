"""vrbench: does this text-to-video model reason? The reference harness for VR-Bench and the Lumos-Nexus sampler."""

from pathlib import Path as _Path

__version__ = "0.1.0"


def _extend_path_in_checkout() -> None:
    """Make a source checkout importable as the whole package.

    Installed, ``vrbench.generators``, ``.judges``, ``.prompts`` and ``.reports`` are folders inside this
    package; in the repository they are the top-level folders beside it (pyproject's ``package-dir``).
    Run from the repository root (``python -m vrbench``, ``torchrun -m vrbench``), Python finds this
    folder before the installed package, so its sub-packages are looked up beside it too.
    """
    here = _Path(__file__).resolve().parent
    root = here.parent
    if not (here / "generators").is_dir() and (root / "pyproject.toml").is_file() and (root / "generators" / "__init__.py").is_file():
        __path__.append(str(root))  # a package's own __path__: where its sub-packages are looked up


_extend_path_in_checkout()
