"""The modules' dependencies point one way: the command line -> the use cases -> the spool's
I/O and the settings -> the pure core. A module imports only from its own layer or those
below it, and no module imports itself back through others (no cycle). Each module is in
exactly one layer here, so a new module must be placed before the test passes."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "notice_cli"

LAYERS = {
    # what every other module may use: errors and their exit codes, plain values and texts
    "base": {"__init__", "errors", "charset", "value"},
    # the pure core: no I/O (time rules, the notice and its call file, reading one back)
    "core": {"when", "callfile", "notice", "record", "found", "dialplan_install", "pacing", "outcome"},
    # files and folders: Asterisk's spool, the recordings, the settings' sources, syslog
    "io": {"settings", "spool", "spool_writer", "spool_reader", "log", "recordings", "dialplan_recordings", "queue",
           "inbox", "dialplan_files", "outcomes"},
    # what a command does, from the settings to one result
    "use": {"schedule", "bulk", "inventory", "cleanup", "output", "fast_listing", "engine", "queue_inventory", "history",
            "report"},
    # the command line
    "cli": {"cli", "entry", "command", "__main__", "failure_runner"},
}
ORDER = list(LAYERS)
LAYER_OF = {module: ORDER.index(layer) for layer, modules in LAYERS.items() for module in modules}


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def imports(module: str) -> set[str]:
    """The package's modules that MODULE imports, at its top or inside a function alike."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import name
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("notice_cli"):
            found.add((node.module.split(".") + [""])[1] or "__init__")
    return found & set(modules())


def test_every_module_is_in_one_layer():
    placed = [module for modules_ in LAYERS.values() for module in modules_]
    assert sorted(placed) == modules(), "place each module of src/notice_cli in one layer above"


@pytest.mark.parametrize("module", modules())
def test_a_module_imports_nothing_from_a_layer_above(module):
    upward = {name for name in imports(module) if LAYER_OF[name] > LAYER_OF[module]}
    assert not upward, f"{module} ({ORDER[LAYER_OF[module]]}) imports from above: {sorted(upward)}"


def test_no_import_cycle():
    graph = {module: imports(module) - {module} for module in modules()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "visiting"
        for name in sorted(graph[module]):
            if state.get(name) == "visiting":
                cycle = path[path.index(name):] + [name]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if name not in state:
                visit(name, path + [name])
        state[module] = "done"

    for module in modules():
        if module not in state:
            visit(module, [module])


def test_the_test_sees_an_upward_import_and_a_cycle(tmp_path, monkeypatch):
    """The check of the check: a core module importing the command line is caught."""
    fake = tmp_path / "notice_cli"
    fake.mkdir()
    for module in modules():
        (fake / f"{module}.py").write_text("")
    (fake / "when.py").write_text("from .cli import main\n")
    (fake / "cli.py").write_text("from .when import parse_when\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert imports("when") == {"cli"}
    with pytest.raises(AssertionError, match="imports from above"):
        test_a_module_imports_nothing_from_a_layer_above("when")
    with pytest.raises(pytest.fail.Exception, match="import cycle: cli -> when -> cli"):
        test_no_import_cycle()
