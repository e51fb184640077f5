#!/usr/bin/env bash
# The Python runtime drive of wisp-faas (docs/faas.md): Debian 13's own riscv64 binary packages (python3.13 and
# what it links), unpacked with dpkg-deb -x (no riscv64 code runs at build time), plus the guest's busybox, as
# an ext4 image the agent mounts and chroots handlers into.
# Usage: guest/python.sh GUESTDIR    (needs GUESTDIR/rootfs from guest/build.sh; writes GUESTDIR/python.ext4)
# Cached under ${WISP_CACHE:-~/.cache/wisp}/python-KEY, KEY = the packages' versions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-build/guest}" && pwd)
cache=${WISP_CACHE:-$HOME/.cache/wisp}
[ -x "$out/rootfs/bin/busybox" ] || { echo "guest/python.sh: run guest/build.sh $out first" >&2; exit 1; }
pkgs=(python3.13-minimal libpython3.13-minimal libpython3.13-stdlib libc6 zlib1g libexpat1 libffi8 libbz2-1.0
      liblzma5 libzstd1 libssl3t64 libcrypt1 libuuid1 libsqlite3-0 libtinfo6 libncursesw6 libreadline8t64 libgcc-s1
      libmpdec4 media-types tzdata netbase)
apt=$cache/apt-riscv64
mkdir -p "$apt/lists/partial" "$apt/archives/partial"
mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}')
mirror=${mirror:-http://deb.debian.org/debian}
echo "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    > "$apt/sources.list"
: > "$apt/status"
aptopts=(-o APT::Architecture=riscv64 -o APT::Architectures::=riscv64 -o Dir::Etc::sourcelist="$apt/sources.list"
         -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt/lists"
         -o Dir::State::status="$apt/status" -o Dir::Cache="$apt" -o APT::Sandbox::User=root -q)
# The package lists are fetched once a day at most.
if [ -z "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    apt-get "${aptopts[@]}" update -qq
fi
vers=$(for p in "${pkgs[@]}"; do echo "$p=$(apt-cache "${aptopts[@]}" show --no-all-versions "$p" | sed -n 's/^Version: //p' | head -1)"; done)
key=$( { echo "$vers"; } | sha256sum | cut -c1-16)
pdir=$cache/python-$key
if [ ! -f "$pdir/.done" ]; then
    echo "guest: Python runtime from Debian trixie riscv64 packages (cache key $key)" >&2
    rm -rf "$pdir.tmp"; mkdir -p "$pdir.tmp/root" "$pdir.tmp/debs"
    (cd "$pdir.tmp/debs" && apt-get "${aptopts[@]}" download $(echo "$vers" | tr '\n' ' ') >/dev/null)
    for d in "$pdir.tmp"/debs/*.deb; do dpkg-deb -x "$d" "$pdir.tmp/root"; done
    r=$pdir.tmp/root
    rm -rf "$r"/usr/share/doc "$r"/usr/share/man "$r"/usr/share/locale "$r"/usr/share/lintian
    ln -sf python3.13 "$r/usr/bin/python3"
    touch "$pdir.tmp/.done"
    rm -rf "$pdir.tmp/debs" "$pdir"; mv "$pdir.tmp" "$pdir"
fi
# The image: the packages' tree, busybox for /bin/sh, the mount points the agent uses, and the zygote the agent
# starts before it reports ready (python-zygote.py: the snapshot then holds a started Python with its modules).
stage=$out/python-root
rm -rf "$stage"; cp -a "$pdir/root" "$stage"
mkdir -p "$stage"/{bin,fn,proc,dev,tmp,etc,sys}
cp "$out/rootfs/bin/busybox" "$stage/bin/busybox"
for a in sh cat echo ls sleep env; do ln -sf busybox "$stage/bin/$a"; done
[ -e "$stage/lib" ] || ln -s usr/lib "$stage/lib"
install -m 0755 "$here/python-zygote.py" "$stage/etc/wisp-zygote"
rm -f "$out/python.ext4"
mkfs.ext4 -q -F -L wisprt -d "$stage" "$out/python.ext4" "$(( $(du -sk "$stage" | cut -f1) * 3 / 2 + 8192 ))k"
rm -rf "$stage"
echo "guest: $out/python.ext4"
