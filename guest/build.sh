#!/usr/bin/env bash
# Build the wisp guest (Linux Image + busybox initrd + ext4 rootfs) from Debian's own sources.
# Usage: guest/build.sh OUTDIR     (artifacts: OUTDIR/Image, OUTDIR/initrd.cpio.gz, OUTDIR/rootfs.ext4)
# Everything slow is cached under ${WISP_CACHE:-~/.cache/wisp}, keyed by a hash of its inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-build/guest}" && cd "${1:-build/guest}" && pwd)
cache=${WISP_CACHE:-$HOME/.cache/wisp}
jobs=$(nproc)
cross=riscv64-linux-gnu-
mkdir -p "$cache"

need() { command -v "$1" >/dev/null 2>&1 || { echo "guest/build.sh: missing $1 (run .ci/setup)" >&2; exit 1; }; }
need ${cross}gcc; need mkfs.ext4; need cpio

pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }

# ---- kernel -------------------------------------------------------------------------------
ksrc=/usr/src/linux-source-6.1.tar.xz
[ -f "$ksrc" ] || { echo "guest/build.sh: $ksrc missing (apt-get install linux-source-6.1)" >&2; exit 1; }
kkey=$( { pkgver linux-source-6.1; pkgver gcc-riscv64-linux-gnu; cat "$here/kernel.config"; } | sha256sum | cut -c1-16)
kdir=$cache/kernel-$kkey
if [ ! -f "$kdir/Image" ] || [ ! -f "$kdir/System.map" ]; then
    echo "guest: building Linux Image (cache key $kkey), takes minutes on 2 cores" >&2
    tree=$cache/linux-src-$(pkgver linux-source-6.1)
    if [ ! -f "$tree/.extracted" ]; then
        rm -rf "$tree"; mkdir -p "$tree"
        tar -xf "$ksrc" -C "$tree" --strip-components=1
        touch "$tree/.extracted"
    fi
    obj=$cache/kobj-$kkey
    rm -rf "$obj"; mkdir -p "$obj"
    kmake() { make -s -C "$tree" O="$obj" ARCH=riscv CROSS_COMPILE=$cross -j"$jobs" "$@"; }
    kmake tinyconfig >/dev/null
    (cd "$tree" && ARCH=riscv scripts/kconfig/merge_config.sh -m -O "$obj" "$obj/.config" "$here/kernel.config" >/dev/null)
    kmake olddefconfig >/dev/null
    # Check that every option we asked for survived olddefconfig.
    while IFS= read -r line; do
        case "$line" in CONFIG_*=y) grep -qx "$line" "$obj/.config" || echo "guest: warning: $line not set" >&2;; esac
    done < "$here/kernel.config"
    kmake Image
    mkdir -p "$kdir.tmp"
    cp "$obj/arch/riscv/boot/Image" "$obj/.config" "$obj/System.map" "$kdir.tmp/"
    gcc -O2 -o "$kdir.tmp/gen_init_cpio" "$tree/usr/gen_init_cpio.c"
    rm -rf "$kdir"; mv "$kdir.tmp" "$kdir"
    rm -rf "$obj"
fi

# ---- busybox ------------------------------------------------------------------------------
bkey=$( { pkgver gcc-riscv64-linux-gnu; pkgver libc6-dev-riscv64-cross; cat "$here/busybox.fragment"; } | sha256sum | cut -c1-16)
bdir=$cache/busybox-$bkey
if [ ! -f "$bdir/busybox" ]; then
    echo "guest: building busybox from apt-get source (cache key $bkey)" >&2
    apt=$cache/apt
    mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/src"
    mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    cat > "$apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
SRC
    aptopts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=- \
             -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt" -o APT::Sandbox::User=root)
    if ! ls -d "$apt"/src/busybox-*/ >/dev/null 2>&1; then
        apt-get "${aptopts[@]}" update -qq
        (cd "$apt/src" && apt-get "${aptopts[@]}" source -qq --download-only busybox \
            && dpkg-source -x --no-check busybox_*.dsc >/dev/null)
    fi
    bsrc=$(ls -d "$apt"/src/busybox-*/ | head -1)
    bobj=$cache/bbobj-$bkey
    rm -rf "$bobj"; mkdir -p "$bobj"
    bmake() { make -s -C "$bsrc" O="$bobj" CROSS_COMPILE=$cross -j"$jobs" "$@"; }
    bmake defconfig >/dev/null
    while IFS= read -r line; do
        case "$line" in
            \#*|"") ;;
            *=*) key=${line%%=*}; val=${line#*=}
                 sed -i -e "/^$key=/d" -e "/^# $key is not set/d" "$bobj/.config"
                 if [ "$val" = n ]; then echo "# $key is not set"; else echo "$line"; fi >> "$bobj/.config";;
        esac
    done < "$here/busybox.fragment"
    { yes "" || true; } | bmake oldconfig >/dev/null
    bmake busybox busybox.links >/dev/null
    mkdir -p "$bdir.tmp"; cp "$bobj/busybox" "$bobj/busybox.links" "$bdir.tmp/"
    rm -rf "$bdir"; mv "$bdir.tmp" "$bdir"; rm -rf "$bobj"
fi

# ---- guest tools: every guest/tools/*.c, static, into /usr/bin (tests and benchmarks) -------------
tkey=$( { pkgver gcc-riscv64-linux-gnu; pkgver libc6-dev-riscv64-cross; cat "$here"/tools/*.c; ls "$here"/tools; } \
        | sha256sum | cut -c1-16)
tdir=$cache/tools-$tkey
if [ ! -f "$tdir/.done" ]; then
    echo "guest: building guest tools (cache key $tkey)" >&2
    rm -rf "$tdir.tmp"; mkdir -p "$tdir.tmp"
    for src in "$here"/tools/*.c; do
        ${cross}gcc -static -Os -s -Wall -Wextra -Werror -o "$tdir.tmp/$(basename "$src" .c)" "$src"
    done
    touch "$tdir.tmp/.done"
    rm -rf "$tdir"; mv "$tdir.tmp" "$tdir"
fi

# ---- initrd and rootfs (cheap: rebuilt every time from the cached pieces) --------------------
cp "$kdir/Image" "$out/Image"
root=$out/rootfs
rm -rf "$root"; mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,mnt}
cp "$bdir/busybox" "$root/bin/busybox"
for t in "$tdir"/*; do install -m 0755 "$t" "$root/usr/bin/"; done
install -m 0644 "$here/inittab" "$root/etc/inittab"
install -m 0755 "$here/rcS" "$root/etc/rcS"
# root has no password: a test VM; getty on hvc0 (--vconsole) logs in with just "root".
printf 'root::0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
spec=$out/initrd.spec
{
    echo "dir /dev 0755 0 0"
    echo "nod /dev/console 0600 0 0 c 5 1"
    echo "nod /dev/null 0666 0 0 c 1 3"
    echo "slink /init /bin/busybox 0777 0 0"
    echo "slink /sbin/init /bin/busybox 0777 0 0"
    (cd "$root" && find . -mindepth 1 | sort | while read -r p; do
        p=${p#.}
        if [ -d "$root$p" ]; then echo "dir $p 0755 0 0"
        else echo "file $p $root$p $(stat -c %a "$root$p") 0 0"; fi
    done)
    for a in $(sed "s,^/,," "$bdir/busybox.links"); do
        echo "slink /$a /bin/busybox 0777 0 0"
    done
} | awk '!seen[$2]++' > "$spec"
"$kdir/gen_init_cpio" "$spec" | gzip -9 > "$out/initrd.cpio.gz"
# ext4 root filesystem with the same userland (mkfs.ext4 -d: no root privileges needed).
for a in $(sed "s,^/,," "$bdir/busybox.links"); do ln -sf /bin/busybox "$root/$a"; done
ln -sf /bin/busybox "$root/sbin/init"
rm -f "$out/rootfs.ext4"
mkfs.ext4 -q -F -L wisproot -d "$root" "$out/rootfs.ext4" 64M
echo "guest: $out/Image $out/initrd.cpio.gz $out/rootfs.ext4"
