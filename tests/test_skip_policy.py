"""The skip policy of tests/conftest.py: under CI=true a skip fails the run unless allow-listed.

Each case runs pytest in a subprocess on a folder holding a copy of the real conftest and a
small test module, once with CI=true and once without, and reads its outcome.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import strict_skips

CONFTEST = Path(__file__).resolve().with_name("conftest.py")

SAMPLE = """
import pytest

def test_runs():
    pass

@pytest.mark.skipif(True, reason="needs the moon extra")
def test_skipped_by_a_mark():
    pass

def test_skipped_inside():
    pytest.skip("no moon here")

@pytest.mark.xfail(reason="a known bug")
def test_expected_to_fail():
    raise AssertionError

@pytest.mark.parametrize("n", [1, 2])
def test_allowed(n):
    pytest.skip("needs a GPU")
"""

MODULE_SKIP = 'import pytest\n\npytest.importorskip("no_such_module_for_the_policy")\n'


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """pytest on ``tmp_path`` (conftest copy + samples) with ``CI`` set to ``ci`` or unset."""
    allow = '\nALLOWED_SKIPS["test_sample.py::test_allowed"] = "needs a GPU; none here"\n'
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8") + allow)
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"]
    command += ["--continue-on-collection-errors", str(tmp_path)]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def summary(stdout: str) -> str:
    """pytest's closing line, e.g. ``1 passed, 2 skipped in 0.1s``, without the time."""
    last = stdout.strip().splitlines()[-1]
    return re.sub(r" in [\d.]+s.*$", "", last.strip("= "))


def test_under_ci_every_skip_not_allow_listed_is_an_error(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "true")
    out = done.stdout
    assert done.returncode == 1, out
    assert "skip policy: strict (CI=true): 1 allow-listed skips" in out
    # A skip at setup (a mark, a module) becomes an error, one in the test body a failure.
    assert summary(out) == "2 failed, 1 passed, 2 skipped, 2 errors"
    for outcome, nodeid, reason in (
        ("ERROR", "test_sample.py::test_skipped_by_a_mark", "needs the moon extra"),
        ("FAILED", "test_sample.py::test_skipped_inside", "no moon here"),
        ("FAILED", "test_sample.py::test_expected_to_fail", "xfail: a known bug"),
        ("ERROR", "test_module_skip.py", "could not import 'no_such_module_for_the_policy'"),
    ):
        line = f"{outcome} {nodeid} - skipped under CI=true, and {nodeid} is not in ALLOWED_SKIPS"
        assert f"{line} (tests/conftest.py): {reason}" in out, nodeid
    assert "SKIPPED [2] test_sample.py" in out  # the allow-listed one, both parameters


def test_without_ci_skips_stay_skips(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, None)
    assert done.returncode == 0, done.stdout
    assert "skip policy: lenient (CI is not true)" in done.stdout
    assert summary(done.stdout) == "1 passed, 5 skipped, 1 xfailed"


@pytest.mark.parametrize(
    ("value", "strict"),
    [(None, False), ("", False), ("false", False), ("0", False), ("true", True),
     ("True", True), ("1", True), ("yes", True)],
)  # fmt: skip
def test_ci_counts_as_set_when_true(
    monkeypatch: pytest.MonkeyPatch, value: str | None, strict: bool
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert strict_skips() is strict
