import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# Tests start `python -m vrbench ...` subprocesses from the checkout. Without this, Python would put
# the current directory first on sys.path and import the source folder `vrbench/` (which lacks the
# installed `vrbench.generators`, `vrbench.judges`, ...) instead of the installed package.
os.environ["PYTHONSAFEPATH"] = "1"


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    skip_net = pytest.mark.skip(reason="needs network access; set VRBENCH_NETWORK_TESTS=1 to run")
    has_cuda = None
    for item in items:
        if "gpu" in item.keywords:
            if has_cuda is None:
                has_cuda = _has_cuda()
            if not has_cuda:
                item.add_marker(skip_gpu)
        if "network" in item.keywords and not os.environ.get("VRBENCH_NETWORK_TESTS"):
            item.add_marker(skip_net)


@pytest.fixture
def suite_dir(tmp_path):
    """A writable copy of the bundled suite."""
    dst = tmp_path / "suite"
    shutil.copytree(REPO / "prompts", dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst
