#!/bin/sh
# OCI runtime for the Kind lab's dockerd: runc, minus CAP_SYS_RESOURCE.
#
# This VM's capability bounding set lacks CAP_SYS_RESOURCE, and `docker run --privileged` (which
# kind uses for every node) asks for all capabilities, so plain runc fails with "unable to apply
# caps". dockerd calls this wrapper instead (--add-runtime/--default-runtime); it removes that one
# capability from the container spec (create/run: <bundle>/config.json) or the exec process spec
# (exec: --process FILE) and hands everything else to runc unchanged. Needs jq.
bundle=""
process=""
previous=""
for arg in "$@"; do
  case "$previous" in
    --bundle | -b) bundle="$arg" ;;
    --process | -p) process="$arg" ;;
  esac
  case "$arg" in
    --bundle=*) bundle="${arg#--bundle=}" ;;
    --process=*) process="${arg#--process=}" ;;
  esac
  previous="$arg"
done

drop_sys_resource() { # FILE JQ_PATH_TO_THE_CAPABILITIES_OBJECT
  [ -f "$1" ] || return 0
  jq "if $2 then $2 |= map_values(map(select(. != \"CAP_SYS_RESOURCE\"))) else . end" "$1" >"$1.ksail" &&
    mv "$1.ksail" "$1"
}
[ -n "$bundle" ] && drop_sys_resource "$bundle/config.json" ".process.capabilities"
[ -n "$process" ] && drop_sys_resource "$process" ".capabilities"
exec runc "$@"
