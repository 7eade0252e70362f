"""MLLM judges that answer a case's yes/no questions about a video.

Register a judge with ``@register_judge("name")``; third-party packages use the entry-point group
``vrbench.judges``.
"""

from vrbench.registry import Registry

JUDGES: Registry = Registry(
    "judge", "vrbench.judges",
    builtin_modules=("vrbench.judges.openai_judges", "vrbench.judges.transformers_judge"),
)
register_judge = JUDGES.register
get_judge = JUDGES.get

from .base import Judge, JudgeError, Reply  # noqa: E402  (after register_judge: the judge modules import it)
from .parsing import parse_yes_no  # noqa: E402

__all__ = ["JUDGES", "Judge", "JudgeError", "Reply", "get_judge", "parse_yes_no", "register_judge"]
