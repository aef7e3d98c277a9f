#!/usr/bin/env bash
# Build, or reuse, a Debian chroot holding a real Asterisk and sipp for the
# end-to-end tests and the demo.
#
#   tests/asterisk/sandbox.sh [sid|bullseye]
#
# The last line printed on stdout is the chroot's path; progress goes to stderr.
# sid (Asterisk 22.x) is the required target, bullseye (Asterisk 16) the second.
# Debian 12 itself has no asterisk package, and sid's needs a newer libc than
# bookworm's: a chroot keeps Asterisk out of the host's own system folders.
#
# Cache: ${NOTICE_SANDBOX_CACHE:-$HOME/.cache/notice-cli}/<suite> (about 370 MB,
# a minute or so to build), plus <suite>.tar.zst (about 130 MB), from which a
# lost folder comes back in seconds (NOTICE_SANDBOX_TARBALL=0: keep none).
# A build happens in a temporary folder that is renamed only once it is
# complete and carries its marker, so an interrupted build is never reused.
# The chroot keeps no apt lists: run apt-get update in it before installing more.
# Mirrors: NOTICE_DEBIAN_MIRROR, NOTICE_DEBIAN_SECURITY_MIRROR (deb.debian.org).
set -euo pipefail

suite=${1:-sid}
case $suite in
    sid|bullseye) ;;
    -h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "usage: $0 [sid|bullseye]" >&2; exit 2 ;;
esac

cache=${NOTICE_SANDBOX_CACHE:-$HOME/.cache/notice-cli}
mirror=${NOTICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${NOTICE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
chroot_dir=$cache/$suite
tarball=$cache/$suite.tar.zst
# Written last, inside the chroot: its presence is what "ready" means.
marker=etc/notice-sandbox

packages=(
    asterisk
    sip-tester                          # sipp, the SIP phone of the tests
    python3 python3-click python3-dateutil  # for System(notice-spool ...) in the dialplan
)

say() { echo "sandbox: $*" >&2; }
die() { say "$*"; exit 1; }

is_ready() {
    [[ -f $1/$marker && -x $1/usr/sbin/asterisk && -x $1/usr/bin/sipp ]]
}

# debootstrap mounts /proc and /sys inside the target while it works; a build
# killed half-way can leave them mounted, and rm -rf must not walk into them.
remove_tree() {
    local dir=$1 mnt
    [[ -e $dir ]] || return 0
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$(realpath "$dir")/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$dir"
}

[[ $(id -u) == 0 ]] || die "needs root (debootstrap and chroot); run it as root or with sudo"

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v zstd >/dev/null || missing+=(zstd)
if ((${#missing[@]})); then
    say "installing ${missing[*]} on the host"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

mkdir -p "$cache"
# One builder per suite at a time; a second caller waits, then reuses.
exec 9>"$cache/.$suite.lock"
flock 9

if is_ready "$chroot_dir"; then
    echo "$chroot_dir"
    exit 0
fi

# Leftovers of an interrupted build or restore are never finished: drop them.
for old in "$cache/.$suite".build-*; do
    if [[ -e $old ]]; then
        say "removing unfinished build $old"
        remove_tree "$old"
    fi
done
build=$(mktemp -d "$cache/.$suite.build-XXXXXX")
chmod 755 "$build"  # mktemp makes it 0700; the chroot's / must be 0755
# A failed build is dropped now; a killed one by the next run, above.
trap 'if [[ -e $build ]]; then remove_tree "$build"; fi' EXIT

if [[ -f $tarball ]]; then
    say "restoring $suite from $tarball"
    if zstd -dc "$tarball" | tar -C "$build" -xf - && is_ready "$build"; then
        remove_tree "$chroot_dir"
        mv "$build" "$chroot_dir"
        echo "$chroot_dir"
        exit 0
    fi
    say "the tarball is unusable; building afresh"
    rm -f "$tarball"
    remove_tree "$build"
    build=$(mktemp -d "$cache/.$suite.build-XXXXXX")
    chmod 755 "$build"  # mktemp makes it 0700; the chroot's / must be 0755
fi

started=$SECONDS
say "debootstrap --variant=minbase $suite into $build"
debootstrap --variant=minbase "$suite" "$build" "$mirror" >&2 \
    || die "debootstrap failed (is $mirror reachable?)"

# No package may start a service: the tests start Asterisk themselves.
printf '#!/bin/sh\nexit 101\n' >"$build/usr/sbin/policy-rc.d"
chmod 755 "$build/usr/sbin/policy-rc.d"

# Docs, man pages and translations are a quarter of the size and never read here.
cat >"$build/etc/dpkg/dpkg.cfg.d/01-notice-sandbox-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF

{
    echo "deb $mirror $suite main"
    # Asterisk 16's fixes for bullseye arrive through the security archive.
    if [[ $suite == bullseye ]]; then
        echo "deb $security_mirror bullseye-security main"
    fi
} >"$build/etc/apt/sources.list"

# sid's Release file can look expired to apt on these machines.
in_chroot() { chroot "$build" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
say "installing ${packages[*]}"
in_chroot apt-get -qq -o Acquire::Check-Valid-Until=false update >&2
in_chroot apt-get -y -qq -o Acquire::Check-Valid-Until=false \
    install --no-install-recommends "${packages[@]}" >&2
in_chroot apt-get clean
rm -rf "$build"/var/lib/apt/lists/*

versions=$(in_chroot dpkg-query -W -f '${Package} ${Version}\n' asterisk sip-tester python3)
printf 'suite %s\nbuilt %s\n%s\n' "$suite" "$(date -u +%FT%TZ)" "$versions" >"$build/$marker"
remove_tree "$chroot_dir"
mv "$build" "$chroot_dir"
say "built $suite in $((SECONDS - started)) s, $(du -sh --one-file-system "$chroot_dir" | cut -f1): $(tr '\n' ' ' <<<"$versions")"

# A cheap second copy: the folder comes back from it in seconds.
if [[ ${NOTICE_SANDBOX_TARBALL:-1} == 1 ]]; then
    tar -C "$chroot_dir" --one-file-system -cf - . | zstd -q -T0 -o "$tarball.part" -f
    mv "$tarball.part" "$tarball"
    say "saved $tarball ($(du -h "$tarball" | cut -f1))"
fi

echo "$chroot_dir"
