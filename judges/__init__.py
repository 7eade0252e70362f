"""MLLM judges that answer a case's yes/no questions about a video.

Register a judge with ``@register_judge("name")``; third-party packages use the entry-point group
``vrbench.judges``.
"""

from vrbench.registry import Registry

JUDGES: Registry = Registry("judge", "vrbench.judges", builtin_modules=())
register_judge = JUDGES.register
get_judge = JUDGES.get
