"""The example plugin packages in examples/ install, register and run; the README quotes them verbatim.

The slow test installs both examples the way a user would (pip, into a separate target folder that
only the child processes see through PYTHONPATH) and drives them through the real CLI: list, generate
on a tiny random Wan pipeline saved to disk, judge, score.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

EXAMPLES = REPO / "examples"
ADAPTER, JUDGE = EXAMPLES / "adapter", EXAMPLES / "judge"
EXAMPLE_FILES = [ADAPTER / "pyproject.toml", ADAPTER / "vrbench_example_adapter.py",
                 JUDGE / "pyproject.toml", JUDGE / "vrbench_example_judge.py"]
README_SECTION = "## Adding a model or a judge"

# Saves a tiny random Wan (vrbench's own test components) as a diffusers folder: what --model-path takes.
SAVE_TINY_WAN = textwrap.dedent("""
    import sys
    from diffusers import WanPipeline
    from vrbench.generators.tiny import tiny_wan_components
    WanPipeline(**tiny_wan_components(seed=0)).save_pretrained(sys.argv[1])
""")


def _readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every ```python / ```toml block in the README's section on adding your own."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(README_SECTION)
    end = readme.find("\n## ", start + len(README_SECTION))
    section = readme[start:end if end >= 0 else len(readme)]
    return re.findall(r"^```(python|toml)\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def test_readme_quotes_the_examples_exactly():
    blocks = _readme_blocks()
    sources = {path: path.read_text(encoding="utf-8") for path in EXAMPLE_FILES}
    quoted = set()
    for lang, text in blocks:
        assert text.strip(), f"empty ```{lang} block in README section {README_SECTION!r}"
        homes = [p for p, src in sources.items() if text in src and (p.suffix == ".py") == (lang == "python")]
        assert homes, (f"a ```{lang} block in README section {README_SECTION!r} is not an exact excerpt of "
                       f"{', '.join(str(p.relative_to(REPO)) for p in EXAMPLE_FILES)}; copy it from the file:\n{text}")
        quoted.update(homes)
    # every example file is shown, and the entry points are shown as TOML
    assert quoted == set(EXAMPLE_FILES), sorted(str(p.relative_to(REPO)) for p in set(EXAMPLE_FILES) - quoted)
    toml = "".join(text for lang, text in blocks if lang == "toml")
    assert '[project.entry-points."vrbench.generators"]' in toml
    assert '[project.entry-points."vrbench.judges"]' in toml


def test_example_pyprojects_declare_their_entry_points():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    for folder, group, name, target in [
        (ADAPTER, "vrbench.generators", "example-diffusers", "vrbench_example_adapter:ExampleDiffusers"),
        (JUDGE, "vrbench.judges", "example-motion", "vrbench_example_judge:MotionToyJudge"),
    ]:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
        assert project["project"]["entry-points"][group] == {name: target}
        module = target.split(":")[0]
        assert project["tool"]["setuptools"]["py-modules"] == [module]
        assert (folder / f"{module}.py").is_file()
    for lang, text in _readme_blocks():
        if lang == "toml":
            tomllib.loads(text)  # the README's TOML parses on its own


@pytest.mark.slow
def test_examples_install_and_run_as_plugins(tmp_path):
    # Build the tiny pipeline in the background while pip installs the examples.
    model = tmp_path / "tiny-wan"
    saver = subprocess.Popen([sys.executable, "-c", SAVE_TINY_WAN, str(model)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # Install from copies, so the build's leftovers (build/, *.egg-info) never land in the repo.
        src, site = tmp_path / "src", tmp_path / "site"
        for folder in (ADAPTER, JUDGE):
            shutil.copytree(folder, src / folder.name, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        "--target", str(site), str(src / "adapter"), str(src / "judge")], check=True)
        assert (site / "vrbench_example_adapter.py").is_file() and (site / "vrbench_example_judge.py").is_file()

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
               "VRBENCH_CACHE_DIR": str(tmp_path / "cache")}

        def vrbench(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
            proc = subprocess.run([sys.executable, "-m", "vrbench", *args], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == expect, f"vrbench {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            return proc

        assert re.search(r"^example-diffusers\s+Example plugin", vrbench("list", "models").stdout, re.MULTILINE)
        assert re.search(r"^example-motion\s+Example plugin", vrbench("list", "judges").stdout, re.MULTILINE)
    finally:
        out, _ = saver.communicate(timeout=300)
    assert saver.returncode == 0, out
    assert (model / "model_index.json").is_file()

    run = tmp_path / "run"
    vrbench("generate", "--model", "example-diffusers", "--model-path", str(model), "--device", "cpu", "--dtype", "float32",
            "--gen-arg", "steps=2", "--gen-arg", "height=32", "--gen-arg", "width=64", "--gen-arg", "frames=5",
            "--gen-arg", "fps=8", "--cases", "ETV-01", "--out", str(run), "--no-progress")
    from vrbench.video import sample_frames

    video = sample_frames(run / "videos" / "ETV-01-s0.mp4", num_frames=100, max_pixels=None)  # a real, decodable mp4
    assert video.images.shape == (5, 32, 64, 3) and video.fps == 8.0
    signature = json.loads((run / "run.json").read_text())["generator"]["signature"]
    assert signature == {"model": str(model), "steps": 2, "guidance": 5.0, "height": 32, "width": 64, "frames": 5,
                         "fps": 8.0, "dtype": "float32", "device": "cpu"}

    # an option the judge refuses is one line and exit status 2, before anything is written
    bad = vrbench("judge", str(run), "--judge", "example-motion", "--judge-arg", "threshold=0", expect=2)
    assert "example-motion option threshold: expected > 0" in bad.stderr
    assert not (run / "judgments").exists()

    vrbench("judge", str(run), "--judge", "example-motion", "--no-progress")
    rows = [json.loads(line) for line in (run / "judgments" / "example-motion.jsonl").read_text().splitlines()]
    assert [r["question"] for r in rows] == [f"Q{i}" for i in range(1, 9)]
    assert all(r["answer"] in ("yes", "no") and 0.0 <= r["p_yes"] <= 1.0 and r["error"] is None for r in rows)
    judge_signature = json.loads((run / "run.json").read_text())["judges"]["example-motion"]
    assert judge_signature["rule"] == "motion-energy/v1" and judge_signature["num_frames"] == 8 and judge_signature["threshold"] == 4.0

    vrbench("score", str(run))
    scores = json.loads((run / "scores" / "example-motion.json").read_text())
    # written, for the run's model and judge; its numbers mean nothing (a toy judge on random weights)
    assert scores["model"] == "example-diffusers" and scores["judge"] == "example-motion" and scores["videos_missing"] == 0
