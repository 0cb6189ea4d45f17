#!/usr/bin/env bash
# Builds the Kubernetes + Flux lab components from Go modules into a cache outside the repo.
# Idempotent: a component whose versioned binary is already cached is not rebuilt, so a second run
# takes seconds.
#
#   bash lab/k8s/build.sh            build (or reuse) every component, print where each is
#   bash lab/k8s/build.sh NAME...    only these (kube-apiserver kube-controller-manager
#                                         source-controller kustomize-controller, and the
#                                         optional etcd)
#
# Cache layout (${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}):
#   bin/<name>-<version>     the built binary          bin/<name> -> <name>-<version>
#   crds/<name>-<version>/   Flux CRDs of a controller crds/<name> -> <name>-<version>
#   src/                     build modules (k8s wrapper module, copies of the Flux modules)
#
# etcd: the lab uses bin/etcd when `build.sh etcd` built it, else Debian's etcd-server
# (apt-get install -y etcd-server).
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# Newest v1.34 patch the Go module proxy serves (go list -m -versions k8s.io/kubernetes).
K8S_VERSION="v1.34.4"
SOURCE_CONTROLLER_VERSION="v1.9.1"
KUSTOMIZE_CONTROLLER_VERSION="v1.9.4"
# Optional (`build.sh etcd`): a Go-built etcd, preferred by the lab over Debian's 3.4.23 because
# kube-apiserver 1.34's consistent reads from cache and WatchList need etcd >= 3.5.13.
ETCD_VERSION="v3.6.16"

CACHE="${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}"
BIN="$CACHE/bin"
SRC="$CACHE/src"
CRDS="$CACHE/crds"
mkdir -p "$BIN" "$SRC" "$CRDS"

export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
NICE=(nice -n 10)

log() { printf 'k8s-lab build: %s\n' "$*" >&2; }

need_go() {
  command -v go >/dev/null || {
    log "go is not installed; cannot build $1"
    exit 1
  }
}


# Moves a freshly built binary into place atomically and points the stable symlink at it.
install_bin() { # NAME VERSION BUILT_FILE
  local target="$BIN/$1-$2"
  mv -f "$3" "$target"
  ln -sfn "$1-$2" "$BIN/$1"
}

link_cached() { # NAME VERSION -> 0 if cached (symlink refreshed)
  local target="$BIN/$1-$2"
  if [[ -x "$target" ]]; then
    ln -sfn "$1-$2" "$BIN/$1"
    log "$1 $2: cached at $target"
    return 0
  fi
  return 1
}

# --- Kubernetes: a wrapper module that requires k8s.io/kubernetes and pins every staging module ---
k8s_module() { # -> prints the module dir; creates it once
  local dir="$SRC/kubernetes-$K8S_VERSION"
  if [[ -f "$dir/.ready" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi
  need_go kubernetes
  local staging_version="v0.${K8S_VERSION#v1.}"
  local kdir
  kdir="$(module_dir "k8s.io/kubernetes@$K8S_VERSION")" || exit 1
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    printf 'module ksail.local/kube-lab\n\n'
    printf 'go %s\n\n' "$(sed -n 's/^go \(.*\)$/\1/p' "$kdir/go.mod")"
    printf 'require k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    printf 'replace (\n'
    # Every "k8s.io/<x> => ./staging/src/k8s.io/<x>" of kubernetes' own go.mod becomes a
    # replace onto the published staging module of the matching v0 version.
    sed -n 's#^\s*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*$#\1#p' "$kdir/go.mod" |
      while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; done
    printf ')\n'
  } >"$dir/go.mod"
  log "kubernetes $K8S_VERSION: wrapper module with $(grep -c '=>' "$dir/go.mod") staging replaces in $dir"
  (cd "$dir" && "${NICE[@]}" go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" >&2)
  touch "$dir/.ready"
  printf '%s\n' "$dir"
}

build_k8s() { # NAME (cmd under k8s.io/kubernetes/cmd)
  local name="$1"
  link_cached "$name" "$K8S_VERSION" && return 0
  need_go "$name"
  local start=$SECONDS dir tmp
  log "$name $K8S_VERSION: building k8s.io/kubernetes/cmd/$name (nice 10, CGO_ENABLED=0, -trimpath, -s -w)"
  dir="$(k8s_module)"
  tmp="$(mktemp "$BIN/.$name.XXXXXX")"
  local major="${K8S_VERSION#v}"
  major="${major%%.*}"
  local minor="${K8S_VERSION#v*.}"
  minor="${minor%%.*}"
  local ver_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
  local ldflags="-s -w" p
  for p in "${ver_pkgs[@]}"; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ldflags+=" -X $p.gitTreeState=clean"
  done
  (cd "$dir" && "${NICE[@]}" go build -mod=mod -ldflags "$ldflags" -o "$tmp" "k8s.io/kubernetes/cmd/$name") || {
    rm -f "$tmp"
    log "$name: build failed"
    exit 1
  }
  install_bin "$name" "$K8S_VERSION" "$tmp"
  log "$name $K8S_VERSION: built in $(elapsed "$start") -> $BIN/$name-$K8S_VERSION"
}

# --- Flux controllers: copy the downloaded module, drop only the "=> ./api" replace, build ---
build_flux() { # NAME VERSION
  local name="$1" version="$2" module="github.com/fluxcd/$1"
  local crd_dir="$CRDS/$name-$version"
  if link_cached "$name" "$version" && [[ -d "$crd_dir" ]]; then
    ln -sfn "$name-$version" "$CRDS/$name"
    return 0
  fi
  need_go "$name"
  local start=$SECONDS mdir dir tmp
  log "$name $version: building $module@$version (nice 10, CGO_ENABLED=0, -trimpath, -s -w)"
  mdir="$(module_dir "$module@$version")" || exit 1
  # CRDs first: they are needed even when the binary is cached.
  rm -rf "$crd_dir"
  mkdir -p "$crd_dir"
  cp "$mdir"/config/crd/bases/*.yaml "$crd_dir/"
  chmod -R u+w "$crd_dir"
  ln -sfn "$name-$version" "$CRDS/$name"
  if [[ ! -x "$BIN/$name-$version" ]]; then
    dir="$SRC/$name-$version"
    rm -rf "$dir"
    cp -r "$mdir" "$dir"
    chmod -R u+w "$dir"
    # The module zip leaves the nested api module out; go.mod already requires its published
    # version, so only that replace goes. The other replaces (go-digest, kustomize, yaml) stay.
    (cd "$dir" && go mod edit -dropreplace="$module/api")
    tmp="$(mktemp "$BIN/.$name.XXXXXX")"
    (cd "$dir" && "${NICE[@]}" go build -mod=mod -ldflags "-s -w" -o "$tmp" .) || {
      rm -f "$tmp"
      log "$name: build failed"
      exit 1
    }
    install_bin "$name" "$version" "$tmp"
    log "$name $version: built in $(elapsed "$start") -> $BIN/$name-$version"
  fi
}

# --- etcd (optional): same recipe as Flux, dropping the "=> ../<module>" replaces ---
# `etcd@vX.Y.Z` builds another version (the Kind node image needs the one kubeadm pins) into
# bin/etcd-vX.Y.Z without moving the bin/etcd symlink the process lab uses.
build_etcd() { # [VERSION]
  local name=etcd version="${1:-$ETCD_VERSION}" module="go.etcd.io/etcd/server/v3"
  if [[ -n "${1:-}" ]]; then
    [[ -x "$BIN/$name-$version" ]] && log "$name $version: cached at $BIN/$name-$version" && return 0
  else
    link_cached "$name" "$version" && return 0
  fi
  need_go "$name"
  local start=$SECONDS mdir dir tmp r
  log "$name $version: building $module@$version (nice 10, CGO_ENABLED=0, -trimpath, -s -w)"
  mdir="$(module_dir "$module@$version")" || exit 1
  dir="$SRC/$name-$version"
  rm -rf "$dir"
  cp -r "$mdir" "$dir"
  chmod -R u+w "$dir"
  # The sibling modules (api, client, pkg) are required at their published versions.
  for r in $(sed -n 's#^\s*\(go\.etcd\.io/[^ ]*\) => \.\./.*$#\1#p' "$dir/go.mod"); do
    (cd "$dir" && go mod edit -dropreplace="$r")
  done
  # Its toolchain line may name a newer patch than the local Go; the go line is what matters.
  (cd "$dir" && go mod edit -toolchain=none)
  tmp="$(mktemp "$BIN/.$name.XXXXXX")"
  (cd "$dir" && "${NICE[@]}" go build -mod=mod -ldflags "-s -w" -o "$tmp" .) || {
    rm -f "$tmp"
    log "$name: build failed"
    exit 1
  }
  if [[ -n "${1:-}" ]]; then
    mv -f "$tmp" "$BIN/$name-$version"
  else
    install_bin "$name" "$version" "$tmp"
  fi
  log "$name $version: built in $(elapsed "$start") -> $BIN/$name-$version"
}

check_etcd() {
  if [[ -x "$BIN/etcd" ]]; then
    log "etcd: $("$BIN/etcd" --version 2>/dev/null | head -1) at $BIN/etcd (Go-built; preferred by the lab)"
    return 0
  fi
  if command -v etcd >/dev/null; then
    log "etcd: $(etcd --version 2>/dev/null | head -1) at $(command -v etcd) (Debian etcd-server)"
  else
    log "etcd is not installed: run 'apt-get install -y etcd-server' (Debian's 3.4.23 works)"
    return 1
  fi
}

ALL=(kube-apiserver kube-controller-manager source-controller kustomize-controller etcd)
WANT=("$@")
[[ ${#WANT[@]} -gt 0 ]] || WANT=("${ALL[@]}")

total=$SECONDS
status=0
for name in "${WANT[@]}"; do
  case "$name" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy | kubelet | kubeadm | kubectl)
      build_k8s "$name"
      ;;
    source-controller) build_flux "$name" "$SOURCE_CONTROLLER_VERSION" ;;
    kustomize-controller) build_flux "$name" "$KUSTOMIZE_CONTROLLER_VERSION" ;;
    etcd) build_etcd ;;
    etcd@v*) build_etcd "${name#etcd@}" ;;
    *)
      log "unknown component '$name' (known: ${ALL[*]})"
      exit 2
      ;;
  esac
done
check_etcd || status=1
log "done in $(elapsed "$total"); binaries in $BIN, CRDs in $CRDS"
exit "$status"
