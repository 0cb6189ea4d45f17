#!/usr/bin/env bash
# Builds the Go peer tools used by the benchmarks and lab tests from the Go module proxy into a
# cache outside the repo. Idempotent: a binary that is already in the cache is not rebuilt.
#
#   lab/go-tools.sh                 build (or reuse) every tool, print where each one is
#   lab/go-tools.sh NAME...         only these tools (crane, oras, registry, kind, flux, cosign, sops)
#   lab/go-tools.sh --print-path NAME
#                                        print the cached binary path of NAME (exit 1 if absent)
#   lab/go-tools.sh --list          print "name version path" for every tool
#
# Cache: ${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}/bin/<name>-<version>, plus a stable symlink
# bin/<name> pointing at the pinned version. Tools whose go.mod has replace directives cannot be
# `go install`ed; they are built from a copy of their module in src/<name>-<version>/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CACHE="${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}"
BIN="$CACHE/bin"

# name | package path of the main package | pinned version [| module path: build from a copy]
TOOLS=(
  "crane|github.com/google/go-containerregistry/cmd/crane|v0.22.1"
  "oras|oras.land/oras/cmd/oras|v1.3.6"
  # cmd/registry of distribution v3 is what the official registry:3 image runs.
  "registry|github.com/distribution/distribution/v3/cmd/registry|v3.0.0"
  # kind v0.30.0: the newest release that still supports cgroup v1 hosts; its config loader
  # checks ksail's generated kind.yaml (test/integration/cluster-kind-config.test.ts).
  "kind|sigs.k8s.io/kind|v0.30.0"
  # The Flux CLI, the peer of `ksail workload reconcile` (bench/reconcile.mjs). Its go.mod has a
  # replace directive (gopkg.in/yaml.v3), so `go install` refuses it: build from a module copy.
  "flux|github.com/fluxcd/flux2/v2/cmd/flux|v2.9.5|github.com/fluxcd/flux2/v2"
  # The cosign CLI, the peer of ksail's artifact signing (src/sign, test/integration/sign-cosign.test.ts):
  # it signs and verifies in the same key-based format. A big build (~1 GB of modules).
  "cosign|github.com/sigstore/cosign/v2/cmd/cosign|v2.6.5"
  # The sops CLI, the oracle of ksail's SOPS format (src/secrets, test/integration/secrets-sops.test.ts):
  # each decrypts what the other encrypted.
  "sops|github.com/getsops/sops/v3/cmd/sops|v3.13.3"
)

tmp_build=""
trap '[[ -n "$tmp_build" ]] && rm -rf "$tmp_build"' EXIT

log() { printf 'go-tools: %s\n' "$*" >&2; }

lookup() { # NAME -> "name|pkg|version" or fail
  local t
  for t in "${TOOLS[@]}"; do
    if [[ "${t%%|*}" == "$1" ]]; then
      printf '%s\n' "$t"
      return 0
    fi
  done
  log "unknown tool '$1' (known: crane oras registry kind flux cosign sops)"
  return 1
}

target_path() { # NAME VERSION
  printf '%s/%s-%s\n' "$BIN" "$1" "$2"
}

# Builds PKG from a copy of MODULE@VERSION (for modules with replace directives, as in LAB.md):
# the copy is the main module, so its replaces apply. Writes the binary to OUT.
build_from_copy() { # NAME PKG VERSION MODULE OUT
  local name="$1" pkg="$2" version="$3" module="$4" out="$5" mdir dir ldflags='-s -w'
  mdir="$(module_dir "$module@$version")" || return 1
  dir="$CACHE/src/$name-$version"
  rm -rf "$dir"
  mkdir -p "$CACHE/src"
  cp -r "$mdir" "$dir" && chmod -R u+w "$dir" || return 1
  if [[ "$name" == flux ]]; then
    # cmd/flux embeds manifests/*.yaml, which `make` generates with kustomize from remote bases
    # and the module zip leaves out. They only feed `flux install`/`bootstrap`; a placeholder
    # lets the rest of the CLI build. VERSION is what `flux version --client` prints.
    mkdir -p "$dir/cmd/flux/manifests"
    printf '# placeholder: embedded install manifests are not built here (lab/go-tools.sh)\n' \
      >"$dir/cmd/flux/manifests/placeholder.yaml"
    ldflags="$ldflags -X main.VERSION=${version#v}"
  fi
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" \
    nice -n 10 go build -mod=mod -trimpath -ldflags="$ldflags" -o "$out" "./${pkg#"$module"/}")
}

build_one() { # "name|pkg|version[|module]"
  local name pkg version module target
  IFS='|' read -r name pkg version module <<<"$1"
  target="$(target_path "$name" "$version")"
  if [[ -x "$target" ]]; then
    log "$name $version: cached at $target"
  else
    command -v go >/dev/null || {
      log "go is not installed; cannot build $name"
      return 1
    }
    log "$name $version: building $pkg@$version -> $target"
    local tmp start
    tmp="$(mktemp -d "$CACHE/tmp.XXXXXX")"
    tmp_build="$tmp"
    start=$SECONDS
    # go install puts the binary under GOBIN with the package's base name; build into a private
    # GOBIN so that a concurrent or interrupted run never leaves a half-written cached binary.
    if [[ -n "$module" ]]; then
      build_from_copy "$name" "$pkg" "$version" "$module" "$tmp/$(basename "$pkg")"
    else
      CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false}" \
        nice -n 10 go install -trimpath -ldflags='-s -w' "$pkg@$version"
    fi || {
      rm -rf "$tmp"
      log "$name $version: build FAILED"
      return 1
    }
    mv -f "$tmp/$(basename "$pkg")" "$target"
    rm -rf "$tmp"
    tmp_build=""
    log "$name $version: built in $((SECONDS - start)) s"
  fi
  ln -sfn "$(basename "$target")" "$BIN/$name"
}

case "${1:-}" in
  --print-path)
    [[ $# -eq 2 ]] || {
      log "usage: $0 --print-path NAME"
      exit 2
    }
    t="$(lookup "$2")" || exit 2
    IFS='|' read -r name _ version _ <<<"$t"
    p="$(target_path "$name" "$version")"
    [[ -x "$p" ]] || {
      log "$name $version is not built yet (run $0 $name)"
      exit 1
    }
    printf '%s\n' "$p"
    exit 0
    ;;
  --list)
    for t in "${TOOLS[@]}"; do
      IFS='|' read -r name _ version _ <<<"$t"
      printf '%s %s %s\n' "$name" "$version" "$(target_path "$name" "$version")"
    done
    exit 0
    ;;
  -h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

mkdir -p "$BIN"
selected=()
if [[ $# -gt 0 ]]; then
  for n in "$@"; do
    t="$(lookup "$n")" || exit 2
    selected+=("$t")
  done
else
  selected=("${TOOLS[@]}")
fi

rc=0
for t in "${selected[@]}"; do
  build_one "$t" || rc=1
done
for t in "${selected[@]}"; do
  IFS='|' read -r name _ version _ <<<"$t"
  p="$(target_path "$name" "$version")"
  [[ -x "$p" ]] && printf '%s %s %s\n' "$name" "$version" "$p"
done
exit "$rc"
