"""Video generators: a registry of adapters that turn VR-Bench prompts into frames.

Register an adapter with ``@register_generator("name")``; third-party packages use the entry-point
group ``vrbench.generators``.
"""

from vrbench.registry import Registry

GENERATORS: Registry = Registry(
    "generator",
    "vrbench.generators",
    builtin_modules=(
        "vrbench.generators.wan",
        "vrbench.generators.cogvideox",
        "vrbench.generators.tiny",
        "vrbench.generators.folder",
        "vrbench.generators.lumos",
    ),
)
register_generator = GENERATORS.register
get_generator = GENERATORS.get
