#!/bin/sh
# kube-proxy's image ships both iptables back ends (Debian's xtables-legacy-multi and
# xtables-nft-multi); it must use the one the node uses, or its rules are invisible to the other.
# iptables, iptables-save, ... first point here: the first call counts the rules each back end
# already holds, points those names at the busier back end, and re-runs itself.
bb=/bin/busybox
legacy=$( (iptables-legacy-save; ip6tables-legacy-save) 2>/dev/null | $bb grep -c '^-')
nft=$( ($bb timeout 5 sh -c 'iptables-nft-save; ip6tables-nft-save') 2>/dev/null | $bb grep -c '^-')
mode=nft
[ "${legacy:-0}" -gt "${nft:-0}" ] && mode=legacy
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  $bb ln -sf "xtables-$mode-multi" "/usr/sbin/$t" || exit 1
done
[ "$($bb readlink "$0")" = iptables-wrapper ] && {
  echo "iptables-wrapper: could not switch $0 to the $mode back end" >&2
  exit 1
}
exec "$0" "$@"
