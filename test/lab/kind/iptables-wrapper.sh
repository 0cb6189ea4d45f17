#!/bin/sh
# kube-proxy's image ships both iptables back ends (Debian's iptables-legacy and iptables-nft);
# it must use the one the node uses, or its rules are invisible to the other. On the first call
# this wrapper (linked as iptables, iptables-save, ... in /etc/alternatives) counts the rules each
# back end already holds, points the alternatives at the busier one, and re-runs the command.
legacy=$( (iptables-legacy-save; ip6tables-legacy-save) 2>/dev/null | grep -c '^-')
nft=$( (timeout 5 sh -c 'iptables-nft-save; ip6tables-nft-save') 2>/dev/null | grep -c '^-')
mode=nft
[ "${legacy:-0}" -gt "${nft:-0}" ] && mode=legacy
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
if [ "$(readlink /etc/alternatives/iptables)" = /usr/sbin/iptables-wrapper ]; then
  echo "iptables-wrapper: could not select the $mode back end" >&2
  exit 1
fi
exec "$0" "$@"
