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
    from vrbench.generators import GENERATORS
    from vrbench.judges import JUDGES

    assert {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-t2v-a14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b", "videos",
            "omni-video", "lumos-nexus", "lumos-nexus-wan2.2", "cogvideox-bridge", "direct-add", "tiny-wan",
            "tiny-cogvideox"} <= set(GENERATORS.names())
    assert {"qwen3-vl", "gpt", "openai-compatible", "transformers", "tiny-qwen-vl"} <= set(JUDGES.names())
    assert GENERATORS.get("wan2.1-t2v-14b").requires == ("torch", "diffusers", "transformers")
    assert GENERATORS.get("videos").requires == ()
