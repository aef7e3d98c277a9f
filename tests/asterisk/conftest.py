"""Fixtures of the end-to-end tests: a real Asterisk per Debian suite, the installed
notice-spool pointed at its spool, and a check that every test leaves its log clean.

Each test runs once on every available Asterisk: sid (required; built when CI=true or
NOTICE_BUILD_SANDBOX=1, else skipped with the command to build it) and bullseye (run when
its sandbox exists: `make sandbox SUITE=bullseye`).
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import (SUITES, AsteriskSandbox, Spooled, build_chroot, ready_chroot,
                     run_notice_spool, write_tone)

REQUIRED_SUITE = "sid"
TONE_SECONDS = 1.5


def _may_build() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("NOTICE_BUILD_SANDBOX") == "1"


@pytest.fixture(scope="session", params=SUITES)
def chroot(request) -> Path:
    suite = request.param
    found = ready_chroot(suite)
    if found:
        return found
    if suite != REQUIRED_SUITE:
        pytest.skip(f"no {suite} sandbox; build it with: make sandbox SUITE={suite}")
    if not _may_build():
        pytest.skip(f"no {suite} sandbox; build it with `make sandbox` "
                    "(or set NOTICE_BUILD_SANDBOX=1; CI=true builds it)")
    if os.geteuid() != 0:
        pytest.fail("the Asterisk sandbox needs root to build (debootstrap, chroot)")
    return build_chroot(suite)


@contextmanager
def _running(sandbox: AsteriskSandbox, prepare=None):
    """SANDBOX prepared by PREPARE(sandbox) if given (more config, recordings) and started;
    stopped and removed at the end whatever happens. Its run folder is kept for a look when a
    test that used it failed."""
    try:
        if prepare is not None:
            prepare(sandbox)
        sandbox.start()
        yield sandbox
    finally:
        sandbox.remove()
        if sandbox.keep_files:
            print(f"\nAsterisk run folder kept: {sandbox.chroot}{sandbox.run.path}")


@pytest.fixture(scope="session")
def asterisk(chroot):
    """A running Asterisk with its private run folder, stopped at the end whatever happens."""
    with _running(AsteriskSandbox.create(chroot)) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def sandbox_running():
    """sandbox_running(sandbox, prepare): what the shared Asterisk gets, for a module's own."""
    return _running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    sandbox = getattr(item, "funcargs", {}).get("asterisk")
    if report.failed and sandbox is not None:
        sandbox.keep_files = True


def pytest_configure(config):
    config.addinivalue_line("markers", "log_may_warn: the test itself checks Asterisk's warnings")


@pytest.fixture(autouse=True)
def log_is_clean(asterisk, request):
    """Every test leaves Asterisk's log free of WARNING and ERROR lines (and no phone running
    to hold its port, whatever the test's outcome)."""
    since = asterisk.log_size()
    yield
    asterisk.hang_up_phones()
    if not request.node.get_closest_marker("log_may_warn"):
        assert asterisk.log_problems(since) == []


@pytest.fixture(scope="session")
def tone(asterisk) -> str:
    """A recording of known length in the sandbox's recordings folder; its name."""
    write_tone(asterisk.recordings_dir / "tone-1500ms.wav", TONE_SECONDS)
    return "tone-1500ms"


@pytest.fixture
def notice_spool(asterisk):
    """Run the installed notice-spool with real options pointing at the sandbox's spool."""
    def run(*args: str, env: dict = None) -> Spooled:
        return run_notice_spool("--spool-dir", str(asterisk.spool_dir),
                                "--recordings-dir", str(asterisk.recordings_dir), *args, env=env)
    return run


# --- the firing delays, summed up at the end of the run ------------------------------------

FIRING_DELAYS = []  # (suite, what, seconds the call came after its due time)


@pytest.fixture
def record_delay(chroot):
    def record(what: str, delay: float) -> None:
        FIRING_DELAYS.append((chroot.name, what, delay))
    return record


ASTERISK_FIGURES = []  # lines the fuzzed sample reports (test_fuzz_asterisk.py)


@pytest.fixture(scope="session")
def asterisk_figures():
    """asterisk_figures(line): a line for the summary at the end of the run."""
    return ASTERISK_FIGURES.append


def pytest_terminal_summary(terminalreporter):
    if ASTERISK_FIGURES:
        terminalreporter.section("Asterisk: fuzzed call files, engine kills")
        for line in ASTERISK_FIGURES:
            terminalreporter.write_line(line)
    if not FIRING_DELAYS:
        return
    terminalreporter.section("Asterisk: calls fired after their due second")
    for suite in sorted({suite for suite, _, _ in FIRING_DELAYS}):
        delays = [delay for s, _, delay in FIRING_DELAYS if s == suite]
        terminalreporter.write_line(
            f"{suite}: {len(delays)} calls, {min(delays):+.3f} .. {max(delays):+.3f} s "
            f"(mean {sum(delays) / len(delays):+.3f} s)")
