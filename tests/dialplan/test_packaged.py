"""The dialplan files ship with the package, so that an installed `notice dialplan install`
finds them: a wheel built from the repository carries every dialplan/*.conf as
notice_cli/dialplan/*.conf, and notice-cli installed from it reads them there. A checkout (on
PYTHONPATH, or installed with `pip install -e`) reads the repository's own files through the
src/notice_cli/dialplan symlink."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from notice_cli.dialplan_files import shipped_dialplan

REPO = Path(__file__).resolve().parents[2]
DIALPLAN = REPO / "dialplan"
NAMES = sorted(path.name for path in DIALPLAN.glob("*.conf"))


def test_a_checkout_reads_the_repositorys_dialplan_files():
    assert NAMES and shipped_dialplan() == {name: (DIALPLAN / name).read_text() for name in NAMES}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built (pip wheel --no-deps) from a copy of the repository, so the build's own
    folders stay out of the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("src", "dialplan"):
        shutil.copytree(REPO / folder, source / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)],
                   check=True, timeout=300)
    (built,) = out.glob("notice_cli-*.whl")
    return built


def test_the_wheel_carries_every_dialplan_file(wheel):
    with zipfile.ZipFile(wheel) as archive:
        carried = {name: archive.read(name).decode() for name in archive.namelist()
                   if name.startswith("notice_cli/dialplan/")}
    assert carried == {f"notice_cli/dialplan/{name}": (DIALPLAN / name).read_text() for name in NAMES}


def test_notice_cli_installed_from_the_wheel_reads_its_own_copies(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import notice_cli, json; "
             "from notice_cli.dialplan_files import shipped_dialplan; "
             "print(json.dumps([notice_cli.__file__, shipped_dialplan()]))")
    done = subprocess.run([sys.executable, "-I", "-c", probe, str(target)], capture_output=True, text=True,
                          check=True, cwd=tmp_path, timeout=60)
    module, texts = json.loads(done.stdout)
    assert Path(module).is_relative_to(target)
    assert texts == {name: (DIALPLAN / name).read_text() for name in NAMES}
    assert not (target / "notice_cli" / "dialplan").is_symlink()
