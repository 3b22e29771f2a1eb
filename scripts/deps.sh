#!/usr/bin/env bash
# Install mpvm's build and test dependencies from Debian packages (Debian 12).
# Idempotent: skips apt when everything is already there. What each is for:
# README "Dependencies". The KVM lab (scripts/kvm-lab.sh) also downloads the
# kernel package that linux-image-amd64 depends on, with apt-get download.
set -euo pipefail
PKGS=(build-essential cmake pkg-config gcc-multilib clang libclang-rt-14-dev
      libcjson-dev liburing-dev check libseccomp-dev zlib1g-dev
      qemu-system-x86 curl iproute2 busybox-static cpio python3
      kmod acpica-tools e2fsprogs)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "deps: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
