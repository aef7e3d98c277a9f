"""What the inventory finds in the spool, as the values output.py prints: a notice in a
listing (Listed) and one notice in full (Found). No I/O, no rules: inventory.py makes them."""

from __future__ import annotations

from collections import namedtuple


class Listed(namedtuple("Listed", "at notice")):
    """A notice in a listing (a SpooledNotice) and the time it is listed at: for a pending one
    when Asterisk calls it next, for a finished one when it was scheduled (None: unknown).
    inventory.pending() and finished() give plain (at, notice) tuples of this shape: Listed()
    costs a Python call a notice, a listing makes 100,000s."""

    __slots__ = ()


class Found(namedtuple("Found", "pending path text mtime notice earlier ledger", defaults=((), ()))):
    """One notice in full: whether it is PENDING (in outgoing/; else finished, in
    outgoing_done/), its call file's PATH, TEXT and MTIME, and the NOTICE record.py reads
    from it. In reported delivery, that is the file of its latest attempt; EARLIER are
    (attempt, text) of the archived files of the attempts before it, and LEDGER the entries
    of its ledger (outcomes.py)."""

    __slots__ = ()
