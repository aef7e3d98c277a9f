"""notice-cli installed into a FreePBX-shaped /etc/asterisk, run by a real Asterisk.

FreePBX cannot run here, so the configuration folder is shaped as FreePBX writes it, from its
sources (README, "Install on FreePBX"): core's extensions.conf includes extensions_additional.conf
then extensions_custom.conf and defines the predial-hook stubs after them ("MacroExit()" on
15/16, "return()" on 17: FreePBX/core etc/extensions.conf); extensions_additional.conf has
"DYNAMIC_FEATURES = apprecord" in [globals] with globals_custom.conf included after it
(FreePBX/core functions.inc.php, framework Extensions::generateConf); features.conf includes
features_applicationmap_additional.conf, then the custom one (FreePBX/core etc/features.conf).
Calls to an extension run the one-predial hook on the caller's channel before Dial (core
Dialplan/macroDialone.php), calls out run the trunk-predial hook on the extension's channel with
DIAL_NUMBER set (core functions.inc.php, macro-dialout-trunk). Extension 101 is a PJSIP endpoint
of that name (a sipp phone), as FreePBX names devices, and AstDB DEVICE/101/user names its user.

Asterisk 22 (sid) gets FreePBX 17's shape (Gosub), Asterisk 16 (bullseye) FreePBX 16's (Macro).

What is checked: `notice dialplan install --freepbx` writes its three blocks; Asterisk loads them
with no warning but the two FreePBX itself causes (a custom predial hook registers before core's
stub, which Asterisk then refuses); DYNAMIC_FEATURES is FreePBX's apprecord plus notice, and
stays so over reloads; the codes are reached from from-internal and a module's *55 is not
shadowed; an answered call to 101 and one 101 places are remembered for 101's user, a missed
one is not; the after-call code finds the operator as FreePBX finds AMPUSER, in extensions mode
and in device-and-user mode (another user logged in, or none).
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import MODULES, AsteriskSandbox
from notice_dialplan import EXTRA_MODULES, IN_CALL_CODE, PROMPTS, SETTINGS, executed, hold_music

AFTER_CALL = SETTINGS["NOTICE_CODE_AFTER_CALL"]
NOTICE = str(Path(sys.executable).parent / "notice")

# version -> how FreePBX runs a predial hook, and how core's stub of it ends
SHAPES = {
    "17": {"hook": "Gosub(macro-dialout-{name}-predial-hook,s,1())", "stub": "return()"},
    "16": {"hook": "Macro(dialout-{name}-predial-hook,)", "stub": "MacroExit()"},
}

EXTENSIONS_CONF = """\
; Shaped on FreePBX/core etc/extensions.conf (release/16.0, release/17.0): the includes, the
; internal contexts and the predial-hook stubs notice-cli relies on.
#include extensions_override_freepbx.conf
#include extensions_additional.conf
#include extensions_custom.conf

[from-internal]
include => from-internal-noxfer
include => from-internal-xfer

[from-internal-noxfer]
include => from-internal-noxfer-custom
include => from-internal-noxfer-additional

[from-internal-xfer]
include => from-internal-custom
include => from-internal-additional

[macro-dialout-trunk-predial-hook]
exten => s,1,{stub}

[macro-dialout-one-predial-hook]
exten => s,1,{stub}
"""

EXTENSIONS_ADDITIONAL = """\
; Shaped on what FreePBX generates into extensions_additional.conf: [globals] with
; DYNAMIC_FEATURES = apprecord and globals_custom.conf included after the generated globals;
; a module's feature code; an extension's call and an outbound route, each running its hook.
[globals]
DYNAMIC_FEATURES = apprecord
#include globals_custom.conf

;end of [globals]

[from-internal-noxfer-additional]

[from-internal-additional]
include => app-paging
include => ext-local
include => outbound-allroutes

; Paging's "intercom disallow" (FreePBX/paging), which the old *55 shadowed.
[app-paging]
exten => *55,1,NoOp(intercom disallow)
 same => n,Hangup()

; A call to an extension (macro-dial-one): the caller's channel runs the hook, then Dial().
[ext-local]
exten => 101,1,Set(DEXTEN=101)
 same => n,{one_hook}
 same => n,Dial(PJSIP/101,{ring})
 same => n,Hangup()

; An outbound route (7 + number, macro-dialout-trunk): DIAL_NUMBER, the hook, then the trunk.
[outbound-allroutes]
exten => _7X.,1,Set(DIAL_NUMBER=${{EXTEN:1}})
 same => n,{trunk_hook}
 same => n,Dial(PJSIP/${{DIAL_NUMBER}}@client,20,S(2))
 same => n,Hangup()

; The test's callers: a client who calls 101 and hangs up after talking, or before an answer;
; an outsider whose caller ID is 101's, sent out through a route (a transfer, a follow-me leg).
[test-caller]
exten => _X.,1,Set(CALLERID(num)=${{EXTEN}})
 same => n,Goto(from-internal,101,1)
[test-outsider]
exten => _X.,1,Set(CALLERID(num)=101)
 same => n,Goto(from-internal,${{EXTEN}},1)
[test-listener]
exten => talk,1,Answer()
 same => n,Wait(3)
 same => n,Hangup()
exten => press,1,Answer()
 same => n,Wait(2)
 same => n,SendDTMF({in_call_code},120,120)
 same => n,Wait(4)
 same => n,Hangup()
"""

FEATURES_CONF = """\
; Shaped on FreePBX/core etc/features.conf (release/15.0 to 17.0).
[general]
#include features_general_additional.conf
#include features_general_custom.conf

[applicationmap]
#include features_applicationmap_additional.conf
#include features_applicationmap_custom.conf

[featuremap]
#include features_featuremap_additional.conf
#include features_featuremap_custom.conf
"""

# FreePBX's one-touch recording, as core writes it (core_conf::addApplicationMap).
APPRECORD = "apprecord=>*1,caller,Gosub(macro-one-touch-record,s,1)\n"

EMPTY_CUSTOM = ("extensions_override_freepbx.conf", "extensions_custom.conf", "globals_custom.conf",
                "features_applicationmap_custom.conf", "features_general_additional.conf",
                "features_general_custom.conf", "features_featuremap_additional.conf",
                "features_featuremap_custom.conf")

# What FreePBX's own layout makes Asterisk say: our hook registers first, core's stub after.
HOOK_WARNING = re.compile(r"Unable to register extension 's' priority 1 in "
                          r"'macro-dialout-(one|trunk)-predial-hook', already in use")
# With it, where core's stub stands (a line of core's extensions.conf, never of our files); and
# what Asterisk 16 says of FreePBX 16's Macro(), which runs the hooks: FreePBX's, not ours.
FREEPBX_WARNINGS = re.compile(HOOK_WARNING.pattern + r"|pbx_config\.c: Unable to register extension at line "
                              r"\d+ of extensions\.conf$|app_macro\.c: |loader\.c: Module 'app_macro' ")


def shape_of(chroot: Path) -> str:
    return "17" if chroot.name == "sid" else "16"


def lay_out(sandbox: AsteriskSandbox, version: str) -> None:
    etc, shape = sandbox.run.etc, SHAPES[version]
    (etc / "extensions.conf").write_text(EXTENSIONS_CONF.format(stub=shape["stub"]))
    (etc / "extensions_additional.conf").write_text(EXTENSIONS_ADDITIONAL.format(
        one_hook=shape["hook"].format(name="one"), trunk_hook=shape["hook"].format(name="trunk"), ring=8,
        in_call_code=IN_CALL_CODE))
    (etc / "features.conf").write_text(FEATURES_CONF)
    (etc / "features_applicationmap_additional.conf").write_text(APPRECORD)
    for name in EMPTY_CUSTOM:
        (etc / name).write_text("")
    # An admin's extensions_custom.conf has at least the context FreePBX includes from it.
    (etc / "extensions_custom.conf").write_text("[from-internal-custom]\n")
    modules = MODULES + EXTRA_MODULES + ("load = app_macro.so\n" if version == "16" else "")
    (etc / "modules.conf").write_text(modules)
    hold_music(sandbox)


def install(etc: Path) -> str:
    done = subprocess.run([NOTICE, "dialplan", "install", "--freepbx", "--etc", str(etc)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def asterisk(chroot):
    """Asterisk on a FreePBX-shaped folder with notice-cli installed, for this module."""
    sandbox = AsteriskSandbox.create(chroot, phones=("client", "101"))
    try:
        lay_out(sandbox, shape_of(chroot))
        sandbox.installed = install(sandbox.run.etc)
        sandbox.start()
        sandbox.rx("database put DEVICE 101/user 101")
        yield sandbox
    finally:
        sandbox.remove()
        if sandbox.keep_files:
            print(f"\nAsterisk run folder kept: {chroot}{sandbox.run.path}")


def problems(sandbox, since: int = 0) -> list:
    """The log's warnings and errors but those FreePBX's own hook layout makes."""
    return [line for line in sandbox.log_problems(since) if not FREEPBX_WARNINGS.search(line)]


def global_features(sandbox) -> str:
    shown = sandbox.rx("dialplan show globals", check=False) + sandbox.rx("core show globals", check=False)
    return re.search(r"DYNAMIC_FEATURES=(\S*)", shown).group(1)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.3)
    raise TimeoutError(what)


def remembered(sandbox, user: str) -> str:
    found = re.search(rf"/notice/last/{user}\s*:\s*(\S+)", sandbox.rx("database show notice"))
    return found.group(1) if found else ""


@pytest.mark.log_may_warn
def test_installed_blocks_load_beside_freepbx(asterisk, chroot):
    sandbox, etc = asterisk, asterisk.run.etc
    assert "extensions_custom.conf: notice block added" in sandbox.installed
    hooks = (etc / "extensions_custom.conf").read_text()
    ending = SHAPES[shape_of(chroot)]["stub"].replace("return()", "Return()")
    for hook, runs in (("one", "notice-freepbx-rings"), ("trunk", "notice-freepbx-dials")):
        assert f"[macro-dialout-{hook}-predial-hook]\nexten => s,1,Gosub({runs},s,1)\n same => n,{ending}\n" in hooks
    assert problems(sandbox) == []
    assert len([line for line in sandbox.log_problems() if HOOK_WARNING.search(line)]) == 2
    assert not re.search(r"extensions_custom\.conf|notice", "\n".join(sandbox.log_problems()))

    # FreePBX's *1 recording and the notice code, and DYNAMIC_FEATURES holding both, over reloads.
    features = sandbox.rx("features show")
    assert re.search(r"apprecord\s+no def\s+\*1", features)
    assert re.search(rf"notice\s+no def\s+{re.escape(IN_CALL_CODE)}", features)
    assert global_features(sandbox) == "apprecord#notice"
    for _ in range(2):
        since = sandbox.log_size()
        sandbox.rx("dialplan reload")
        assert global_features(sandbox) == "apprecord#notice"
        assert problems(sandbox, since) == []

    # The codes come from from-internal, before any module's, and paging's *55 is still paging's.
    assert "notice-codes" in sandbox.rx(f"dialplan show {AFTER_CALL}@from-internal")
    assert "intercom disallow" in sandbox.rx("dialplan show *55@from-internal")


@pytest.mark.log_may_warn
def test_way_two_remembers_answered_calls_for_the_freepbx_user(asterisk):
    sandbox = asterisk
    phone = sandbox.phone("101").answer(calls=2, timeout=120)
    client = sandbox.phone("client").answer(calls=1, timeout=120)
    since = sandbox.log_size()

    # A client calls 101, who answers; when the call ends, 101's user remembers the client.
    sandbox.rx("channel originate Local/talk@test-listener/n extension 79990000021@test-caller")
    wait_for(lambda: remembered(sandbox, "101") == "79990000021", 30, "the answered caller remembered")

    # 101 calls a client out through a trunk (7 + number): remembered as dialled, without the 7.
    sandbox.rx("channel originate PJSIP/101 extension 779990000022@from-internal")
    wait_for(lambda: remembered(sandbox, "101") == "79990000022", 40, "the dialled number remembered")
    assert client.wait(timeout=30) == 0 and phone.wait(timeout=30) == 0

    # An outsider with 101's caller ID sent out through a route is no operator: 101's memory
    # stays, and the channel is not marked (on FreePBX the operator is a device's user).
    outsider = sandbox.phone("client").answer(calls=1, timeout=60)
    since_full = sandbox.full_log.stat().st_size
    sandbox.rx("channel originate Local/talk@test-listener/n extension 779990000044@test-outsider")
    assert outsider.wait(timeout=40) == 0
    ran = [(line["context"], line["app"], line["args"]) for line in executed(sandbox, since_full)
           if line["channel"].startswith("Local/talk@")]
    assert ("notice-operator", "Return", "") in ran
    assert not any(context in ("notice-operator-leg", "notice-remember") for context, _, _ in ran)
    assert remembered(sandbox, "101") == "79990000022"

    # A call 101 does not answer (the phone is gone): not remembered.
    sandbox.rx("channel originate Local/talk@test-listener/n extension 79990000029@test-caller")
    time.sleep(12)
    assert remembered(sandbox, "101") == "79990000022"
    assert problems(sandbox, since) == []


@pytest.mark.log_may_warn
def test_a_client_who_presses_the_in_call_code_gets_nothing(asterisk):
    """FreePBX enables in-call features for every channel (its own *1 too): the client's channel
    runs [notice-during-call], which finds no operator there and returns at once."""
    sandbox = asterisk
    phone = sandbox.phone("101").answer(calls=1, timeout=60)
    since_full, since = sandbox.full_log.stat().st_size, sandbox.log_size()
    sandbox.rx("channel originate Local/press@test-listener/n extension 79990000031@test-caller")
    assert phone.wait(timeout=40) == 0
    lines = [line for line in executed(sandbox, since_full) if line["context"].startswith("notice-")]
    assert {line["channel"].split("@")[0] for line in lines} == {"Local/press"}
    ran = [(line["context"], line["app"]) for line in lines]
    assert ("notice-during-call", "Return") in ran and not any(context == "notice-compose" for context, _ in ran)
    assert problems(sandbox, since) == []


@pytest.mark.log_may_warn
@pytest.mark.parametrize("user, expected", [
    ("101", "79990000022"),  # extensions mode: the device's user is the extension
    ("205", "79990000023"),  # device-and-user mode: user 205 logged in on device 101
    ("none", None),  # device-and-user mode, nobody logged in: no operator, no notice
])
def test_the_after_call_code_finds_the_operator_as_freepbx_does(asterisk, user, expected):
    sandbox = asterisk
    sandbox.rx("database put notice/last 205 79990000023")
    sandbox.rx("database put notice/last 101 79990000022")
    sandbox.rx(f"database put DEVICE 101/user {user}")
    phone = sandbox.phone("101").answer(calls=1, timeout=60)
    since_full = sandbox.full_log.stat().st_size
    since = sandbox.log_size()
    try:
        sandbox.rx(f"channel originate PJSIP/101 extension {AFTER_CALL}@from-internal")

        def told():
            lines = [line for line in executed(sandbox, since_full) if line["channel"].startswith("PJSIP/101-")]
            said = [line["args"] for line in lines if line["app"] == "SayDigits"]
            refused = [line for line in lines if line["app"] == "Playback"
                       and line["args"] == PROMPTS["NOTICE_PROMPT_NO_NUMBER"]]
            return said or (["no operator"] if refused else None)

        assert wait_for(told, 30, "the operator told the number") == [expected or "no operator"]
    finally:
        sandbox.rx("channel request hangup all")
        phone.wait(timeout=30)
        sandbox.rx("database put DEVICE 101/user 101")
    assert problems(sandbox, since) == []
