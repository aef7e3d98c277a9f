"""What the unit tests and the Asterisk tests share: FreePBX-shaped configuration folders, laid
out from tests/fixtures/freepbx (its README says where each file comes from)."""

import os
from pathlib import Path

import pytest

FREEPBX_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "freepbx"


def freepbx_folder(name: str, folder: Path, variant: str = "") -> Path:
    """FOLDER laid out as FreePBX leaves /etc/asterisk, from the fixtures NAME: NAME.excerpt.conf
    is NAME.conf, NAME.VARIANT.conf (the admin's own extensions_custom.conf: "populated") replaces
    NAME.conf, other variants are left out, and a file of comments alone (a fixture's citation)
    is empty, as FreePBX creates it. Every mtime is an hour old, so a rewrite shows."""
    folder.mkdir()
    chosen = {}
    for path in sorted((FREEPBX_FIXTURES / name).glob("*.conf")):
        base, _, kind = path.name[:-len(".conf")].partition(".")
        if kind in ("", "excerpt") and base not in chosen or kind == variant:
            chosen[base] = path
    for base, path in chosen.items():
        text = path.read_text()
        commented = all(not line.strip() or line.lstrip().startswith(";") for line in text.splitlines())
        target = folder / f"{base}.conf"
        target.write_text("" if commented else text)
        info = target.stat()
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns - 3600 * 10**9))
    return folder


@pytest.fixture(scope="session")
def lay_out_freepbx():
    """freepbx_folder(name, folder, variant): a FreePBX-shaped /etc/asterisk."""
    return freepbx_folder


def freepbx_cases() -> list:
    """(fixture name, variant) for every folder of tests/fixtures/freepbx: as FreePBX installs
    it, and with the admin's own extensions_custom.conf where the folder has one."""
    cases = []
    for fixture in sorted(path for path in FREEPBX_FIXTURES.iterdir() if path.is_dir()):
        cases.append((fixture.name, ""))
        if (fixture / "extensions_custom.populated.conf").exists():
            cases.append((fixture.name, "populated"))
    return cases


def pytest_generate_tests(metafunc):
    """A test that takes freepbx_case runs on every case; for a class, once per case for all
    its tests (so a class-scoped fixture may use it)."""
    if "freepbx_case" in metafunc.fixturenames:
        cases = freepbx_cases()
        metafunc.parametrize("freepbx_case", cases, ids=["-".join(filter(None, case)) for case in cases],
                             scope="class" if metafunc.cls else "function")
