"""The figures of the reliability tests, printed at the end of the run (a section of pytest's
terminal summary): how many cases each property-based test ran, how many processes the crash
test killed and what they left, the fault cases, the concurrency counts. `make test` prints
them in CI; the README's "Reliability" section quotes them.

NOTICE_MIN_CASES (CI: see the Makefile) fails the run if the property-based tests ran fewer
cases in all: the figure is checked, not assumed.
"""

import os

import pytest

CASES = pytest.StashKey[dict]()  # property test: cases run
FIGURES = pytest.StashKey[list]()  # lines the tests report through the `figures` fixture
SHORT = pytest.StashKey[str]()  # why the run failed for want of cases


def pytest_configure(config):
    config.stash[CASES] = {}
    config.stash[FIGURES] = []


def pytest_collection_modifyitems(config, items):
    """Count the cases of every property-based test collected (here or elsewhere in the run):
    Hypothesis calls test.hypothesis.inner_test once per generated case."""
    counts = config.stash[CASES]
    for item in items:
        handle = getattr(getattr(item, "function", None), "hypothesis", None)
        if handle is None or getattr(handle.inner_test, "counted_as", None):
            continue  # not a property test, or one already counted (parametrized)
        name = f"{item.path.name}::{item.originalname}"
        inner = handle.inner_test

        def counted(*args, inner=inner, name=name, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return inner(*args, **kwargs)

        counted.counted_as = name
        handle.inner_test = counted


@pytest.fixture(scope="session")
def figures(pytestconfig):
    """figures(line): a line for the summary, e.g. 'crash: 1,000 SIGKILLs ...'."""
    return pytestconfig.stash[FIGURES].append


def pytest_sessionfinish(session):
    minimum = int(os.environ.get("NOTICE_MIN_CASES") or 0)
    total = sum(session.config.stash[CASES].values())
    if total < minimum:
        session.config.stash[SHORT] = f"only {total:,} property-based cases ran; NOTICE_MIN_CASES is {minimum:,}"
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    counts, lines = config.stash[CASES], config.stash[FIGURES]
    if not counts and not lines and SHORT not in config.stash:
        return
    terminalreporter.section("reliability figures")
    if SHORT in config.stash:
        terminalreporter.write_line(f"FAILED: {config.stash[SHORT]}", red=True)
    if counts:
        terminalreporter.write_line(f"property-based cases: {sum(counts.values()):,} in {len(counts)} tests")
        for name, count in sorted(counts.items()):
            terminalreporter.write_line(f"  {count:>7,}  {name}")
    for line in lines:
        terminalreporter.write_line(line)
