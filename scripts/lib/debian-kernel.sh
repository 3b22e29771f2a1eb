#!/usr/bin/env bash
# Debian's stock kernel, unpacked once into a cache and reused: the lab's own
# kernel and the Linux test guests' kernel are the same package, the one that
# `linux-image-amd64` depends on. Sourced; defines:
#   mpvm_cache_dir            the project's cache root ($MPVM_CACHE, else
#                             $XDG_CACHE_HOME/mpvm, else ~/.cache/mpvm)
#   debian_kernel [DIR_VAR]   makes sure the kernel is unpacked, sets
#                             KERNEL_DIR (the unpacked package), KERNEL_VER
#                             (e.g. 6.1.0-57-amd64), KERNEL_IMAGE (the bzImage)
#                             and KERNEL_MODULES (lib/modules/VER, depmod'ed).
# Needs apt-get, dpkg-deb and depmod (kmod); downloads only from the
# machine's Debian mirrors.

mpvm_cache_dir() {
	local d=${MPVM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpvm}
	mkdir -p "$d" && echo "$d"
}

# The package name linux-image-amd64 points at, from the apt cache.
debian_kernel_package() {
	local pkg
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
	if [ -z "$pkg" ]; then
		apt-get update -qq >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
	fi
	[ -n "$pkg" ] || { echo "debian-kernel: apt knows no linux-image-amd64 (is a Debian mirror configured?)" >&2; return 1; }
	echo "$pkg"
}

debian_kernel() {
	local pkg root dir tmp
	pkg=$(debian_kernel_package) || return 1
	root=$(mpvm_cache_dir)/kernel
	dir=$root/$pkg
	if [ ! -f "$dir/.complete" ]; then
		echo "debian-kernel: fetching $pkg (Debian package) into $dir" >&2
		mkdir -p "$root"
		tmp=$(mktemp -d "$root/.fetch.XXXXXX")
		# apt-get download writes into the working directory; _apt cannot
		# write to root's cache, which apt reports as a harmless notice.
		if ! (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err"); then
			apt-get update -qq >&2 || true
			(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err") || {
				echo "debian-kernel: apt-get download $pkg failed:" >&2; cat "$tmp/apt.err" >&2
				rm -rf "$tmp"; return 1; }
		fi
		dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root" || { rm -rf "$tmp"; return 1; }
		rm -f "$tmp"/*.deb "$tmp/apt.err"
		local ver
		ver=$(ls "$tmp/root/lib/modules" | head -1)
		depmod -b "$tmp/root" "$ver" || { echo "debian-kernel: depmod failed" >&2; rm -rf "$tmp"; return 1; }
		rm -rf "$dir"
		mv "$tmp/root" "$dir" && rmdir "$tmp"
		touch "$dir/.complete"
	fi
	KERNEL_DIR=$dir
	KERNEL_VER=$(ls "$dir/lib/modules" | head -1)
	KERNEL_IMAGE=$dir/boot/vmlinuz-$KERNEL_VER
	KERNEL_MODULES=$dir/lib/modules/$KERNEL_VER
	[ -f "$KERNEL_IMAGE" ] || { echo "debian-kernel: $KERNEL_IMAGE missing" >&2; return 1; }
}

# modules_in_order DIR VER MOD...: the .ko paths (relative to lib/modules/VER)
# that MODs need, dependencies first, each once.
modules_in_order() {
	local base=$1 ver=$2; shift 2
	local m
	for m in "$@"; do
		modprobe -d "$base" -S "$ver" --show-depends "$m" || { echo "debian-kernel: no module $m" >&2; return 1; }
	done | awk '$1 == "insmod" { sub(".*/lib/modules/[^/]*/", "", $2); if (!seen[$2]++) print $2 }'
}
