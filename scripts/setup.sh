#!/usr/bin/env bash
# Installs what grading needs on Debian (12 or later): QEMU, bubblewrap, a
# static busybox, the compiler, Debian's kernel headers, and the kernel image
# that matches them, unpacked into the grader's cache. Safe to run again.
set -euo pipefail

cache=${KMODGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kmodgrade}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

packages=(qemu-system-x86 bubblewrap busybox-static linux-headers-amd64 make gcc binutils util-linux)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The headers package depends on the versioned one, such as
# linux-headers-6.1.0-57-amd64: that names the release whose image we need.
release=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 | grep -o 'linux-headers-[^ ,]*' | head -n1)
release=${release#linux-headers-}
[ -n "$release" ] || { echo "setup: cannot tell the release of linux-headers-amd64" >&2; exit 1; }

image="$cache/kernels/$release/vmlinuz-$release"
if [ ! -s "$image" ]; then
	echo "setup: fetching the kernel image for $release"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "linux-image-$release" 2>/dev/null ||
		{ $sudo apt-get update -qq && apt-get download -qq "linux-image-$release"; })
	dpkg-deb -x "$tmp"/linux-image-"$release"_*.deb "$tmp/x"
	mkdir -p "$(dirname "$image")"
	cp "$tmp/x/boot/vmlinuz-$release" "$image.part"
	mv "$image.part" "$image"
fi
echo "setup: kernel $release: $image"

go mod download
echo "setup: done"
