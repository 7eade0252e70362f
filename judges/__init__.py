"""The MLLM judges that ship with vrbench (installed as ``vrbench.judges``).

Each public module here may register judges with ``@register_judge("name")`` (from ``vrbench.judge``,
which owns the interface, the registry, the cache and the answer parser); they are found by scanning
this package. Third-party packages use the entry-point group ``vrbench.judges``. Modules whose names
start with ``_`` are helpers and are not scanned.
"""
