#!/usr/bin/env bash
# Build the code sandbox's Docker image offline: a Debian minbase root file system with
# python3 (debootstrap), imported with `docker import` - no registry needed. The tag carries a
# hash of this recipe, so the image is rebuilt only when the recipe changes; `:current`
# points at the newest build and is what the factory uses by default.
set -euo pipefail
cd "$(dirname "$0")/.."
MIRROR=${SANDBOX_MIRROR:-http://deb.debian.org/debian}
recipe=$(cat "$0" | sha256sum | cut -c1-12)
tag="factory-sandbox:$recipe"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" factory-sandbox:current
  echo "$tag"
  exit 0
fi
root=$(mktemp -d /tmp/sandbox-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3 bookworm "$root" "$MIRROR" >&2
# Keep the image small and free of package-manager state the sandbox never needs.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
       "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/sh"]' - "$tag" >&2
docker tag "$tag" factory-sandbox:current
echo "$tag"
