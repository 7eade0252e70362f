"""What vrbench writes is readable as the umask says (a teammate or a web server can read runs and sites)."""

import os
import stat

import pytest

from vrbench.errors import VRBenchError
from vrbench.files import atomic_write_bytes, atomic_write_json, default_file_mode


def test_atomic_writes_get_the_umask_mode(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    atomic_write_json(tmp_path / "b.json", {"k": 1})
    expected = default_file_mode()
    assert expected & stat.S_IRGRP or os.umask(os.umask(0)) & 0o040  # readable by the group unless the umask forbids it
    for name in ("a.bin", "b.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_report_out_that_is_a_file_is_one_line(tmp_path):
    from vrbench.report import build_site
    from vrbench.suite import load_suite

    target = tmp_path / "site.html"
    target.write_text("")
    with pytest.raises(VRBenchError, match="exists and is not a directory"):
        build_site([], load_suite(), target)
