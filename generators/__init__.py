"""The video generators that ship with vrbench (installed as ``vrbench.generators``).

Each public module here may register adapters with ``@register_generator("name")`` (from
``vrbench.generator``, which owns the interface and the registry); they are found by scanning this
package, so adding a file is enough. Third-party packages use the entry-point group ``vrbench.generators``.
Modules whose names start with ``_`` are helpers and are not scanned.
"""
