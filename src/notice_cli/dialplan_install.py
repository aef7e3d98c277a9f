"""What `notice dialplan install` puts where in an Asterisk or FreePBX configuration folder,
and each file's text before and after it: pure functions, no I/O (dialplan_files.py reads
and writes the files).

A part of the install is either a whole file of ours or a *marked block* in a file of the
admin's: the lines from a BEGIN to an END marker line, which install replaces and uninstall
removes, leaving every other byte of the file as it was. A block goes at the end of its file
or right after a section header ([globals], [applicationmap]); when that section is missing
the block brings its own header. An earlier block is replaced where it stands, so the admin's
lines after its END line still come after it (later globals win in Asterisk). A copy of our
contexts outside the markers is refused: Asterisk keeps the first of two same extensions, so
the former `cat >>` install left the old dialplan running after an upgrade.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from .errors import InvalidInput

BEGIN = ("; BEGIN notice-cli (managed by 'notice dialplan install'; replaced on upgrade: "
         "put your own changes after the END line)")
END = "; END notice-cli"
BEGIN_MARK, END_MARK = BEGIN[:len("; BEGIN notice-cli")], END
# A marker line: "; BEGIN notice-cli" alone or followed by a blank or "(" (earlier wordings of the
# note), and "; END notice-cli" alone; "; BEGIN notice-cli-old" is an admin's line, not ours.
_IS_BEGIN = re.compile(r";\s*BEGIN notice-cli(?:[\s(].*)?")
_IS_END = re.compile(r";\s*END notice-cli")
MANAGED = "; Managed by 'notice dialplan install': replaced on upgrade, removed by 'notice dialplan uninstall'."

WHOLE_FILE, AT_END, AFTER_SECTION = "whole file", "at the end", "after the section header"


@dataclass(frozen=True)
class Part:
    """TARGET (a file of the configuration folder) gets the text of the dialplan files SOURCES,
    or with INCLUDE an #include line naming each: as a WHOLE_FILE of ours, a block AT_END, or a
    block AFTER_SECTION, right after the header of SECTION. A context of a SHARED source that
    the admin's part of the file defines already (FreePBX's predial hooks) is left to the admin,
    who is told the line to add to theirs. A source name may hold {hooks}: see hooks_flavour."""

    target: str
    sources: tuple[str, ...]
    placement: str = AT_END
    section: str | None = None
    include: bool = False
    shared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    """Where a kind of PBX takes the dialplan. A folder without LANDMARK is not one of this kind;
    one with FOREIGN is of the other kind. A file created new takes LANDMARK's mode, owner and
    group. RELOAD is what applies a change."""

    name: str
    parts: tuple[Part, ...]
    landmark: str
    not_one: str  # why a folder without the landmark is refused, and what to do instead
    reload: str
    foreign: str | None = None
    foreign_hint: str = ""
    folder: str | None = None  # the folder when none is given
    reads: tuple[str, ...] = ()  # files read, never written, to choose the sources ({hooks})

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(part.target for part in self.parts))


HOOKS = "freepbx_hooks_{hooks}.conf"

FREEPBX = Layout(
    "FreePBX",
    (Part("extensions_custom.conf", ("extensions_notice.conf", "freepbx_notice.conf", HOOKS), shared=(HOOKS,)),
     Part("globals_custom.conf", ("globals_notice.conf", "freepbx_globals.conf")),
     Part("features_applicationmap_custom.conf", ("features_notice.conf",))),
    landmark="extensions_additional.conf",
    not_one="not FreePBX's configuration folder (FreePBX writes extensions_additional.conf on every "
            "reload); give --etc the folder FreePBX writes to, or use --asterisk DIR for plain Asterisk",
    reload="fwconsole reload",
    folder="/etc/asterisk",
    reads=("extensions.conf",))

# The whole files come first: each is written before the #include that names it.
ASTERISK = Layout(
    "Asterisk",
    (Part("extensions_notice.conf", ("extensions_notice.conf",), WHOLE_FILE),
     Part("globals_notice.conf", ("globals_notice.conf",), WHOLE_FILE),
     Part("features_notice.conf", ("features_notice.conf",), WHOLE_FILE),
     Part("extensions.conf", ("globals_notice.conf",), AFTER_SECTION, "globals", include=True),
     Part("extensions.conf", ("extensions_notice.conf",), include=True),
     Part("features.conf", ("features_notice.conf",), AFTER_SECTION, "applicationmap", include=True)),
    landmark="extensions.conf",
    not_one="not an Asterisk configuration folder; give --asterisk the folder with extensions.conf "
            "(/etc/asterisk)",
    reload="asterisk -rx 'dialplan reload' && asterisk -rx 'module reload features'",
    foreign="extensions_additional.conf",
    foreign_hint="this is FreePBX's configuration folder (FreePBX writes that file); use --freepbx, "
                 "which leaves the files FreePBX writes alone")

LAYOUTS = {"freepbx": FREEPBX, "asterisk": ASTERISK}


# --- the text of a part ----------------------------------------------------------------------

def body(part: Part, dialplan: Mapping[str, str], left: Collection[str] = ()) -> str:
    """What PART puts in its file or block (a block's markers and header aside), without the
    contexts LEFT to the admin."""
    if part.include:
        return "".join(f'#include "{name}"\n' for name in part.sources)
    text = "\n".join(_ended(text) for text in _source_texts(part, dialplan, left) if text)  # a blank line between
    return f"{MANAGED}\n{text}" if part.placement == WHOLE_FILE else text


def _source_texts(part: Part, dialplan: Mapping[str, str], left: Collection[str] = ()) -> list[str]:
    """The text of each source of PART; a shared one without the contexts LEFT to the admin
    (and empty if that is all of them)."""
    texts = []
    for source in part.sources:
        pieces = _pieces(dialplan[source]) if source in part.shared else [(None, dialplan[source])]
        kept = [(context, text) for context, text in pieces if context not in left]
        if len(kept) == len(pieces):
            texts.append(dialplan[source])
        else:  # the blank lines that stood before a context left out go with it
            text = "".join(text for _, text in kept).rstrip("\n")
            texts.append(text + "\n" if any(context for context, _ in kept) else "")
    return texts


def _pieces(text: str) -> list[tuple[str | None, str]]:
    """TEXT cut before each context, with the comment lines right above its header:
    (None, what comes before the first), then (context in lower case, its text)."""
    lines = _lines(text)
    starts, floor = [], 0
    for number, line in enumerate(lines):
        if _HEADER.match(line):
            start = number
            while start > floor and lines[start - 1].lstrip().startswith(";"):
                start -= 1
            starts.append((start, _HEADER.match(line).group(1).lower()))
            floor = number + 1
    bounds = [start for start, _ in starts] + [len(lines)]
    return [(None, "".join(lines[:bounds[0]]))] + [
        (context, "".join(lines[start:bounds[index + 1]])) for index, (start, context) in enumerate(starts)]


def _block(section: str | None, text: str, header: bool, newline: str) -> str:
    """A marked block holding TEXT, with the header of SECTION first when HEADER."""
    content = [line.rstrip("\r\n") for line in _lines(text)]
    lines = [BEGIN, *([f"[{section}]"] if header else []), *content, END]
    return "".join(line + newline for line in lines)


def _ended(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


# --- a file's lines and blocks ---------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """Lines FIRST (the BEGIN marker) to LAST (the END marker) of a file."""

    first: int
    last: int


def _lines(text: str) -> list[str]:
    """TEXT's lines with their line breaks; only \\n breaks a line, as for Asterisk."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _newline(text: str) -> str:
    """The file's line break: CRLF if its first line ends so, else LF."""
    end = text.find("\n")
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def commented(lines: Sequence[str]) -> set[int]:
    """The numbers of the lines that begin inside an Asterisk block comment (";--" to "--;",
    nested, as main/config.c reads them: ";---..." is an ordinary comment): Asterisk skips
    them, so no section header, extension or marker of ours is found there."""
    depth, found = 0, set()
    for number, line in enumerate(lines):
        if depth:
            found.add(number)
        at = line.find(";")
        while at >= 0:
            if at and line[at - 1] == "\\":
                at += 1  # an escaped ';' is no comment
            elif line.startswith(";--", at) and line[at + 3:at + 4] != "-":  # ";---" is a line comment
                depth, at = depth + 1, at + 3
            elif depth and line[max(at - 2, 0):at] == "--":
                depth, at = depth - 1, at + 1
            elif not depth:
                break  # a line comment: the rest of the line says nothing
            else:
                at += 1
            at = line.find(";", at)
    return found


def blocks_in(lines: Sequence[str], name: str) -> list[Block]:
    """The marked blocks of a file, in order; broken markers are refused naming the line. A
    block inside a block comment is no block: Asterisk does not read it."""
    found, begun, skipped = [], None, commented(lines)
    for number, line in enumerate(lines):
        if number in skipped:
            continue
        mark = line.strip()
        if _IS_BEGIN.fullmatch(mark):
            if begun is not None:
                raise _broken(name, number, f"a second '{BEGIN_MARK}' line before the END line of the one on "
                                            f"line {begun + 1}")
            begun = number
        elif _IS_END.fullmatch(mark):
            if begun is None:
                raise _broken(name, number, f"'{END_MARK}' with no BEGIN line before it")
            found.append(Block(begun, number))
            begun = None
    if begun is not None:
        raise _broken(name, begun, f"'{BEGIN_MARK}' with no '{END_MARK}' line after it")
    return found


def _broken(name: str, number: int, what: str) -> InvalidInput:
    return InvalidInput(f"{name} line {number + 1}: {what}; mend the markers (or delete the whole block) "
                        "and run again: nothing was changed")


_HEADER = re.compile(r"\s*\[([^\]]*)\]")


def _inside(blocks: Sequence[Block]) -> set[int]:
    """The numbers of the lines of BLOCKS, markers included."""
    return {number for block in blocks for number in range(block.first, block.last + 1)}


def _headers(lines: Sequence[str], blocks: Sequence[Block]) -> list[tuple[int, str]]:
    """(line, section name in lower case) of each section header outside the blocks."""
    skipped = _inside(blocks) | commented(lines)
    return [(number, found.group(1).lower()) for number, line in enumerate(lines)
            if number not in skipped and (found := _HEADER.match(line))]


def _section_at(headers: Sequence[tuple[int, str]], number: int) -> str | None:
    """The section line NUMBER stands in, by the headers outside the blocks."""
    before = [name for at, name in headers if at < number]
    return before[-1] if before else None


# --- what the admin's part of a file defines already ------------------------------------------

_EXTENSION = re.compile(r"\s*exten\s*=>?\s*([^,]*?)\s*,\s*(\d+)\s*[,(]", re.I)
_INCLUDE_OR_FEATURE = re.compile(r"""\s*(#include\s*"?[^\s"]*_notice\.conf|notice\s*=>)""", re.I)
_APPLICATION = re.compile(r"\s*(?:exten\s*=>?\s*[^,]*,|same\s*=>?)\s*[^,]*,\s*(.*?)\s*$", re.I)


def _definitions(lines: Sequence[str]):
    """(line number, what it defines) of each line a second copy would clash on: an extension's
    numbered priority in its context (Asterisk keeps the first and warns), an #include of one
    of our files, the in-call feature."""
    for number, context, line in _contexts_of(lines):
        if extension := _EXTENSION.match(line):
            yield number, ("exten", context, extension.group(1), int(extension.group(2)))
        elif found := _INCLUDE_OR_FEATURE.match(line):
            yield number, re.sub(r'[\s"]', "", found.group(1)).lower()


def _contexts_of(lines: Sequence[str]):
    """(line number, the context it stands in, line) of every line Asterisk reads."""
    context, skipped = None, commented(lines)
    for number, line in enumerate(lines):
        if number in skipped:
            continue
        header = _HEADER.match(line)
        context = header.group(1).lower() if header else context
        yield number, context, line


def _admins(lines: Sequence[str], blocks: Sequence[Block]) -> dict:
    """What the lines outside the blocks define: definition -> its first line number."""
    inside, found = _inside(blocks), {}
    for number, defined in _definitions(lines):
        if number not in inside:
            found.setdefault(defined, number)
    return found


def _left_to_admin(lines, blocks, part, dialplan) -> dict[str, tuple[int, str | None]]:
    """The contexts of PART's shared sources that the admin's part of the file defines an
    extension of too: context -> (the admin's line, the line to add to theirs so it runs ours,
    or None when they have it already)."""
    admins, left = _admins(lines, blocks), {}
    for source in part.shared:
        for context, text in _pieces(dialplan[source])[1:]:
            ours = [defined for _, defined in _definitions(_lines(text))]
            clashes = sorted(admins[defined] for defined in ours if defined in admins)
            if clashes:
                left[context] = (clashes[0], _wiring(text, lines, blocks, context))
    return left


def _wiring(ours: str, lines, blocks, context: str) -> str | None:
    """What to add to the admin's own CONTEXT so that it runs what OURS (our version of that
    context) runs first, and where; None if it runs it already."""
    steps = [found.group(1) for line in _lines(ours) if not line.lstrip().startswith(";")
             and (found := _APPLICATION.match(line))]
    inside = _inside(blocks)
    theirs = "".join(line for number, at, line in _contexts_of(lines) if at == context and number not in inside)
    if not steps or steps[0] in theirs:
        return None
    return f"add 'same => n,{steps[0]}' before its {steps[-1]}" if len(steps) > 1 else f"add 'same => n,{steps[0]}'"


def _refuse_copies(lines, blocks, parts, dialplan, left, name) -> None:
    """Something the blocks define (or the files they include) and a line outside them defines
    too (an earlier copy) is refused, naming that line. LEFT: part number -> the contexts left
    to the admin, which are no copies."""
    ours = {defined for number, part in enumerate(parts)
            for text in (body(part, dialplan, left[number]), *_source_texts(part, dialplan, left[number]))
            for _, defined in _definitions(_lines(text))}
    for defined, number in sorted(_admins(lines, blocks).items(), key=lambda item: item[1]):
        if defined in ours:
            raise InvalidInput(
                f"{name} line {number + 1}: {lines[number].strip()} is also in the notice-cli block, and Asterisk "
                "would keep only the first of the two; if it is a copy from an earlier install, delete it (or put it "
                f"between a '{BEGIN_MARK}' and an '{END_MARK}' line so the install replaces it), and run again: "
                "nothing was changed")


# --- install and uninstall of one file -------------------------------------------------------

def installed(text: str | None, parts: Sequence[Part], dialplan: Mapping[str, str], name: str) -> str:
    """The text of the file NAME with PARTS (all of the same target) installed: a whole file's
    text, or TEXT with each part's block replaced where it stands or added where it goes."""
    if parts[0].placement == WHOLE_FILE:
        return body(parts[0], dialplan)
    text = text or ""
    newline, lines = _newline(text), _lines(text)
    blocks = blocks_in(lines, name)
    left = [_left_to_admin(lines, blocks, part, dialplan) for part in parts]
    _refuse_copies(lines, blocks, parts, dialplan, left, name)
    bodies = [body(part, dialplan, left[number]) for number, part in enumerate(parts)]
    headers = _headers(lines, blocks)
    paired = _paired(bodies, blocks, lines)
    in_place, after_line, at_end = {}, {}, []
    for number, part in enumerate(parts):
        block = paired.get(number)
        section = (part.section or "").lower()
        homes = [at for at, found in headers if found == section] if part.placement == AFTER_SECTION else []
        if homes:
            rendered = _block(part.section, bodies[number], False, newline)
            if block and _section_at(headers, block.first) == section:
                in_place[block.first] = rendered
            else:  # new, or standing outside the section (which the admin has added since)
                after_line.setdefault(homes[0], []).append(rendered)
            continue
        rendered = _block(part.section, bodies[number], part.placement == AFTER_SECTION, newline)
        if block:
            in_place[block.first] = rendered
        else:
            at_end.append(rendered)
    return _joined(lines, blocks, in_place, after_line, at_end, newline)


def left_to_admin(text: str | None, parts: Sequence[Part], dialplan: Mapping[str, str], name: str) -> list[str]:
    """What installed() leaves to the admin in the file NAME, and what they should add: a line each."""
    if parts[0].placement == WHOLE_FILE:
        return []
    lines = _lines(text or "")
    blocks = blocks_in(lines, name)
    return [f"{name} line {number + 1}: [{context}] is yours, left as it is; {wiring}"
            for part in parts for context, (number, wiring) in _left_to_admin(lines, blocks, part, dialplan).items()
            if wiring]


def uninstalled(text: str | None, name: str) -> str | None:
    """TEXT without its blocks (every other byte as it was)."""
    if text is None:
        return None
    lines = _lines(text)
    return _joined(lines, blocks_in(lines, name), {}, {}, [], _newline(text))


def _paired(bodies, blocks, lines) -> dict[int, Block]:
    """Part number -> the block it replaces: the block with the same lines as its body (a
    section header aside) if there is one, else the blocks left in order. A block left over is
    dropped."""
    def lines_of(text_lines):
        return [line.rstrip("\r\n") for line in text_lines if not _HEADER.match(line)]

    left, paired = list(blocks), {}
    for number, text in enumerate(bodies):
        same = [block for block in left if lines_of(lines[block.first + 1:block.last]) == lines_of(_lines(text))]
        if same:
            paired[number] = same[0]
            left.remove(same[0])
    for number in range(len(bodies)):
        if number not in paired and left:
            paired[number] = left.pop(0)
    return paired


def _joined(lines, blocks, in_place, after_line, at_end, newline) -> str:
    """LINES with each block replaced by its IN_PLACE text (or dropped), blocks inserted after
    the lines of AFTER_LINE, and AT_END appended; a line they follow gets its line break."""
    out, starts, number = [], {block.first: block for block in blocks}, 0
    while number < len(lines):
        if number in starts:
            out.append(in_place.get(number, ""))
            number = starts[number].last + 1
            continue
        out.append(lines[number])
        if number in after_line:
            out = _broken_off(out, newline) + after_line[number]
        number += 1
    if at_end:
        out = _broken_off(out, newline) + at_end
    return "".join(out)


def _broken_off(out: list[str], newline: str) -> list[str]:
    """OUT with a line break after its last line if it has none (a file not ended by one)."""
    text = "".join(out)
    return [text + newline] if text and not text.endswith("\n") else out


# --- the plan for a folder, and what it says -------------------------------------------------

@dataclass(frozen=True)
class Change:
    """A target file's text BEFORE and AFTER (None: no file); WHOLE for a whole file of ours;
    NOTES: what is left to the admin, a line each."""

    target: str
    before: str | None
    after: str | None
    whole: bool
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def status(self) -> str:
        if not self.changed:
            return "unchanged"
        if self.whole:
            return "removed" if self.after is None else "written"
        had, has = (len(blocks_in(_lines(text or ""), self.target)) for text in (self.before, self.after))
        noun = "notice blocks" if max(had, has) > 1 else "notice block"
        return f"{noun} {'removed' if not has else 'added' if not had else 'replaced'}"


_STUB = re.compile(r"^\s*\[macro-dialout-trunk-predial-hook\][^\[]*?^\s*exten\s*=>?\s*s\s*,\s*1\s*,\s*(\w*)",
                   re.I | re.M | re.S)


def hooks_flavour(extensions_conf: str | None, name: str) -> str:
    """Which predial hooks fit this FreePBX, by the stub its extensions.conf (core's, written by
    FreePBX) gives [macro-dialout-trunk-predial-hook]: MacroExit() on 15 and 16, which run the
    hooks with Macro(), Return() on 17, which runs them with Gosub()."""
    found = _STUB.search(extensions_conf or "")
    flavour = {"macroexit": "macro", "return": "gosub"}.get(found.group(1).lower() if found else "")
    if flavour is None:
        raise InvalidInput(f"{name}: no [macro-dialout-trunk-predial-hook] ending in MacroExit() (FreePBX 15, 16) or "
                           "Return() (17), so which predial hooks fit this FreePBX cannot be told; is it FreePBX's "
                           "extensions.conf?")
    return flavour


# Where the shipped files say the operators' codes: one place each, so one setting changes each.
CODE_LINES = {
    "after_call_code": ("globals_notice.conf", re.compile(r"^(NOTICE_CODE_AFTER_CALL=)(.*)$", re.M)),
    "any_time_code": ("globals_notice.conf", re.compile(r"^(NOTICE_CODE_ANY_TIME=)(.*)$", re.M)),
    "in_call_code": ("features_notice.conf", re.compile(r"^(notice => )([^,]*)", re.M)),
}


def installed_codes(layout: Layout, texts: Mapping[str, str | None]) -> dict[str, str]:
    """The codes an earlier install wrote (inside its blocks, or in its whole files), so that
    an upgrade keeps them when they are not given again."""
    found = {}
    for name, (source, line) in CODE_LINES.items():
        for part in layout.parts:
            if source in part.sources and not part.include and (code := line.search(_ours(part, texts))):
                found[name] = code.group(2)
    return found


def _ours(part: Part, texts: Mapping[str, str | None]) -> str:
    """The text an earlier install wrote for PART: its whole file, or its blocks ("" for broken
    markers, which planned() refuses naming the line)."""
    text = texts.get(part.target) or ""
    if part.placement == WHOLE_FILE:
        return text
    lines = _lines(text)
    try:
        return "".join("".join(lines[block.first:block.last + 1]) for block in blocks_in(lines, part.target))
    except InvalidInput:
        return ""


def with_codes(dialplan: Mapping[str, str], codes: Mapping[str, str | None]) -> dict[str, str]:
    """The dialplan files with the operators' CODES (after_call_code, any_time_code,
    in_call_code; None: as shipped) written where the files say them."""
    changed = dict(dialplan)
    for name, code in codes.items():
        if code is not None:
            source, line = CODE_LINES[name]
            changed[source] = line.sub(lambda found: found.group(1) + code, changed[source], count=1)
    shown = {name: line.search(changed[source]).group(2) for name, (source, line) in CODE_LINES.items()}
    if shown["after_call_code"] == shown["any_time_code"]:
        raise InvalidInput(f"after_call_code and any_time_code are both {shown['any_time_code']}: "
                           "the two ways need codes of their own")
    return changed


def parts_of(layout: Layout, target: str, choices: Mapping[str, str] | None = None) -> list[Part]:
    """LAYOUT's parts for TARGET, with what CHOICES says ({hooks}) in their sources' names."""
    def chosen(names):
        return tuple(name.format(**choices) for name in names) if choices else names

    return [replace(part, sources=chosen(part.sources), shared=chosen(part.shared))
            for part in layout.parts if part.target == target]


def planned(layout: Layout, texts: Mapping[str, str | None], dialplan: Mapping[str, str], folder: str,
            removing: bool = False) -> list[Change]:
    """Each target's change, in the order to make them: an install writes the whole files before
    the #include lines that name them, an uninstall removes those lines first. TEXTS holds the
    text of each target and of each file the layout reads (None: no file). Refuses broken
    markers, copies and a FreePBX of unknown hooks, before anything is written."""
    changes = []
    choices = {} if removing or "extensions.conf" not in layout.reads else {
        "hooks": hooks_flavour(texts["extensions.conf"], posixpath.join(folder, "extensions.conf"))}
    for target in layout.targets:
        parts = parts_of(layout, target, choices)
        name, before, whole = posixpath.join(folder, target), texts[target], parts[0].placement == WHOLE_FILE
        if removing:
            changes.append(Change(target, before, None if whole else uninstalled(before, name), whole))
        else:
            changes.append(Change(target, before, installed(before, parts, dialplan, name), whole,
                                  tuple(left_to_admin(before, parts, dialplan, name))))
    return changes[::-1] if removing else changes


def report(changes: Sequence[Change], layout: Layout) -> list[str]:
    """One line per target (and one per thing left to the admin), then what to do next."""
    lines = [line for change in changes for line in (f"{change.target}: {change.status}", *change.notes)]
    if any(change.changed for change in changes):
        return lines + [f"apply it: {layout.reload}"]
    return lines + ["nothing changed"]


def diff(changes: Sequence[Change], folder: str) -> str:
    """A unified diff of every change (/dev/null for a file written new or removed)."""
    out = []
    for change in changes:
        if not change.changed:
            continue
        path = posixpath.join(folder, change.target)
        for line in difflib.unified_diff(_lines(change.before or ""), _lines(change.after or ""),
                                         path if change.before is not None else "/dev/null",
                                         path if change.after is not None else "/dev/null"):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
