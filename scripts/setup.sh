#!/usr/bin/env bash
# Installs what grading needs on Debian (12 or later) or Ubuntu: QEMU,
# bubblewrap, a static busybox, the compiler, the distribution's kernel
# headers, and the kernel image that matches them, unpacked into the
# grader's cache. Safe to run again. (Ubuntu's package names are followed as
# documented, for Gradescope's images; only Debian is tested here.)
set -euo pipefail

cache=${KMODGRADE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kmodgrade}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Debian's kernel packages are linux-headers-amd64 and linux-image-<release>;
# Ubuntu's linux-headers-generic and linux-image-unsigned-<release>.
headers_meta=linux-headers-amd64 image_prefix=linux-image-
if grep -q '^ID=ubuntu' /etc/os-release 2>/dev/null; then
	headers_meta=linux-headers-generic image_prefix=linux-image-unsigned-
fi

packages=(qemu-system-x86 bubblewrap busybox-static "$headers_meta" make gcc binutils util-linux zip unzip)
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
release=$(dpkg-query -W -f='${Depends}' "$headers_meta" | grep -o 'linux-headers-[^ ,]*' | head -n1)
release=${release#linux-headers-}
[ -n "$release" ] || { echo "setup: cannot tell the release of $headers_meta" >&2; exit 1; }

# The image, and the drivers of the guest agent's virtio channel (the image
# package's modules, of which the grader needs only these).
kdir="$cache/kernels/$release"
image="$kdir/vmlinuz-$release"
drivers=(kernel/drivers/virtio kernel/drivers/char/virtio_console.ko)
if [ ! -s "$image" ] || [ ! -d "$kdir/modules" ]; then
	echo "setup: fetching the kernel image for $release"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "$image_prefix$release" 2>/dev/null ||
		{ $sudo apt-get update -qq && apt-get download -qq "$image_prefix$release"; })
	dpkg-deb -x "$tmp"/"$image_prefix$release"_*.deb "$tmp/x"
	mkdir -p "$kdir"
	rm -rf "$kdir/modules.part"
	for d in "${drivers[@]}"; do
		# Absent where the kernel has the driver built in.
		if [ -e "$tmp/x/lib/modules/$release/$d" ]; then
			mkdir -p "$kdir/modules.part/$(dirname "$d")"
			cp -r "$tmp/x/lib/modules/$release/$d" "$kdir/modules.part/$d"
		fi
	done
	mkdir -p "$kdir/modules.part/kernel"
	rm -rf "$kdir/modules"
	mv "$kdir/modules.part" "$kdir/modules"
	cp "$tmp/x/boot/vmlinuz-$release" "$image.part"
	mv "$image.part" "$image"
fi
echo "setup: kernel $release: $image"

# The Go modules, when grading from this checkout (an autograder built by
# gradescope/make-autograder.sh carries the grader built).
if command -v go >/dev/null && [ -f go.mod ]; then
	go mod download
fi
echo "setup: done"
