"""The rule "filter at the door" (extensions_notice.conf, at its top), checked on dialplan text.

Asterisk substitutes ${...} before an application parses its arguments, so a caller's value
inside ExecIf(), GotoIf(), $[...], Gosub() arguments, Dial(), a hangup handler or System()
becomes syntax. This module finds every ${...} in those places and accepts only:

- a variable assigned in the same context, LOCAL() or (outside a Gosub routine, where there
  is no LOCAL()) a channel variable, whose every assignment there is filtered: FILTER() to a
  set of characters that are no syntax, LEN() (digits), arithmetic, or text built only of
  such parts;
- an admin's setting (a global of globals_notice.conf) or a value Asterisk makes itself
  (SYSTEMSTATUS, RECORD_STATUS, UNIQUEID, EPOCH);
- LEN(), STAT() or FILTER() of such values.

In System() (a shell runs it) each value must also be shell-inert: letters, digits and
/ . _ + - only, or '*' too when single-quoted.

A value read with Read(), a channel variable, ARGn, GOSUB_RETVAL, CALLERID(), CONNECTEDLINE(),
IMPORT(), DB(), BRIDGEPEER, EXTEN, AMDSTATUS, REASON or a call file's NOTICE_* is never accepted
there as it is. And such a value is
FILTER()ed or measured with LEN() only from a LOCAL() whose '(', ')' and ':' REPLACE() made
'_' (the top of extensions_notice.conf says why).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

# Characters that mean something to Asterisk's argument parsers, expressions or the config.
SYNTAX = set("()[],:?\"'|&!<>=^${}\\\n\r\t ;")
SHELL_INERT = set(string.ascii_letters + string.digits + "/._+-")
DIGITS = set(string.digits)
ASTERISK_MADE = {"SYSTEMSTATUS", "RECORD_STATUS", "UNIQUEID", "EPOCH"}
SAFE_FUNCTIONS = {"LEN", "STAT", "FILTER"}
# Places where substituted text is parsed again: applications and the hangup-handler target.
PARSING_APPS = {"ExecIf", "GotoIf", "GosubIf", "Gosub", "Dial", "System", "TrySystem"}
UNKNOWN = None  # the character set of a value nobody filtered
# Values a caller or the network sets, which must be copied whole and REPLACE()d before
# FILTER() reads them (functions and channel variables).
RAW_SOURCES = {"CALLERID", "CONNECTEDLINE", "IMPORT", "DB", "CHANNEL", "SHARED", "BRIDGEPEER",
               "DIALEDPEERNAME", "DIAL_NUMBER", "OUTNUM", "EXTEN", "FILE"}
# The variables a delivery call file sets (the contract with notice-spool): whoever may write
# the spool may write them.
CALL_FILE_VARIABLES = {"NOTICE_ID", "NOTICE_NUMBER", "NOTICE_DUE", "NOTICE_ATTEMPT", "NOTICE_MESSAGE",
                       "NOTICE_CONFIRM", "NOTICE_AMD", "NOTICE_AMD_LEAVE_MESSAGE", "NOTICE_MAX_RETRIES",
                       "NOTICE_RETRY_ON"}
# What the far end decides of a call: AMD()'s verdict on its audio, the dial's last signal.
RAW_SOURCES |= {"AMDSTATUS", "AMDCAUSE", "REASON"} | CALL_FILE_VARIABLES


@dataclass
class Priority:
    where: str  # file:line
    context: str
    app: str
    args: str


@dataclass
class Context:
    name: str
    priorities: list[Priority] = field(default_factory=list)


SAME = re.compile(r"^\s*same\s*=>\s*[^,]*,\s*(?P<app>[A-Za-z]+)\((?P<args>.*)\)\s*$")
EXTEN = re.compile(r"^\s*exten\s*=>\s*[^,]*,\s*[^,]*,\s*(?P<app>[A-Za-z]+)\((?P<args>.*)\)\s*$")


def parse(text: str, name: str) -> list[Context]:
    """The contexts of dialplan TEXT, each with its priorities (application and arguments)."""
    contexts: list[Context] = []
    for number, line in enumerate(text.splitlines(), 1):
        code = _without_comment(line)
        header = re.match(r"^\s*\[([^\]]+)\]", code)
        if header:
            contexts.append(Context(header.group(1)))
            continue
        found = SAME.match(code) or EXTEN.match(code)
        if found and contexts:
            contexts[-1].priorities.append(Priority(f"{name}:{number}", contexts[-1].name,
                                                    found["app"], found["args"]))
    return contexts


def _without_comment(line: str) -> str:
    """The line up to its first unescaped ';' (\\; stays, as Asterisk's config reader keeps it)."""
    kept = re.split(r"(?<!\\);", line, maxsplit=1)[0]
    return kept.replace("\\;", ";")


def references(text: str) -> list[str]:
    """The top-level ${...} of TEXT, each without its ${ }."""
    return _spans(text, "{", "}")


def _spans(text: str, opening: str, closing: str) -> list[str]:
    """The top-level $<OPENING>...<CLOSING> of TEXT (${...} or $[...]), without them."""
    found, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text.startswith("$" + opening, i):
            if depth == 0:
                start = i + 2
            depth += 1
            i += 2
            continue
        if text[i] == opening and depth:
            depth += 1
        elif text[i] == closing and depth:
            depth -= 1
            if depth == 0:
                found.append(text[start:i])
        i += 1
    return found


def expand(allowed: str) -> set[str]:
    """The characters FILTER() keeps for its first argument ALLOWED (ranges like a-z)."""
    chars, i = set(), 0
    while i < len(allowed):
        c = allowed[i]
        if c == "\\" and i + 1 < len(allowed):
            c, i = allowed[i + 1], i + 1
        if i + 2 < len(allowed) and allowed[i + 1] == "-":
            chars |= {chr(n) for n in range(ord(c), ord(allowed[i + 2]) + 1)}
            i += 3
        else:
            chars.add(c)
            i += 1
    return chars


class Rules:
    """What is known of one context's values: the character set of each filtered local."""

    def __init__(self, context: Context, admin_globals: set[str]):
        self.context = context
        self.admin = admin_globals
        self.locals: dict[str, set[str] | None] = {}
        self._learn()

    def _assignments(self):
        for priority in self.context.priorities:
            if priority.app == "Set":
                target = re.match(r"(?:LOCAL\((\w+)\)|(\w+))=(.*)$", priority.args, re.S)
                if target:
                    yield target.group(1) or target.group(2), target.group(3)
            elif priority.app == "Read":
                target = re.match(r"(?:LOCAL\((\w+)\)|(\w+)),", priority.args)
                if target:
                    yield target.group(1) or target.group(2), None  # whatever the caller keyed

    def _learn(self) -> None:
        assignments = list(self._assignments())
        names = {name for name, _ in assignments}
        self.locals = {name: set() for name in names}
        for _ in range(len(assignments) + 1):  # until nothing changes: locals built of locals
            changed = False
            for name, value in assignments:
                chars = UNKNOWN if value is None else self.chars(value)
                merged = UNKNOWN if chars is UNKNOWN or self.locals[name] is UNKNOWN \
                    else self.locals[name] | chars
                if merged != self.locals[name]:
                    self.locals[name], changed = merged, True
            if not changed:
                break

    def chars(self, text: str) -> set[str] | None:
        """The characters TEXT may hold once substituted, or UNKNOWN if a caller decides."""
        result = set(_literal(text))
        for ref in references(text):
            chars = self.ref_chars(ref)
            if chars is UNKNOWN:
                return UNKNOWN
            result |= chars
        for expression in _expressions(text):
            if self.chars(expression) is UNKNOWN:
                return UNKNOWN
            result |= DIGITS | {"-"}
        return result

    def ref_chars(self, ref: str) -> set[str] | None:
        call = re.match(r"^(\w+)\((.*)\)$", ref, re.S)
        if not call:
            if ref in self.locals:
                return self.locals[ref]
            if ref in self.admin:
                return set()  # the admin's own setting: trusted, not a caller's
            if ref in ASTERISK_MADE:
                return set(string.ascii_letters + string.digits + "._")
            return UNKNOWN
        function, args = call.groups()
        if function == "FILTER":
            allowed = args.split(",", 1)[0]
            return expand(allowed)
        if function == "LEN":
            return DIGITS
        if function in SAFE_FUNCTIONS and self.chars(args) is not UNKNOWN:
            return DIGITS
        return UNKNOWN

    def problems(self) -> list[str]:
        """One line for each unfiltered value in a place where it would be parsed again, and
        for each raw value filtered or measured before its '(', ')' and ':' were replaced."""
        found = []
        for priority in self.context.priorities:
            for place, text in _places(priority):
                for ref in references(text):
                    found += self._check(priority, place, text, ref)
            found += self._unreplaced(priority)
        return found

    def _neutralized(self) -> set[str]:
        """Locals whose '(', ')' and ':' are replaced: REPLACE(name,():,_) is assigned to them."""
        return {name for name, value in self._assignments()
                if value is not None and value.strip() == f"${{REPLACE({name},():,_)}}"}

    def _unreplaced(self, priority: Priority) -> list[str]:
        """A caller's value measured by LEN(), or a raw source FILTER()ed directly, before its
        '(', ')' and ':' were replaced: the filtered value or its length may be cut short."""
        found = []
        for ref in _all_references(priority.args):
            call = re.match(r"^(FILTER|LEN)\((.*)\)$", ref, re.S)
            if not call:
                continue
            inner = call.group(2).split(",", 1)[-1] if call.group(1) == "FILTER" else call.group(2)
            for value in references(inner):
                if self._needs_replacing(value, measured=call.group(1) == "LEN"):
                    found.append(f"{priority.where} [{priority.context}] {call.group(1)}() of ${{{value}}}: "
                                 "copy it into a LOCAL() and REPLACE(name,():,_) it first")
        return found

    def _needs_replacing(self, value: str, measured: bool) -> bool:
        if value in self._neutralized() or self.ref_chars(value) is not UNKNOWN:
            return False
        name = re.match(r"^(\w+)", value).group(1)
        return measured or name in RAW_SOURCES or name in self._keyed()

    def _keyed(self) -> set[str]:
        return {name for name, value in self._assignments() if value is None}


    def _check(self, priority: Priority, place: str, text: str, ref: str) -> list[str]:
        chars = self.ref_chars(ref)
        call = re.match(r"^(\w+)\((.*)\)$", ref, re.S)
        if call:  # a function here reads its arguments here: they must be filtered already
            function, args = call.groups()
            inner = args.split(",", 1)[-1] if function == "FILTER" else args
            if function not in SAFE_FUNCTIONS or self.chars(inner) is UNKNOWN:
                chars = UNKNOWN
        where = f"{priority.where} [{priority.context}] {place}"
        if chars is UNKNOWN:
            return [f"{where}: ${{{ref}}} is not a filtered local"]
        if chars & SYNTAX:
            return [f"{where}: ${{{ref}}} may hold {''.join(sorted(chars & SYNTAX))!r}"]
        if place == "System()" and ref not in self.admin:
            quoted = f"'${{{ref}}}'" in text
            inert = SHELL_INERT | ({"*"} if quoted else set())
            if not chars <= inert:
                return [f"{where}: ${{{ref}}} may hold {''.join(sorted(chars - inert))!r} for the shell"]
        if place == "System()" and ref in self.admin:
            return [f"{where}: ${{{ref}}} is an admin's setting: FILTER() it to a path first"]
        return []


def _all_references(text: str) -> list[str]:
    """Every ${...} of TEXT, at every depth."""
    found = []
    for ref in references(text):
        found.append(ref)
        found += _all_references(ref)
    return found


def _places(priority: Priority):
    """(name, text) of each part of PRIORITY that Asterisk parses after substitution."""
    if priority.app in PARSING_APPS:
        yield f"{priority.app}()", priority.args
    else:
        for expression in _expressions(priority.args):
            yield "$[...]", expression
    handler = re.match(r"CHANNEL\(hangup_handler_(?:push|wipe)\)=(.*)$", priority.args, re.S)
    if priority.app == "Set" and handler:
        yield "hangup handler", handler.group(1)


def _expressions(text: str) -> list[str]:
    """The top-level $[...] of TEXT."""
    return _spans(text, "[", "]")


def _literal(text: str) -> str:
    """TEXT without its ${...} and $[...] parts."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("${", i) or text.startswith("$[", i):
            depth += 1
            i += 2
            continue
        if depth and text[i] in "{[":
            depth += 1
        elif depth and text[i] in "}]":
            depth -= 1
        elif not depth:
            out.append(text[i])
        i += 1
    return "".join(out)


def problems(text: str, name: str, admin_globals: set[str]) -> list[str]:
    """Every breach of the rule in the dialplan TEXT (file NAME)."""
    return [problem for context in parse(text, name)
            for problem in Rules(context, admin_globals).problems()]
