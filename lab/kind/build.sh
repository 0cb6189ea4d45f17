#!/usr/bin/env bash
# Builds a Kind node image for Kubernetes v1.34 on this machine, where no image can be pulled:
#
#   1. Go-built binaries (lab/k8s/build.sh): kubelet, kubeadm, kubectl, kube-apiserver,
#      kube-controller-manager, kube-scheduler, kube-proxy, etcd at the version kubeadm pins, and
#      the Flux controllers; CoreDNS from its Go module; pause from the C source in the
#      k8s.io/kubernetes module.
#   2. A base image in the shape of kind's images/base: a Debian bookworm rootfs (debootstrap)
#      with systemd, Debian's containerd, runc and CNI plugins, iptables, conntrack, socat, plus
#      kind's own base files (entrypoint, systemd units, containerd config) taken from the
#      sigs.k8s.io/kind module of the kind release the lab runs.
#   3. Minimal component images around those binaries, tagged with the names kubeadm asks for
#      (`kubeadm config images list`) and the names Flux's manifests reference.
#   4. The node image, assembled the way `kind build node-image` does it: binaries in /usr/bin,
#      /kind/version, the CNI manifest, and every component image imported into the node's
#      containerd (namespace k8s.io, pinned, not unpacked), then `docker commit`.
#
# Everything lives in the lab dockerd (lab/kind/dockerd.sh) whose data root is cached in
# ${KSAIL_LAB_CACHE:-~/.cache/ksail-lab}/kind/docker; a recipe hash labels the node image, so a
# second run only checks and exits. Cold: the Go builds (~15 min on 2 cores beyond the Flux lab),
# debootstrap (~1 min), images (~1 min).
#
#   bash lab/kind/build.sh          build (or reuse) the node image; prints its tag
#   KSAIL_KIND_REBUILD=1 bash ...        rebuild the images even if the recipe is unchanged
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}"
BIN="$CACHE/bin"
WORK="$CACHE/kind"

K8S_VERSION="v1.34.4" # the same as lab/k8s/build.sh
KIND_VERSION="v0.30.0" # the kind CLI the lab runs (lab/go-tools.sh)
ETCD_IMAGE_VERSION="3.6.5-0"
COREDNS_VERSION="v1.12.1"
CRICTL_VERSION="v1.34.0" # cri-tools release of Kubernetes 1.34 (kind's base ships crictl too)
PAUSE_VERSION="3.10.1"
SOURCE_CONTROLLER_VERSION="v1.9.1"
KUSTOMIZE_CONTROLLER_VERSION="v1.9.4"
NODE_IMAGE="ksail-lab/kind-node:$K8S_VERSION"
BASE_IMAGE="ksail-lab/kind-base:bookworm"
ROOTFS_IMAGE="ksail-lab/debian-rootfs:bookworm"
DEBIAN_MIRROR="${KSAIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What kind's images/base installs, with Debian's containerd, runc and CNI plugins in place of
# the ones kind compiles, and socat (kubectl port-forward).
NODE_PACKAGES="systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,conntrack,socat"

export PATH="$PATH:/usr/sbin:/sbin"
log() { printf 'kind-lab build: %s\n' "$*" >&2; }
fail() {
  log "$*"
  exit 1
}
need() { # COMMAND APT_PACKAGE
  command -v "$1" >/dev/null || fail "$1 is missing: run 'apt-get install -y $2'"
}

need go golang
need gcc gcc
need debootstrap debootstrap
need docker docker.io
need jq jq
need setcap libcap2-bin
mkdir -p "$WORK"
total=$SECONDS


# --- 1. binaries ---------------------------------------------------------------------------
bash "$REPO/lab/k8s/build.sh" kubelet kubeadm kubectl kube-apiserver kube-controller-manager \
  kube-scheduler kube-proxy source-controller kustomize-controller "etcd@v${ETCD_IMAGE_VERSION%-*}"

# go_install NAME VERSION PACKAGE [LDFLAGS]: `go install PACKAGE@VERSION` into bin/NAME-VERSION.
go_install() {
  local name="$1" version="$2" package="$3" ldflags="-s -w ${4:-}" start=$SECONDS gobin
  [[ -x "$BIN/$name-$version" ]] && return 0
  log "$name $version: building $package (CGO_ENABLED=0)"
  gobin="$(mktemp -d "$WORK/.gobin.XXXXXX")"
  CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS="-trimpath -buildvcs=false" nice -n 10 \
    go install -ldflags "$ldflags" "$package@$version"
  mv -f "$gobin/$name" "$BIN/$name-$version"
  rm -rf "$gobin"
  log "$name: built in $(elapsed "$start")"
}
coredns="$BIN/coredns-$COREDNS_VERSION"
go_install coredns "$COREDNS_VERSION" github.com/coredns/coredns
crictl="$BIN/crictl-$CRICTL_VERSION"
go_install crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl \
  "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"

pause="$BIN/pause-$PAUSE_VERSION"
if [[ ! -x "$pause" ]]; then
  kdir="$(module_dir "k8s.io/kubernetes@$K8S_VERSION")" || exit 1
  grep -q "^TAG ?= $PAUSE_VERSION$" "$kdir/build/pause/Makefile" ||
    fail "k8s.io/kubernetes@$K8S_VERSION does not build pause $PAUSE_VERSION (see its build/pause/Makefile)"
  # The flags of build/pause/Makefile.
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-ksail-lab" -o "$pause.tmp" \
    "$kdir/build/pause/linux/pause.c"
  mv -f "$pause.tmp" "$pause"
  log "pause $PAUSE_VERSION: compiled from k8s.io/kubernetes@$K8S_VERSION build/pause/linux/pause.c"
fi

kind_dir="$(module_dir "sigs.k8s.io/kind@$KIND_VERSION")" || exit 1
kind_files="$kind_dir/images/base/files"
[[ -x "$kind_files/usr/local/bin/entrypoint" || -f "$kind_files/usr/local/bin/entrypoint" ]] ||
  fail "sigs.k8s.io/kind@$KIND_VERSION has no images/base/files/usr/local/bin/entrypoint"

# The recipe: this script, the runc wrapper and every input version. A node image carrying the
# same hash is current.
recipe="$(cat "$0" "$HERE/default-cni.yaml" "$HERE/iptables-wrapper.sh" |
  sha256sum | cut -c1-16)"

# The lab dockerd is left as it was found: stopped again at the end if this script started it.
started_dockerd=""
bash "$HERE/dockerd.sh" host >/dev/null 2>&1 || started_dockerd=1
export DOCKER_HOST
DOCKER_HOST="$(bash "$HERE/dockerd.sh" start)"
log "lab dockerd at $DOCKER_HOST"

current="$(docker image inspect --format '{{index .Config.Labels "dev.ksail.lab.recipe"}}' \
  "$NODE_IMAGE" 2>/dev/null || true)"
if [[ "$current" == "$recipe" && -z "${KSAIL_KIND_REBUILD:-}" ]]; then
  log "$NODE_IMAGE (recipe $recipe) is current; done in $(elapsed "$total")"
  [[ -z "$started_dockerd" ]] || bash "$HERE/dockerd.sh" stop
  printf '%s\n' "$NODE_IMAGE"
  exit 0
fi

ctx="$(mktemp -d "$WORK/.ctx.XXXXXX")"
build_container=""
cleanup() {
  rm -rf "$ctx"
  [[ -n "$build_container" ]] && docker rm -f -v "$build_container" >/dev/null 2>&1
  [[ -z "$started_dockerd" ]] || bash "$HERE/dockerd.sh" stop
}
trap cleanup EXIT

# --- 2. base image ---------------------------------------------------------------------------
rootfs_tar="$WORK/rootfs-bookworm-$(printf '%s' "$NODE_PACKAGES" | sha256sum | cut -c1-12).tar"
if [[ ! -f "$rootfs_tar" ]]; then
  start=$SECONDS
  log "debootstrap bookworm (minbase + $NODE_PACKAGES) from $DEBIAN_MIRROR"
  rootfs="$WORK/.rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$NODE_PACKAGES" bookworm "$rootfs" "$DEBIAN_MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 20 "$WORK/debootstrap.log" >&2
    fail "debootstrap failed (log: $WORK/debootstrap.log)"
  }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$rootfs_tar.tmp" .
  mv -f "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$rootfs"
  log "rootfs: $(du -h "$rootfs_tar" | cut -f1) in $(elapsed "$start")"
fi
docker import "$rootfs_tar" "$ROOTFS_IMAGE" >/dev/null

mkdir -p "$ctx/base"
cp -r "$kind_files" "$ctx/base/files"
chmod -R u+w,go+r "$ctx/base/files"
cat >"$ctx/base/Dockerfile" <<EOF
FROM $ROOTFS_IMAGE
COPY files/ /
# The steps of kind's images/base/Dockerfile, on Debian's containerd/runc/CNI packages: kind's
# units and entrypoint expect containerd in /usr/local/bin and the CNI plugins in /opt/cni/bin.
# Two changes to kind's containerd config: the sandbox image is the pause kubeadm $K8S_VERSION
# lists, and restrict_oom_score_adj is on (as kind sets it for rootless nodes), because lowering a
# process's oom_score_adj needs CAP_SYS_RESOURCE, which this VM's nodes cannot have: without it
# runc fails every pod with "failed to update /proc/self/oom_score_adj: Permission denied".
RUN chmod 0755 /usr/local/bin/* /kind/bin /kind/bin/* \\
 && ln -sf /usr/bin/containerd /usr/local/bin/containerd \\
 && ln -sf /usr/bin/ctr /usr/local/bin/ctr \\
 && ln -sf /usr/bin/containerd-shim-runc-v2 /usr/local/bin/containerd-shim-runc-v2 \\
 && mkdir -p /opt/cni && ln -sfn /usr/lib/cni /opt/cni/bin \\
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests \\
 && sed -i 's#registry.k8s.io/pause:[0-9.]*#registry.k8s.io/pause:$PAUSE_VERSION#' /etc/containerd/config.toml \\
 && sed -i 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' /etc/containerd/config.toml \\
 && grep -q 'restrict_oom_score_adj = true' /etc/containerd/config.toml \\
 && ctr oci spec \\
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
EOF
log "base image $BASE_IMAGE (kind $KIND_VERSION images/base files)"
DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$ctx/base" >/dev/null

# --- 3. component images -----------------------------------------------------------------------
# image_of TAG FROM FILE:DEST[:FILE_CAPABILITIES]... -- DOCKERFILE_LINES...
# FROM scratch: the files are laid out as a rootfs and `docker import`ed (one layer; the tar keeps
# file capabilities, which the legacy builder's COPY drops), the lines become --change options.
# Otherwise a Dockerfile build on top of FROM.
image_of() {
  local tag="$1" from="$2" dir
  shift 2
  dir="$(mktemp -d "$ctx/img.XXXXXX")"
  mkdir "$dir/rootfs"
  printf 'FROM %s\n' "$from" >"$dir/Dockerfile"
  local spec src dest caps
  while [[ $# -gt 0 && "$1" != "--" ]]; do
    spec="$1"
    shift
    IFS=: read -r src dest caps <<<"$spec"
    mkdir -p "$dir/rootfs$(dirname "$dest")"
    cp -L "$src" "$dir/rootfs$dest"
    [[ -z "$caps" ]] || setcap "$caps" "$dir/rootfs$dest"
  done
  [[ "${1:-}" == "--" ]] && shift
  local lines=("$@" "LABEL dev.ksail.lab.recipe=$recipe")
  if [[ "$from" == scratch ]]; then
    local changes=() line
    for line in "${lines[@]}"; do changes+=(--change "$line"); done
    tar --xattrs --xattrs-include='security.capability' -C "$dir/rootfs" -c . |
      docker import "${changes[@]}" - "$tag" >/dev/null
  else
    printf 'COPY rootfs/ /\n' >>"$dir/Dockerfile"
    printf '%s\n' "${lines[@]}" >>"$dir/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q --no-cache -t "$tag" "$dir" >/dev/null
  fi
  log "image $tag"
}

path_env='ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  image_of "registry.k8s.io/$c:$K8S_VERSION" scratch "$BIN/$c-$K8S_VERSION:/usr/local/bin/$c" -- \
    "$path_env" "ENTRYPOINT [\"/usr/local/bin/$c\"]"
done
# kube-proxy drives iptables. Like its upstream image (distroless + iptables), it gets only what
# that needs: Debian's xtables binaries (legacy and nft) with their libraries and extensions,
# conntrack, and busybox for the wrapper that follows the node's back end. Small on purpose: the
# node unpacks it when kube-proxy first starts, and until kube-proxy's rules exist, pods that
# dial the API server's service address hang.
proxy_dir="$(mktemp -d "$ctx/kube-proxy.XXXXXX")"
docker run --rm --entrypoint /bin/bash "$ROOTFS_IMAGE" -c '
  set -eo pipefail
  bins="/usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi /usr/sbin/conntrack"
  mods=$(ls /usr/lib/x86_64-linux-gnu/xtables/*.so)
  libs=$(ldd $bins $mods | awk "/=> \// {print \$3} /ld-linux/ && !/=>/ {print \$1}" | sort -u)
  tar -ch $bins $libs /usr/lib/x86_64-linux-gnu/xtables /etc/protocols 2>/dev/null
' | tar -x -C "$proxy_dir"
mkdir -p "$proxy_dir/bin" "$proxy_dir/usr/local/bin"
cp -L /bin/busybox "$proxy_dir/bin/busybox" 2>/dev/null ||
  fail "busybox is missing: run 'apt-get install -y busybox-static'"
ln -s busybox "$proxy_dir/bin/sh"
cp -L "$BIN/kube-proxy-$K8S_VERSION" "$proxy_dir/usr/local/bin/kube-proxy"
install -m 0755 "$HERE/iptables-wrapper.sh" "$proxy_dir/usr/sbin/iptables-wrapper"
for v in legacy nft; do
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s "xtables-$v-multi" "$proxy_dir/usr/sbin/${t/tables/tables-$v}"
  done
done
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s iptables-wrapper "$proxy_dir/usr/sbin/$t"
done
tar -C "$proxy_dir" -c . | docker import \
  --change "$path_env" --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' \
  --change "LABEL dev.ksail.lab.recipe=$recipe" - "registry.k8s.io/kube-proxy:$K8S_VERSION" >/dev/null
log "image registry.k8s.io/kube-proxy:$K8S_VERSION"
image_of "registry.k8s.io/etcd:$ETCD_IMAGE_VERSION" scratch \
  "$BIN/etcd-v${ETCD_IMAGE_VERSION%-*}:/usr/local/bin/etcd" -- \
  "$path_env" 'ENTRYPOINT ["/usr/local/bin/etcd"]'
# As CoreDNS's own image: a non-root user, and the binary may bind port 53.
image_of "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" scratch \
  "$coredns:/coredns:cap_net_bind_service=+ep" \
  "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt" -- \
  'EXPOSE 53 53/udp' 'USER 65532:65532' 'ENTRYPOINT ["/coredns"]'
image_of "registry.k8s.io/pause:$PAUSE_VERSION" scratch "$pause:/pause" -- \
  'USER 65535:65535' 'ENTRYPOINT ["/pause"]'
for c in "source-controller:$SOURCE_CONTROLLER_VERSION" "kustomize-controller:$KUSTOMIZE_CONTROLLER_VERSION"; do
  image_of "ghcr.io/fluxcd/$c" scratch "$BIN/${c%%:*}-${c#*:}:/usr/local/bin/${c%%:*}" \
    "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt" -- \
    "$path_env" 'USER 65534:65534' "ENTRYPOINT [\"/usr/local/bin/${c%%:*}\"]"
done

# kubeadm decides what the control plane runs; every image it lists must be one built above.
mapfile -t wanted < <("$BIN/kubeadm-$K8S_VERSION" config images list --kubernetes-version "$K8S_VERSION")
for image in "${wanted[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 ||
    fail "kubeadm $K8S_VERSION wants $image, which this script does not build"
done
images=("${wanted[@]}" "ghcr.io/fluxcd/source-controller:$SOURCE_CONTROLLER_VERSION"
  "ghcr.io/fluxcd/kustomize-controller:$KUSTOMIZE_CONTROLLER_VERSION")

# --- 4. node image (as `kind build node-image`: run, copy, import, commit) ----------------------
start=$SECONDS
build_container="$(docker run -d --entrypoint=sleep --security-opt seccomp=unconfined \
  "$BASE_IMAGE" infinity)"
for b in kubelet kubeadm kubectl; do
  docker cp -L "$BIN/$b-$K8S_VERSION" "$build_container:/usr/bin/$b"
done
docker cp -L "$crictl" "$build_container:/usr/local/bin/crictl"
docker exec "$build_container" chmod 0755 /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl \
  /usr/local/bin/crictl
docker exec "$build_container" sh -c "printf '%s' '$K8S_VERSION' > /kind/version"
docker exec "$build_container" mkdir -p /kind/manifests /etc/cni/net.d
sed "s/KUBERNETES_VERSION/$K8S_VERSION/" "$HERE/default-cni.yaml" >"$ctx/default-cni.yaml"
docker cp "$ctx/default-cni.yaml" "$build_container:/kind/manifests/default-cni.yaml"
# After a restart too, the node is NotReady until the DaemonSet has seen kube-proxy's rules again.
docker exec "$build_container" bash -c 'cat > /etc/systemd/system/kubelet.service.d/20-ksail-lab-cni.conf <<EOF
# ksail lab: the CNI config comes from the ksail-lab-cni DaemonSet (/kind/manifests/default-cni.yaml)
[Service]
ExecStartPre=/bin/rm -f /etc/cni/net.d/10-ksail-lab.conflist
EOF'
docker exec "$build_container" bash -c 'nohup containerd >/dev/null 2>&1 &'
docker exec "$build_container" bash -c \
  'for i in $(seq 1 50); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1' ||
  fail "containerd did not start in the build container"
docker save "${images[@]}" | docker exec -i "$build_container" ctr --namespace=k8s.io images import \
  --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
imported="$(docker exec "$build_container" ctr --namespace=k8s.io images list -q)"
for image in "${images[@]}"; do
  grep -qxF "$image" <<<"$imported" || fail "$image is missing from the node's containerd after import"
done
docker exec "$build_container" pkill containerd
# `sleep` as PID 1 reaps nobody, so wait for the socket to stop answering, not for the process.
docker exec "$build_container" bash -c 'for i in $(seq 1 50); do ctr version >/dev/null 2>&1 || exit 0; sleep 0.2; done; exit 1' ||
  fail "containerd did not stop in the build container"
docker commit \
  --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  --change 'CMD []' \
  --change "LABEL dev.ksail.lab.recipe=$recipe" \
  "$build_container" "$NODE_IMAGE" >/dev/null
log "node image $NODE_IMAGE: ${#images[@]} images pre-imported, assembled in $(elapsed "$start")"
# Earlier builds' images lost their tags to this one; they only take space in the lab's data root.
docker image prune -f >/dev/null
log "done in $(elapsed "$total")"
printf '%s\n' "$NODE_IMAGE"
