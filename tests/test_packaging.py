"""The wheel installs one import root, ships the suite, and works from any directory."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # every test here takes seconds (processes, browsers, models)

SOURCES = ["pyproject.toml", "README.md", "vrbench", "generators", "judges", "prompts", "reports"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(p, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
    )
    (whl,) = out.glob("vrbench-*.whl")
    return whl


def test_wheel_file_list(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("vrbench-")}
    assert top == {"vrbench"}, top  # nothing named `generators` or `judges` at top level
    for required in [
        "vrbench/cli/__init__.py",
        "vrbench/suite.py",
        "vrbench/scoring.py",
        "vrbench/generators/__init__.py",
        "vrbench/judges/__init__.py",
        "vrbench/prompts/suite.json",
        "vrbench/prompts/README.md",
        "vrbench/prompts/CHANGELOG.md",
        "vrbench/prompts/v1.0/suite.json",  # earlier versions stay loadable for old runs
        "vrbench/reports/__init__.py",
        "vrbench/reports/templates/index.html",
        "vrbench/judge_templates/yes_no.jinja",
        "vrbench/label_page/index.html",  # `vrbench label` serves it from the installed package
    ]:
        assert required in names, required
    case_files = sorted(n for n in names if n.startswith("vrbench/prompts/cases/") and n.endswith(".jsonl"))
    assert [Path(n).stem for n in case_files] == sorted(["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"])
    old_files = sorted(n for n in names if n.startswith("vrbench/prompts/v1.0/cases/") and n.endswith(".jsonl"))
    assert [Path(n).stem for n in old_files] == sorted(["DRF", "ETV", "MMC", "CAR", "CCR", "PCR", "BBR", "CAC"])
    assert not any("tests/" in n for n in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "vrbench = vrbench.cli:main" in entry_points


@pytest.mark.slow
def test_non_editable_install_lists_cases_from_elsewhere(wheel, tmp_path):
    venv = tmp_path / "venv"
    # system site packages provide numpy/scipy/jinja2 without a download; the package itself is the wheel
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(venv / "bin" / "vrbench"), "list", "cases"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "208 of 208 cases" in proc.stdout
    # it ran the installed copy, not the checkout
    where = subprocess.run([str(py), "-c", "import vrbench.suite as s; print(s.__file__)"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert str(venv) in where.stdout
