import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

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


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (tests/chromium.py); mark the module with chromium.needs_chromium."""
    from chromium import start_chromium

    b = start_chromium()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def suite_dir(tmp_path):
    """A writable copy of the bundled suite."""
    dst = tmp_path / "suite"
    shutil.copytree(REPO / "prompts", dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst


# -- a real vLLM server on CPU (tests/vllm_env.py) ------------------------------------------------

def _vllm_unavailable(reason: str):
    """In CI (CI=true) a vLLM server that cannot be built or started fails the tests; elsewhere they skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vllm_venv():
    """The vLLM venv and the tiny Qwen3-VL saved to disk, built on first use: ``.python``, ``.model_dir``."""
    import vllm_env

    if os.environ.get("VRBENCH_SKIP_VLLM") and os.environ.get("CI", "").lower() != "true":
        pytest.skip("VRBENCH_SKIP_VLLM is set")
    try:
        python = vllm_env.ensure_venv()
        return SimpleNamespace(python=python, model_dir=vllm_env.ensure_model(python))
    except Exception as e:  # SetupError carries the build log's tail
        _vllm_unavailable(f"no vLLM environment ({type(e).__name__}): {e}")


def _start_vllm_server(request, tmp_path_factory, venv, name: str, extra_args: list[str]):
    import vllm_env

    # the 'file' transport sends file:// URLs of the runs, which all lie under pytest's base temp dir
    args = ["--allowed-local-media-path", str(tmp_path_factory.getbasetemp()), *extra_args]
    server = vllm_env.VLLMServer(venv.python, venv.model_dir, name=name, extra_args=args)
    try:
        server.start()
    except Exception as e:  # SetupError carries the server log's tail
        _vllm_unavailable(f"no vLLM server ({type(e).__name__}): {e}")
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(scope="session")
def vllm_server(request, tmp_path_factory, vllm_venv):
    """One stock vLLM OpenAI-compatible server for the session, serving the tiny Qwen3-VL on CPU.

    ``.url`` (ends /v1), ``.model`` (served name), ``.model_dir``, ``.python`` (the vLLM venv's python),
    ``.metrics()`` (Prometheus counters summed over labels), ``.post(path, body)`` (raw HTTP),
    ``.reset_prefix_cache()``.
    """
    return _start_vllm_server(request, tmp_path_factory, vllm_venv, "vllm-server", [])


@pytest.fixture(scope="session")
def vllm_server_trusting(request, tmp_path_factory, vllm_venv):
    """A second server, started only when a test asks for it, that accepts per-request
    ``mm_processor_kwargs`` / ``media_io_kwargs`` (``--trust-request-mm-kwargs``)."""
    return _start_vllm_server(request, tmp_path_factory, vllm_venv, "vllm-server-trusting", ["--trust-request-mm-kwargs"])
