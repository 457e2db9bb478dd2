#!/usr/bin/env bash
# Build the code sandbox's Docker image offline: a Debian minbase root file system with
# python3 (debootstrap), imported with `docker import` - no registry needed. The tag carries a
# hash of this recipe, so the image is rebuilt only when the recipe changes; `:current`
# points at the newest build and is what the factory uses by default.
# The packages come from the mirror this machine's apt already uses (so it works behind any
# mirror or proxy), or from SANDBOX_MIRROR if set.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=bookworm

# Each deb source of the machine's apt (one-line and deb822 files, in apt's order) with the
# suite $SUITE or the host's own Debian release and the component main, as "URI SUITE".
apt_sources() {
  local host="" f format
  host=$(. /etc/os-release 2>/dev/null && [[ ${ID:-} == debian ]] && echo "${VERSION_CODENAME:-}") || true
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
    case $f in *.list) format=line ;; *.sources) format=deb822 ;; *) continue ;; esac
    [[ -r $f ]] || continue
    awk -v format="$format" -v want=" $SUITE $host " '
      function emit(uris, suites, comps,   u, s, nu, ns, i, j) {
        if ((" " comps " ") !~ / main /) return
        nu = split(uris, u, " "); ns = split(suites, s, " ")
        for (j = 1; j <= ns; j++) if (index(want, " " s[j] " "))
          for (i = 1; i <= nu; i++) { sub(/\/+$/, "", u[i]); print u[i], s[j] }
      }
      function flush() {
        if ((" " types " ") ~ /[ \t]deb[ \t]/ && enabled !~ /^[ \t]*no[ \t]*$/)
          emit(uris, suites, comps)
        types = uris = suites = comps = enabled = field = ""
      }
      format == "line" {
        sub(/#.*/, "")
        if ($1 != "deb") next
        i = 2
        if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        comps = ""; for (j = i + 2; j <= NF; j++) comps = comps " " $j
        emit($i, $(i + 1), comps); next
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (field == "uris") uris = uris " " $0
                 else if (field == "suites") suites = suites " " $0
                 else if (field == "components") comps = comps " " $0
                 next }
      { field = tolower(substr($0, 1, index($0, ":") - 1)); value = substr($0, index($0, ":") + 1)
        if (field == "types") types = value; else if (field == "uris") uris = value
        else if (field == "suites") suites = value; else if (field == "components") comps = value
        else if (field == "enabled") enabled = tolower(value) }
      END { if (format == "deb822") flush() }' "$f"
  done
}

# The Origin of a source's Release file as apt last fetched it ("" if apt has not).
origin() {
  local name=${1#*://}
  name=${name//\//_}
  cat /var/lib/apt/lists/"${name}_dists_$2_"{InRelease,Release} 2>/dev/null |
    sed -n 's/^Origin: *//p' | head -n 1
}

# The first source apt knows as Debian's own archive; failing that, the first not known to
# be anything else (apt has not fetched it yet). A third-party repository that names the
# same suite (its Origin is not Debian) and the security archive (its own suite) never count.
find_mirror() {
  local uri suite fallback=""
  while read -r uri suite; do
    case $(origin "$uri" "$suite") in
      Debian) echo "$uri"; return 0 ;;
      "") fallback=${fallback:-$uri} ;;
    esac
  done < <(apt_sources)
  [[ -n $fallback ]] && echo "$fallback"
}

recipe=$(cat "$0" | sha256sum | cut -c1-12)
tag="factory-sandbox:$recipe"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" factory-sandbox:current
  echo "$tag"
  exit 0
fi
MIRROR=${SANDBOX_MIRROR:-$(find_mirror)} || true
if [[ -z $MIRROR ]]; then
  echo "build_sandbox_image: no Debian archive for $SUITE (component main) in" \
       "/etc/apt/sources.list or /etc/apt/sources.list.d/; set SANDBOX_MIRROR to a Debian" \
       "mirror's URL" >&2
  exit 1
fi
echo "build_sandbox_image: packages from $MIRROR" >&2
root=$(mktemp -d /tmp/sandbox-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3 "$SUITE" "$root" "$MIRROR" >&2
# Keep the image small and free of package-manager state the sandbox never needs.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
       "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/sh"]' - "$tag" >&2
docker tag "$tag" factory-sandbox:current
echo "$tag"
