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
    from vrbench.generators import GENERATORS
    from vrbench.judges import JUDGES

    assert {"wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "wan2.2-t2v-a14b", "wan2.2-ti2v-5b", "cogvideox-2b", "cogvideox-5b", "videos",
            "omni-video", "lumos-nexus", "lumos-nexus-wan2.2", "cogvideox-bridge", "direct-add", "tiny-wan",
            "tiny-cogvideox"} <= set(GENERATORS.names())
    assert {"qwen3-vl", "gpt", "openai-compatible", "transformers", "tiny-qwen-vl"} <= set(JUDGES.names())
    assert GENERATORS.get("wan2.1-t2v-14b").requires == ("torch", "diffusers", "transformers")
    assert GENERATORS.get("videos").requires == ()
