#!/usr/bin/env bash
# The Kind lab's Docker Engine: Debian's dockerd with a data root that persists in the lab cache
# (so the node image and the component images are built once), the runc wrapper as its default
# runtime (kind's --privileged nodes need it on this VM), and a bridge of its own.
#
#   bash lab/kind/dockerd.sh start   start it (or reuse the running one); prints DOCKER_HOST
#   bash lab/kind/dockerd.sh stop    stop it; the data root (images) stays
#   bash lab/kind/dockerd.sh host    print DOCKER_HOST (exit 1 if it is not running)
#
# One engine per machine: its data root is shared by the build and the system test, which take
# turns (a second `start` reuses the running daemon).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${KSAIL_LAB_CACHE:-$HOME/.cache/ksail-lab}"
DATA="$CACHE/kind/docker"
RUN_DIR="/run/ksail-kind" # short: unix socket paths are limited to ~100 bytes
SOCKET="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$CACHE/kind/dockerd.log"
BRIDGE="ksailkind0"
BRIDGE_ADDRESS="10.251.0.1/24"
# User-defined networks (kind's "kind" network) get a /24 from here.
POOL="base=10.252.0.0/16,size=24"
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf 'kind-lab dockerd: %s\n' "$*" >&2; }

# With --iptables=false the lab relies on the kernel forwarding between its containers; a Docker
# daemon with iptables on the same machine sets the FORWARD policy to DROP. So the lab lets its
# own subnets through (in DOCKER-USER when that chain exists, else FORWARD), and takes the rules
# away on stop. `forward_rules -I` adds them (once), `forward_rules -D` removes them.
SUBNETS=("10.251.0.0/24" "10.252.0.0/16")
forward_rules() {
  command -v iptables >/dev/null || {
    log "iptables is not installed: run 'apt-get install -y iptables'"
    exit 1
  }
  local chain=FORWARD subnet dir
  iptables -w 5 -n -L DOCKER-USER >/dev/null 2>&1 && chain=DOCKER-USER
  for subnet in "${SUBNETS[@]}"; do
    for dir in -s -d; do
      local rule=("$dir" "$subnet" -m comment --comment "ksail-lab kind" -j ACCEPT)
      if [[ "$1" == -I ]]; then
        iptables -w 5 -C "$chain" "${rule[@]}" 2>/dev/null || iptables -w 5 -I "$chain" 1 "${rule[@]}"
      else
        while iptables -w 5 -D "$chain" "${rule[@]}" 2>/dev/null; do :; done
      fi
    done
  done
}

running() {
  [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null &&
    docker -H "unix://$SOCKET" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start() {
  if running; then
    printf 'unix://%s\n' "$SOCKET"
    return 0
  fi
  command -v dockerd >/dev/null || {
    log "dockerd is not installed: run 'apt-get install -y docker.io'"
    exit 1
  }
  command -v jq >/dev/null || {
    log "jq is not installed (the runc wrapper needs it): run 'apt-get install -y jq'"
    exit 1
  }
  mkdir -p "$DATA" "$RUN_DIR"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add name "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDRESS" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  forward_rules -I
  rm -f "$SOCKET"
  # iptables stays off: its chains are global to the machine and the other test daemons run
  # beside this one. Published ports go through docker-proxy; the nodes set up their own rules.
  nohup dockerd \
    --data-root "$DATA" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    -H "unix://$SOCKET" \
    --bridge "$BRIDGE" \
    --default-address-pool "$POOL" \
    --iptables=false \
    --ip-masq=false \
    --containerd-namespace ksail-kind \
    --containerd-plugins-namespace ksail-kind-plugins \
    --add-runtime "nosysres=$HERE/runc-wrapper.sh" \
    --default-runtime nosysres \
    >>"$LOG" 2>&1 &
  local i
  for i in $(seq 1 150); do
    if running; then
      printf 'unix://%s\n' "$SOCKET"
      return 0
    fi
    sleep 0.2
  done
  log "dockerd did not answer within 30 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2
  exit 1
}

stop() {
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    local pid i
    pid="$(cat "$PIDFILE")"
    kill "$pid"
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  # Mounts of stopped containers can linger for a moment after dockerd exits.
  grep -o " $RUN_DIR[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  forward_rules -D
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  host) running && printf 'unix://%s\n' "$SOCKET" ;;
  *)
    log "usage: dockerd.sh start|stop|host"
    exit 2
    ;;
esac
