"""The text of each file before and after `notice dialplan install` and `uninstall`, as the pure
functions of dialplan_install.py compute it: blocks added, replaced where they stand, left
unchanged, removed; sections present or missing; broken markers and earlier copies refused;
CRLF files and files without a final line break. Small stand-in dialplan files keep the
expected texts readable."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notice_cli import dialplan_install
from notice_cli.dialplan_install import (ASTERISK, BEGIN, END, FREEPBX, MANAGED, WHOLE_FILE, Change, diff,
                                         hooks_flavour, installed, left_to_admin, planned, report, uninstalled)
from notice_cli.errors import InvalidInput

DIALPLAN = {
    "extensions_notice.conf": "; the contexts\n[notice-codes]\nexten => *55,1,Gosub(notice-after-call,s,1)\n",
    "freepbx_notice.conf": "[from-internal-noxfer-custom]\ninclude => notice-codes\n",
    "freepbx_hooks_macro.conf": ("; the hooks\n\n; trunk\n[macro-dialout-trunk-predial-hook]\n"
                                 "exten => s,1,Gosub(notice-freepbx-dials,s,1)\n same => n,MacroExit()\n"),
    "globals_notice.conf": "NOTICE_SPOOL=/usr/local/bin/notice-spool\nNOTICE_ATTEMPTS=3\n",
    "freepbx_globals.conf": "DYNAMIC_FEATURES=${DYNAMIC_FEATURES}#notice\n",
    "features_notice.conf": "notice => *5,self,Gosub(notice-during-call,s,1),default\n",
}
EXTENSIONS_BLOCK = (f"{BEGIN}\n; the contexts\n[notice-codes]\nexten => *55,1,Gosub(notice-after-call,s,1)\n\n"
                    "[from-internal-noxfer-custom]\ninclude => notice-codes\n\n; the hooks\n\n; trunk\n"
                    "[macro-dialout-trunk-predial-hook]\nexten => s,1,Gosub(notice-freepbx-dials,s,1)\n"
                    f" same => n,MacroExit()\n{END}\n")
GLOBALS_BLOCK = f'{BEGIN}\n#include "globals_notice.conf"\n{END}\n'
EXTENSIONS_INCLUDE = f'{BEGIN}\n#include "extensions_notice.conf"\n{END}\n'
FEATURES_BLOCK = f'{BEGIN}\n#include "features_notice.conf"\n{END}\n'


def parts_of(layout, target):
    return dialplan_install.parts_of(layout, target, {"hooks": "macro"})


def freepbx_extensions(text):
    return installed(text, parts_of(FREEPBX, "extensions_custom.conf"), DIALPLAN, "/etc/asterisk/extensions_custom.conf")


def asterisk_extensions(text):
    return installed(text, parts_of(ASTERISK, "extensions.conf"), DIALPLAN, "/etc/asterisk/extensions.conf")


def asterisk_features(text):
    return installed(text, parts_of(ASTERISK, "features.conf"), DIALPLAN, "/etc/asterisk/features.conf")


# --- a block at the end (FreePBX) ------------------------------------------------------------

def test_an_empty_or_missing_file_gets_the_block_alone():
    assert freepbx_extensions("") == EXTENSIONS_BLOCK
    assert freepbx_extensions(None) == EXTENSIONS_BLOCK


def test_the_block_is_added_after_the_admins_lines_and_a_second_install_changes_nothing():
    admin = "[from-internal-custom]\nexten => 1234,1,Playback(demo-congrats)\n"
    once = freepbx_extensions(admin)
    assert once == admin + EXTENSIONS_BLOCK
    assert freepbx_extensions(once) == once


def test_an_upgrade_replaces_the_block_where_it_stands_and_keeps_the_lines_after_it():
    admin_before, admin_after = "; mine\n", "[from-internal-custom]\nexten => 1234,1,Hangup()\n"
    old_block = f"{BEGIN}\n[notice-codes]\nexten => *55,1,Gosub(old,s,1)\n{END}\n"
    upgraded = freepbx_extensions(admin_before + old_block + admin_after)
    assert upgraded == admin_before + EXTENSIONS_BLOCK + admin_after


def test_an_earlier_begin_line_of_another_wording_is_a_marker_too():
    older = f"; BEGIN notice-cli (managed by notice)\n[notice-codes]\n{END}\n; after\n"
    assert freepbx_extensions(older) == EXTENSIONS_BLOCK + "; after\n"


def test_a_second_copy_of_the_block_is_dropped():
    assert freepbx_extensions(EXTENSIONS_BLOCK + "; mine\n" + EXTENSIONS_BLOCK) == EXTENSIONS_BLOCK + "; mine\n"


def test_uninstall_removes_the_block_and_leaves_every_other_byte():
    admin = "; mine\n\n[from-internal-custom]\nexten => 1234,1,Hangup()\n"
    assert uninstalled(freepbx_extensions(admin), "x") == admin
    before, after = "; before\n", "NOTICE_ATTEMPTS=5\n"
    assert uninstalled(before + GLOBALS_BLOCK + after, "x") == before + after
    assert uninstalled(admin, "x") == admin
    assert uninstalled(None, "x") is None


# --- broken markers ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, what", [
    (f"; mine\n{BEGIN}\n[notice-codes]\n", 2, "'; BEGIN notice-cli' with no '; END notice-cli' line after it"),
    (f"{BEGIN}\n; a\n{BEGIN}\n{END}\n", 3, "a second '; BEGIN notice-cli' line before the END line of the one on line 1"),
    (f"; a\n; b\n{END}\n", 3, "'; END notice-cli' with no BEGIN line before it"),
])
@pytest.mark.parametrize("action", ["install", "uninstall"])
def test_broken_markers_are_refused_naming_the_file_and_line(text, line, what, action):
    with pytest.raises(InvalidInput) as refused:
        if action == "install":
            freepbx_extensions(text)
        else:
            uninstalled(text, "/etc/asterisk/extensions_custom.conf")
    assert str(refused.value) == (f"/etc/asterisk/extensions_custom.conf line {line}: {what}; mend the markers (or "
                                  "delete the whole block) and run again: nothing was changed")


# --- earlier copies outside the markers --------------------------------------------------------

@pytest.mark.parametrize("copy", ["[notice-codes]", "  [Notice-Codes] ; the old cat >> install"])
def test_a_copy_of_our_extensions_outside_the_block_is_refused(copy):
    with pytest.raises(InvalidInput) as refused:
        freepbx_extensions(f"; mine\n{copy}\nexten => *55,1,Gosub(notice-after-call,s,1)\n")
    assert str(refused.value) == (
        "/etc/asterisk/extensions_custom.conf line 3: exten => *55,1,Gosub(notice-after-call,s,1) is also in the "
        "notice-cli block, and Asterisk would keep only the first of the two; if it is a copy from an earlier "
        "install, delete it (or put it between a '; BEGIN notice-cli' and an '; END notice-cli' line so the install "
        "replaces it), and run again: nothing was changed")


def test_an_extension_the_admin_defines_in_the_same_context_is_refused():
    """Outside the hooks, a context of the admin's and ours that both define s,1: Asterisk
    would run only the admin's."""
    clashing = {**DIALPLAN, "freepbx_notice.conf": "[my-context]\nexten => s,1,Gosub(x,s,1)\n"}
    admin = "[my-context]\n;mine\nexten => s,1,Set(A=1)\nexten => s,n,Return()\n"
    with pytest.raises(InvalidInput, match="^e line 3: exten => s,1,Set"):
        installed(admin, parts_of(FREEPBX, "extensions_custom.conf"), clashing, "e")
    other_context = admin.replace("[my-context]", "[their-context]")
    assert installed(other_context, parts_of(FREEPBX, "extensions_custom.conf"), clashing, "e").startswith(other_context)


HOOKS_LEFT = EXTENSIONS_BLOCK.replace(
    "\n; the hooks\n\n; trunk\n[macro-dialout-trunk-predial-hook]\nexten => s,1,Gosub(notice-freepbx-dials,s,1)\n"
    " same => n,MacroExit()\n", "")


def test_a_predial_hook_the_admin_has_is_left_to_them_with_the_line_to_add():
    parts = parts_of(FREEPBX, "extensions_custom.conf")
    admin = "[macro-dialout-trunk-predial-hook]\nexten => s,1,Set(OUTNUM=${OUTNUM})\nexten => s,n,MacroExit()\n"
    once = installed(admin, parts, DIALPLAN, "e")
    assert once == admin + HOOKS_LEFT
    assert left_to_admin(admin, parts, DIALPLAN, "e") == [
        "e line 2: [macro-dialout-trunk-predial-hook] is yours, left as it is; add "
        "'same => n,Gosub(notice-freepbx-dials,s,1)' before its MacroExit()"]
    assert installed(once, parts, DIALPLAN, "e") == once
    wired = admin.replace("exten => s,n,MacroExit()", "exten => s,n,Gosub(notice-freepbx-dials,s,1)\nexten => s,n,MacroExit()")
    assert left_to_admin(wired, parts, DIALPLAN, "e") == []
    assert installed(wired, parts, DIALPLAN, "e") == wired + HOOKS_LEFT
    # Once the admin's hook is gone, ours is installed in the same block.
    assert installed(once[len(admin):], parts, DIALPLAN, "e") == EXTENSIONS_BLOCK


@pytest.mark.parametrize("text, line", [
    ('[globals]\n#include "globals_notice.conf"\n', 2),
    ("[general]\n\n#include extensions_notice.conf\n", 3),
    ("[from-internal]\n[notice-codes]\nexten => *55,1(start),Gosub(old,s,1)\n", 3),
])
def test_the_former_manual_includes_and_copies_in_extensions_conf_are_refused(text, line):
    with pytest.raises(InvalidInput, match=f"^/etc/asterisk/extensions.conf line {line}: "):
        asterisk_extensions(text)


def test_the_admins_own_glue_contexts_and_settings_are_no_copy():
    admin = ("[from-internal-custom]\ninclude => my-codes\nexten => *55,1,Page(101)\n"
             "; notice => *5 in a comment\n[notice-codes]\n")
    assert freepbx_extensions(admin) == admin + EXTENSIONS_BLOCK
    settings_after = GLOBALS_BLOCK + "NOTICE_ATTEMPTS=5\n"
    globals_custom = installed(settings_after, parts_of(FREEPBX, "globals_custom.conf"), DIALPLAN, "g")
    assert globals_custom.endswith("#notice\n; END notice-cli\nNOTICE_ATTEMPTS=5\n")


def test_a_second_feature_line_outside_the_block_is_refused():
    with pytest.raises(InvalidInput, match="^f line 2: notice => \\*7,self"):
        installed("[applicationmap]\nnotice => *7,self,Gosub(x,s,1)\n", parts_of(ASTERISK, "features.conf"),
                  DIALPLAN, "f")


# --- a block after a section header (plain Asterisk) -------------------------------------------

TYPICAL = "[general]\nstatic = yes\n\n[globals]\nTRUNK = PJSIP/trunk\n\n[operators]\nexten => 100,1,Dial(PJSIP/100)\n"


def test_the_globals_block_goes_right_after_the_header_and_the_include_at_the_end():
    once = asterisk_extensions(TYPICAL)
    assert once == ("[general]\nstatic = yes\n\n[globals]\n" + GLOBALS_BLOCK + "TRUNK = PJSIP/trunk\n\n"
                    "[operators]\nexten => 100,1,Dial(PJSIP/100)\n" + EXTENSIONS_INCLUDE)
    assert asterisk_extensions(once) == once
    assert uninstalled(once, "x") == TYPICAL


@pytest.mark.parametrize("header", ["[Globals]", "  [globals] ; the settings", "[globals](+)"])
def test_any_spelling_of_the_section_header_is_found(header):
    text = f"[general]\n{header}\nA = 1\n"
    assert asterisk_extensions(text) == f"[general]\n{header}\n{GLOBALS_BLOCK}A = 1\n{EXTENSIONS_INCLUDE}"


def test_a_missing_section_comes_with_the_block():
    once = asterisk_extensions("[general]\nstatic = yes\n")
    globals_with_header = GLOBALS_BLOCK.replace("\n", "\n[globals]\n", 1)
    assert once == "[general]\nstatic = yes\n" + globals_with_header + EXTENSIONS_INCLUDE
    assert asterisk_extensions(once) == once
    assert uninstalled(once, "x") == "[general]\nstatic = yes\n"


def test_features_block_after_applicationmap_or_with_its_own_header():
    present = "[general]\n\n[applicationmap]\n; mine\n\n[featuremap]\n"
    assert asterisk_features(present) == "[general]\n\n[applicationmap]\n" + FEATURES_BLOCK + "; mine\n\n[featuremap]\n"
    assert asterisk_features("") == FEATURES_BLOCK.replace("\n", "\n[applicationmap]\n", 1)


def test_a_section_the_admin_adds_later_takes_the_block_in_and_it_stays_there():
    first = asterisk_extensions("[general]\n")
    admin_adds = "[globals]\nA = 1\n" + first
    moved = asterisk_extensions(admin_adds)
    assert moved == "[globals]\n" + GLOBALS_BLOCK + "A = 1\n[general]\n" + EXTENSIONS_INCLUDE
    assert asterisk_extensions(moved) == moved


def test_blocks_are_told_apart_by_their_lines_not_their_order():
    """After the admin adds [globals] below the include, the globals block moves down into it,
    and the two blocks stand in the other order than the parts: each still finds its own."""
    first = asterisk_extensions("[general]\n")
    moved = asterisk_extensions(first + "[globals]\nA = 1\n")
    assert moved == "[general]\n" + EXTENSIONS_INCLUDE + "[globals]\n" + GLOBALS_BLOCK + "A = 1\n"
    assert asterisk_extensions(moved) == moved


def test_a_block_the_admin_moved_inside_its_section_stays_where_it_is():
    text = "[globals]\nA = 1\n" + GLOBALS_BLOCK + "B = 2\n" + EXTENSIONS_INCLUDE
    assert asterisk_extensions(text) == text


# --- line breaks -------------------------------------------------------------------------------

def test_a_crlf_file_gets_crlf_blocks_and_uninstall_gives_it_back():
    crlf = TYPICAL.replace("\n", "\r\n")
    once = asterisk_extensions(crlf)
    assert once == asterisk_extensions(TYPICAL).replace("\n", "\r\n")
    assert asterisk_extensions(once) == once
    assert uninstalled(once, "x") == crlf


def test_a_file_without_a_final_line_break_gets_one_before_the_block():
    once = freepbx_extensions("; mine")
    assert once == "; mine\n" + EXTENSIONS_BLOCK
    assert uninstalled(once, "x") == "; mine\n"
    assert asterisk_features("[applicationmap]") == "[applicationmap]\n" + FEATURES_BLOCK


# --- whole files, and a folder's plan ----------------------------------------------------------

def test_a_whole_file_is_ours_with_a_first_line_saying_so():
    (part,) = parts_of(ASTERISK, "globals_notice.conf")
    assert part.placement == WHOLE_FILE
    assert installed("; an old copy\n", [part], DIALPLAN, "g") == MANAGED + "\n" + DIALPLAN["globals_notice.conf"]


ASTERISK_FOLDER = {"extensions_notice.conf": None, "globals_notice.conf": None, "features_notice.conf": None,
                   "extensions.conf": TYPICAL, "features.conf": "[applicationmap]\n"}


def test_the_plan_of_an_asterisk_install_and_its_report():
    changes = planned(ASTERISK, ASTERISK_FOLDER, DIALPLAN, "/etc/asterisk")
    assert [change.target for change in changes] == list(ASTERISK_FOLDER)
    assert report(changes, ASTERISK) == [
        "extensions_notice.conf: written", "globals_notice.conf: written", "features_notice.conf: written",
        "extensions.conf: notice blocks added", "features.conf: notice block added",
        "apply it: asterisk -rx 'dialplan reload' && asterisk -rx 'module reload features'"]
    again = planned(ASTERISK, {change.target: change.after for change in changes}, DIALPLAN, "/etc/asterisk")
    assert report(again, ASTERISK) == [f"{target}: unchanged" for target in ASTERISK_FOLDER] + ["nothing changed"]


def test_an_uninstall_removes_the_includes_before_the_files_they_name():
    installed_folder = {change.target: change.after for change in planned(ASTERISK, ASTERISK_FOLDER, DIALPLAN, "/e")}
    changes = planned(ASTERISK, installed_folder, {}, "/e", removing=True)
    assert report(changes, ASTERISK)[:-1] == [
        "features.conf: notice block removed", "extensions.conf: notice blocks removed",
        "features_notice.conf: removed", "globals_notice.conf: removed", "extensions_notice.conf: removed"]
    assert {change.target: change.after for change in changes} == ASTERISK_FOLDER
    nothing = planned(ASTERISK, ASTERISK_FOLDER, {}, "/e", removing=True)
    assert report(nothing, ASTERISK)[-1] == "nothing changed"


def test_a_replaced_block_is_reported_so():
    changes = planned(FREEPBX, {"extensions_custom.conf": f"{BEGIN}\n; old\n{END}\n", "globals_custom.conf": "",
                                "features_applicationmap_custom.conf": None, "extensions.conf": MACRO_STUB},
                      DIALPLAN, "/etc/asterisk")
    assert [change.status for change in changes] == [
        "notice block replaced", "notice block added", "notice block added"]


MACRO_STUB = "[macro-dialout-trunk-predial-hook]\nexten => s,1,MacroExit()\n"


@pytest.mark.parametrize("stub, flavour", [
    (MACRO_STUB, "macro"),
    ("; 17\n[macro-dialout-trunk-predial-hook]\n; stub\nexten => s,1,return()\n", "gosub"),
    ("[macro-dialout-trunk-predial-hook]\nexten=>s,1,Return\n", "gosub"),
])
def test_the_hooks_fit_the_stub_of_freepbxs_extensions_conf(stub, flavour):
    assert hooks_flavour(stub, "x") == flavour


@pytest.mark.parametrize("text", [None, "", "[macro-dialout-one-predial-hook]\nexten => s,1,MacroExit()\n",
                                  "[macro-dialout-trunk-predial-hook]\nexten => s,1,Noop()\n"])
def test_a_freepbx_whose_hooks_cannot_be_told_is_refused(text):
    with pytest.raises(InvalidInput, match="^/etc/asterisk/extensions.conf: no \\[macro-dialout-trunk-predial-hook\\]"):
        hooks_flavour(text, "/etc/asterisk/extensions.conf")


def test_freepbx_never_touches_the_files_freepbx_writes():
    for part in FREEPBX.parts:
        assert part.target.endswith("_custom.conf") and "/" not in part.target
        assert part.placement != WHOLE_FILE


def test_the_diff_shows_new_changed_and_removed_files():
    changes = [Change("new.conf", None, "a\n", True), Change("same.conf", "x\n", "x\n", False),
               Change("gone.conf", "b\n", None, True), Change("end.conf", "c", "c\nd\n", False)]
    assert diff(changes, "/etc/asterisk") == (
        "--- /dev/null\n+++ /etc/asterisk/new.conf\n@@ -0,0 +1 @@\n+a\n"
        "--- /etc/asterisk/gone.conf\n+++ /dev/null\n@@ -1 +0,0 @@\n-b\n"
        "--- /etc/asterisk/end.conf\n+++ /etc/asterisk/end.conf\n@@ -1 +1,2 @@\n-c\n\\ No newline at end of file\n"
        "+c\n+d\n")


# --- every admin file: install is idempotent, uninstall gives it back --------------------------

ADMIN_LINES = ["[general]", "[globals]", "[GLOBALS]", "[applicationmap]", "[featuremap]", "[operators]",
               "[from-internal-custom]", "static = yes", "TRUNK = PJSIP/trunk", "NOTICE_ATTEMPTS=5", "",
               "; a comment", "exten => 100,1,Dial(PJSIP/100)", " same => n,Hangup()", "include => my-codes",
               "#include other.conf", "[notice]", "   ", "\tA = 1", "[macro-dialout-trunk-predial-hook]",
               "exten => s,1,MacroExit()", "exten => s,n,Gosub(notice-freepbx-dials,s,1)"]


@st.composite
def admin_files(draw):
    lines = draw(st.lists(st.sampled_from(ADMIN_LINES), max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return "".join(line + newline for line in lines)


@settings(max_examples=300, deadline=None)
@given(admin_files(), st.sampled_from([(FREEPBX, "extensions_custom.conf"), (FREEPBX, "globals_custom.conf"),
                                       (ASTERISK, "extensions.conf"), (ASTERISK, "features.conf")]))
def test_install_twice_is_install_once_and_uninstall_gives_the_file_back(text, where):
    layout, target = where
    once = installed(text, parts_of(layout, target), DIALPLAN, target)
    assert installed(once, parts_of(layout, target), DIALPLAN, target) == once
    assert uninstalled(once, target) == text
    assert once.count(BEGIN) == len(parts_of(layout, target))


def test_an_admins_lines_like_a_marker_are_not_ours():
    """Only "; BEGIN notice-cli" alone or with its note, and "; END notice-cli" alone, are markers:
    an admin's "; BEGIN notice-cli-old" block, or a comment that mentions us, stays as it is."""
    admin = ("; BEGIN notice-cli-old copy kept for reference\n[x]\nexten => s,1,NoOp()\n; END notice-cli-old\n"
             "; END notice-cli was here once\n")
    assert freepbx_extensions(admin) == admin + EXTENSIONS_BLOCK
    assert uninstalled(freepbx_extensions(admin), "x") == admin


def test_what_a_block_comment_holds_asterisk_never_reads():
    """A [globals] commented out with ;-- --; is no section: the block brings its own header,
    live, rather than going where Asterisk skips it; a commented-out copy of ours is no copy."""
    text = ";-- old\n[globals]\nOLD=1\n--;\n[general]\nstatic=yes\n"
    assert asterisk_extensions(text) == text + GLOBALS_BLOCK.replace("\n", "\n[globals]\n", 1) + EXTENSIONS_INCLUDE
    old_copy = ";-- the former cat >> install\n[notice-codes]\nexten => *55,1,Gosub(notice-after-call,s,1)\n--;\n"
    assert freepbx_extensions(old_copy) == old_copy + EXTENSIONS_BLOCK
    nested = ";-- a ;-- b --; still --;\n[globals]\n"
    assert asterisk_extensions(nested).startswith(nested.replace("[globals]\n", "[globals]\n" + BEGIN))


def test_a_line_of_dashes_is_an_ordinary_comment():
    """";-----" rules a line, as the shipped files do; only ";--" and then no third '-' opens
    a block comment, and an escaped "\\;--" opens none."""
    text = ";------------------\n[globals]\nA=1\nB=x\\;--y\n[general]\n"
    assert asterisk_extensions(text).startswith(";------------------\n[globals]\n" + BEGIN)
