import sys
import types
from importlib.metadata import EntryPoint

import pytest

import vrbench.registry as registry_module
from vrbench.errors import VRBenchError
from vrbench.registry import Registry


@pytest.fixture
def reg():
    return Registry("generator", "vrbench.test-generators")


def test_decorator_registration_and_unknown_names(reg):
    @reg.register("alpha")
    class Alpha:
        """First line of the description.

        More text."""

    assert reg.get("alpha") is Alpha and Alpha.registry_name == "alpha"
    assert reg.describe() == [("alpha", "First line of the description.")]
    with pytest.raises(VRBenchError, match=r"unknown generator 'beta' \(known: alpha\)"):
        reg.get("beta")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha")(type("Other", (), {}))


def test_create_checks_optional_packages_and_options(reg):
    @reg.register("needs-missing")
    class NeedsMissing:
        requires = ("torch", "a_package_that_is_not_installed_anywhere")
        requires_extra = "gen"

        def __init__(self, steps: int = 2):
            self.steps = steps

    with pytest.raises(VRBenchError, match=r"generator 'needs-missing' needs a_package_that_is_not_installed_anywhere: pip install 'vrbench\[gen\]'"):
        reg.create("needs-missing")
    NeedsMissing.requires = ("json",)
    assert reg.create("needs-missing", {"steps": 4}).steps == 4
    with pytest.raises(VRBenchError, match="generator 'needs-missing': .*unexpected keyword argument 'stepz'"):
        reg.create("needs-missing", {"stepz": 4})


@pytest.mark.parametrize("extra", ["unset", None, ""])
def test_missing_package_message_without_requires_extra(reg, extra):
    """A plugin class that does not subclass our base may not define ``requires_extra`` (or set it to None)."""

    @reg.register("foreign")
    class Foreign:
        requires = ["a_package_that_is_not_installed_anywhere"]

    if extra != "unset":
        Foreign.requires_extra = extra
    with pytest.raises(VRBenchError) as err:
        reg.create("foreign")
    message = str(err.value)
    assert message == "generator 'foreign' needs a_package_that_is_not_installed_anywhere: pip install a_package_that_is_not_installed_anywhere"
    assert "\n" not in message


def test_requires_none_or_a_bare_string_is_not_a_crash(reg):
    @reg.register("none")
    class NoneRequires:
        requires = None

    @reg.register("one-string")
    class OneString:
        requires = "a_package_that_is_not_installed_anywhere"  # a string, not a tuple of one

    @reg.register("dotted")
    class Dotted:
        requires = ("a_package_that_is_not_installed_anywhere.sub",)  # find_spec raises when the parent is missing

    assert isinstance(reg.create("none"), NoneRequires)
    with pytest.raises(VRBenchError, match=r"^generator 'one-string' needs a_package_that_is_not_installed_anywhere: pip install"):
        reg.create("one-string")
    with pytest.raises(VRBenchError, match=r"^generator 'dotted' needs a_package_that_is_not_installed_anywhere\.sub: pip install"):
        reg.create("dotted")


def test_entry_point_plugins(reg, monkeypatch):
    module = types.ModuleType("my_vrbench_plugin")

    class PluginModel:
        """A model from a third-party package."""

    module.PluginModel = PluginModel
    monkeypatch.setitem(sys.modules, "my_vrbench_plugin", module)
    eps = [EntryPoint("plugin-model", "my_vrbench_plugin:PluginModel", "vrbench.test-generators"),
           EntryPoint("broken", "my_vrbench_plugin:Missing", "vrbench.test-generators")]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [e for e in eps if e.group == group])
    assert reg.names() == ["broken", "plugin-model"]
    assert reg.get("plugin-model") is PluginModel
    with pytest.raises(VRBenchError, match="generator 'broken' from entry point my_vrbench_plugin:Missing failed to import"):
        reg.get("broken")
    assert dict(reg.describe())["broken"].startswith("(broken:")


def test_builtin_registries_are_complete():
    from vrbench.generator import GENERATORS
    from vrbench.judge import JUDGES

    assert {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-t2v-a14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b", "videos",
            "omni-video", "lumos-nexus", "lumos-nexus-wan2.2", "cogvideox-bridge", "direct-add", "tiny-wan",
            "tiny-cogvideox"} <= set(GENERATORS.names())
    assert {"qwen3-vl", "gpt", "openai-compatible", "transformers", "tiny-qwen-vl"} <= set(JUDGES.names())
    assert GENERATORS.get("wan2.1-t2v-14b").requires == ("torch", "diffusers", "transformers")
    assert GENERATORS.get("videos").requires == ()


def test_every_builtin_module_is_scanned_and_every_adapter_found():
    """No hand-kept list: every public module of generators/ and judges/ is imported on the first look-up, and
    every class a module decorates with @register_* is then in the registry."""
    import ast
    import re
    from pathlib import Path

    from vrbench.generator import GENERATORS
    from vrbench.judge import JUDGES

    repo = Path(__file__).resolve().parent.parent
    for registry, folder, decorator in ((GENERATORS, "generators", "register_generator"), (JUDGES, "judges", "register_judge")):
        files = {p.stem for p in (repo / folder).glob("*.py") if not p.stem.startswith("_")}
        assert {m.rsplit(".", 1)[1] for m in registry.builtin_modules()} == files
        names = set(registry.names())
        for path in (repo / folder).glob("*.py"):
            declared = re.findall(rf'^@{decorator}\("([^"]+)"\)', path.read_text(), re.MULTILINE)
            assert not declared or not path.stem.startswith("_"), f"{path}: a helper module (leading _) is not scanned"
            assert set(declared) <= names, f"{path}: {set(declared) - names} not registered"
            ast.parse(path.read_text())


def test_the_checkout_runs_as_the_whole_package():
    """From the repository root, `python -m vrbench` imports the source folder, which must still find the plugin
    folders beside it (the README's torchrun command runs from there)."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = "import vrbench.generators, vrbench.judges, vrbench.prompts; print(vrbench.generators.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent.resolve() == (repo / "generators").resolve()
    done = subprocess.run([sys.executable, "-m", "vrbench", "list", "judges"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "qwen3-vl" in done.stdout, done.stderr


def test_create_hands_each_instance_to_the_registry_check():
    seen = []
    reg = Registry("generator", "vrbench.test-generators", check=lambda instance, name: seen.append((type(instance), name)))

    @reg.register("checked")
    class Checked:
        pass

    reg.create("checked")
    assert seen == [(Checked, "checked")]


# -- what a judge author must do, enforced by JUDGES.create: super().__init__(), async def ask -----------------

def _judge_classes():
    from vrbench.judge import Judge, Reply

    class NoSuper(Judge):
        def __init__(self, *, answer: str = "yes"):
            self.answer = answer  # forgot super().__init__()

        async def ask(self, video, question, *, prompt=None, strict=False):
            return Reply(self.answer)

    class BlockingAsk(Judge):
        def ask(self, video, question, *, prompt=None, strict=False):  # not async
            return Reply("yes")

    class NoAsk(Judge):
        pass

    class Fine(Judge):
        async def ask(self, video, question, *, prompt=None, strict=False):
            return Reply("yes")

    return {"no-super": NoSuper, "blocking-ask": BlockingAsk, "no-ask": NoAsk, "fine": Fine}


class _DuckJudge:
    """A plugin judge that does not subclass Judge: it brings every member the judge stage uses itself."""

    max_concurrency = None
    show_prompt = False

    def __init__(self, answer: str = "no"):
        self.answer = answer

    def check(self):
        pass

    def load(self):
        pass

    def endpoint(self):
        return "duck"

    def server_info(self):
        return {}

    def signature(self):
        return {"judge": "duck", "answer": self.answer}

    def prepare(self, path, sha256):
        from vrbench.judge_messages import VideoInput

        return VideoInput(path, sha256)

    async def ask(self, video, question, *, prompt=None, strict=False):
        from vrbench.judge import Reply

        return Reply(self.answer)

    async def aclose(self):
        pass


@pytest.fixture
def judges(monkeypatch):
    from vrbench.judge import JUDGES

    JUDGES.names()  # the built-ins are loaded first
    classes = {**_judge_classes(), "duck": _DuckJudge}
    for name, cls in classes.items():
        monkeypatch.setitem(JUDGES._classes, name, cls)
        monkeypatch.setattr(cls, "registry_name", name, raising=False)
    return JUDGES


@pytest.mark.parametrize("name,message", [
    ("no-super", r"^judge 'no-super' \(.*NoSuper\): its __init__ must call super\(\).__init__\(\)"),
    ("blocking-ask", r"^judge 'blocking-ask' \(.*BlockingAsk\): ask must be a coroutine \(`async def ask\(...\)`\)"),
    ("no-ask", r"^judge 'no-ask' \(.*NoAsk\): it does not define ask\(\)"),
])
def test_a_judge_that_breaks_the_rules_is_one_line(judges, name, message):
    with pytest.raises(VRBenchError, match=message) as err:
        judges.create(name)
    assert "\n" not in str(err.value)


def test_the_rules_are_checked_before_the_judge_stage_touches_a_run(judges, tmp_path):
    from judge_helpers import make_run

    from vrbench.stages.judge import judge_run

    run = make_run(tmp_path / "run", ["DRF-01"])
    before = run.run_file.read_text()
    with pytest.raises(VRBenchError, match="super"):
        judge_run(run.root, "no-super", progress=False)
    assert run.run_file.read_text() == before and not run.judgments_file("no-super").exists()
    assert isinstance(judges.create("fine"), judges.get("fine"))


def test_a_plugin_judge_need_not_subclass_judge(judges, tmp_path, monkeypatch):
    from judge_helpers import make_run, read_rows

    from vrbench.stages.judge import judge_run

    monkeypatch.setenv("VRBENCH_CACHE_DIR", str(tmp_path / "cache"))
    run = make_run(tmp_path / "run", ["DRF-01"])
    summary = judge_run(run.root, "duck", options={"answer": "no"}, progress=False)
    assert summary["no"] == 8 and {r["answer"] for r in read_rows(run.judgments_file("duck"))} == {"no"}

    monkeypatch.delattr(_DuckJudge, "show_prompt")
    with pytest.raises(VRBenchError, match=r"^judge 'duck' \(.*_DuckJudge\): has no show_prompt, which the judge stage uses"):
        judges.create("duck")
