"""The files of `notice dialplan install`: the dialplan files shipped inside the package, and
the configuration folder's files, read, then written atomically (dialplan_install.py decides
their text).

A changed file is written as a careful editor does: a temporary file in the file's own folder,
fsynced, given the original's mode, owner and group, renamed over the original (rename(2) is
atomic within a file system), then the folder fsynced (without it a crash may bring back the old
file). Every file is staged before any is renamed, so a full disk or a refused permission
leaves the folder as it was. A file whose text is unchanged is not touched: a second install
leaves every file, and its mtime, as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

from .dialplan_install import Change, Layout, installed_codes, planned, with_codes
from .errors import ConfigFolderError, InvalidInput, NoticeError
from .spool import explain_failure, fsync_folder


def install_dialplan(layout: Layout, folder: str, removing: bool = False, dry_run: bool = False,
                     codes: Mapping[str, str | None] | None = None) -> list[Change]:
    """Install the dialplan into FOLDER as LAYOUT says, with the operators' CODES (or with
    REMOVING, uninstall it); with DRY_RUN write nothing. Returns each target's change."""
    check_folder(folder, layout)
    for target in layout.targets:
        check_inside(folder, target)
    texts = read_texts(folder, [*layout.targets, *layout.reads])
    given = {name: code for name, code in (codes or {}).items() if code is not None}
    dialplan = {} if removing else with_codes(shipped_dialplan(), {**installed_codes(layout, texts), **given})
    changes = planned(layout, texts, dialplan, folder, removing)
    if not dry_run:
        write_changes(changes, folder, os.path.join(folder, layout.landmark))
    return changes


def shipped_dialplan() -> dict[str, str]:
    """The text of every dialplan file, as installed with the package (notice_cli/dialplan, the
    repository's dialplan/ folder), by name."""
    folder = resources.files("notice_cli") / "dialplan"
    try:
        return {entry.name: entry.read_text(encoding="utf-8") for entry in folder.iterdir()
                if entry.name.endswith(".conf")}
    except FileNotFoundError:
        raise NoticeError(f"the dialplan files are not installed with notice-cli (no {folder}); reinstall notice-cli") \
            from None


def check_folder(folder: str, layout: Layout) -> None:
    """Refuse a folder that is not of LAYOUT's kind."""
    if not os.path.isdir(folder):
        raise InvalidInput(f"{folder} is not a folder: {layout.not_one}")
    if not _exists(os.path.join(folder, layout.landmark)):
        raise InvalidInput(f"{folder} has no {layout.landmark}: {layout.not_one}")
    if layout.foreign and _exists(os.path.join(folder, layout.foreign)):
        raise InvalidInput(f"{folder} has {layout.foreign}: {layout.foreign_hint}")


def _exists(path: str) -> bool:
    """Whether PATH is there; a folder that may not be read is an I/O failure, not an answer."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as problem:
        raise ConfigFolderError(_explained(problem, path, "read")) from None
    return True


def check_inside(folder: str, target: str) -> None:
    """Refuse to write TARGET through a link that leads out of FOLDER, or to nothing: run as
    root, the install would otherwise write, or create, whatever file the link names (a link
    anyone who may write the folder, the asterisk user on FreePBX, can make)."""
    path = os.path.join(folder, target)
    if not os.path.islink(path):
        return
    real, inside = os.path.realpath(path), os.path.realpath(folder)
    if os.path.dirname(real) != inside or not os.path.isfile(real):
        raise InvalidInput(f"{path} is a link to {real}; notice-cli writes only files of {folder} itself: "
                           "put the file there in place of the link, and run again")


def read_texts(folder: str, names: Iterable[str]) -> dict[str, str | None]:
    """Each file's text (None when there is no such file). Bytes that are not UTF-8 (a comment in
    Latin-1, say) are kept as they are through surrogate escapes."""
    texts = {}
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as stream:
                texts[name] = stream.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            texts[name] = None
        except OSError as problem:
            raise ConfigFolderError(_explained(problem, path, "read")) from None
    return texts


def write_changes(changes: Sequence[Change], folder: str, like: str) -> None:
    """Make each change in FOLDER, in order: stage every new text first, then rename each into
    place or remove the file. A file created new takes LIKE's mode, owner and group. On a failure
    the message says which files were changed before it."""
    changed = [change for change in changes if change.changed]
    staged: dict[str, tuple[str, str]] = {}  # target -> (staging file, the path it replaces)
    done: list[str] = []
    try:
        for change in changed:
            if change.after is not None:
                staged[change.target] = _staged(os.path.join(folder, change.target), change.after, like)
        for change in changed:
            if change.target in staged:
                os.rename(*staged[change.target])
                del staged[change.target]
            else:
                os.unlink(os.path.join(folder, change.target))
            done.append(change.target)
        for synced in {os.path.dirname(os.path.realpath(os.path.join(folder, target))) for target in done}:
            fsync_folder(synced)
    except OSError as problem:
        where = problem.filename2 or problem.filename  # a rename's: the file it replaces
        so_far = (f"changed before the failure: {', '.join(done)}; run the command again once that is fixed"
                  if done else "nothing was changed")
        raise ConfigFolderError(f"{_explained(problem, where, 'write')}; {so_far}") from None
    finally:
        for staging, _ in staged.values():  # staged but not moved in
            with contextlib.suppress(OSError):
                os.unlink(staging)


def _staged(path: str, text: str, like: str) -> tuple[str, str]:
    """TEXT written complete and fsynced beside PATH (through a symlink: beside its target),
    with the mode, owner and group of PATH (or LIKE if PATH is new); (staging file, real path).
    A failure is named by PATH, not by the staging file."""
    real = os.path.realpath(path)
    try:
        existing = os.path.exists(real)
        info = os.stat(real if existing else like)
        fd, staging = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", suffix=".notice-tmp",
                                       dir=os.path.dirname(real))
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(text.encode("utf-8", "surrogateescape"))
                stream.flush()
                made = os.fstat(fd)
                if (made.st_uid, made.st_gid) != (info.st_uid, info.st_gid):
                    os.fchown(fd, info.st_uid, info.st_gid)  # before the mode: chown clears set-id bits
                os.fchmod(fd, info.st_mode & (0o777 if existing else 0o666))  # a new file: LIKE's, not executable
                os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staging)
            raise
    except OSError as problem:
        raise OSError(problem.errno, problem.strerror, path) from None
    return staging, real


def _explained(problem: OSError, path: str | None, doing: str) -> str:
    """One line an admin can act on, for a failure while DOING (read, write) PATH."""
    return explain_failure(problem, path or problem.filename, doing,
                           "the owner of Asterisk's configuration files (asterisk)")
