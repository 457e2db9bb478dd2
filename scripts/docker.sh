#!/usr/bin/env bash
# Make sure a Docker engine runs (Debian's docker.io; bridge networking off - sandbox containers
# have no network at all) and that the sandbox image is built.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  mkdir -p /var/log
  nohup dockerd --bridge=none --iptables=false >/var/log/dockerd-factory.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null || { echo "error: dockerd did not start; see /var/log/dockerd-factory.log" >&2; exit 1; }
fi
scripts/build_sandbox_image.sh
