"""Shared fixtures. Each section belongs to one area; keep sections small and independent."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from augment_ft.core.tokens import seed_tiktoken_cache

# --- tokens: real tiktoken encodings, offline ------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def tiktoken_offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point tiktoken at a session cache seeded from the packaged files (never the network)."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    seed_tiktoken_cache(cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield cache


# --- skip policy: under CI=true a skip fails the run unless it is allow-listed --------------
#
# `make test` installs every extra the suite uses (dev, local, server, train) and sets
# CI=true, as CI does, so there every test must run: a skip would mean a broken install
# step (a missing extra) or a test that cannot run where we test, and the run would stay
# green while checking less. So under CI=true each skip (and each xfail) not listed below
# is turned into an error that names its reason. Outside CI (a partial install, another
# platform) skips stay skips. Allow-list a skip only when the test cannot run on the
# machine CI runs on, keyed by its node id (a parametrized test: its id without "[...]"),
# with the reason as the value, e.g.
#     "tests/test_gpu.py::test_cuda_backend": "needs a GPU; the CI machine has none",
ALLOWED_SKIPS: dict[str, str] = {}

_TRUE = frozenset({"1", "true", "yes", "on"})


def strict_skips() -> bool:
    """Whether this run is CI's (CI=true): then only allow-listed skips may happen."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def _allowed(nodeid: str) -> bool:
    return nodeid.split("[", 1)[0] in ALLOWED_SKIPS


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    xfail = getattr(report, "wasxfail", None)
    if xfail is not None:
        return f"xfail: {xfail or 'no reason given'}"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _forbid(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn an unexpected skip into a failure that says why and what to do."""
    reason = _skip_reason(report)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true, and {report.nodeid} is not in ALLOWED_SKIPS "
        f"(tests/conftest.py): {reason}\n"
        "Install what it needs (make test installs every extra), or allow-list it with "
        "the reason it cannot run here."
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which policy was in force (also under -q); .ci/run checks for the strict line."""
    if strict_skips():
        line = f"skip policy: strict (CI=true): {len(ALLOWED_SKIPS)} allow-listed skips"
    else:
        line = "skip policy: lenient (CI is not true): skips are reported, not failed"
    terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and strict_skips() and not _allowed(item.nodeid):
        _forbid(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield  # a module that skips itself while being imported
    if report.skipped and strict_skips() and not _allowed(report.nodeid):
        _forbid(report)
    return report


# --- ray: a local instance per Ray test module (tests/test_cluster_*.py) ----------------
#
# 2 CPUs, no dashboard, token auth (one random token for the session, in the environment,
# so that a driver started in a subprocess can join; Ray caches the token it first read),
# a short temporary directory (Ray puts sockets there), and Ray Data's 30-minute hang
# detector cut to two. Per module, so no Ray process outlives the tests that use it.


@pytest.fixture(scope="session")
def ray_environment() -> Iterator[None]:
    """Ray's settings for this session's instances, set before Ray is first imported."""
    import secrets

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "token")
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        mp.setenv("RAY_DATA_LOG_LEVEL", "WARNING")
        yield


@pytest.fixture(scope="module")
def ray_address(ray_environment: None) -> Iterator[str]:
    """The address of the module's local Ray instance (shut down after the module)."""
    import shutil
    import tempfile

    import ray

    from augment_ft.cluster.runtime import data_context

    temp_dir = tempfile.mkdtemp(prefix="aft-rt-", dir="/tmp")
    data_context().execution_no_progress_timeout_s = 120
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
        _temp_dir=temp_dir,
    )
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
