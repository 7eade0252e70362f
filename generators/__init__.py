"""Video generators: a registry of adapters that turn VR-Bench prompts into frames.

Register an adapter with ``@register_generator("name")``; third-party packages use the entry-point
group ``vrbench.generators``.
"""

from vrbench.registry import Registry

GENERATORS: Registry = Registry("generator", "vrbench.generators", builtin_modules=())
register_generator = GENERATORS.register
get_generator = GENERATORS.get
