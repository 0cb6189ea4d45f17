# Shared by the lab's build scripts (source it): Go module downloads and timing.

# module_dir MODULE@VERSION: downloads the module through the Go proxy and prints its directory
# in the module cache (read-only: copy it before building with its own go.mod).
module_dir() {
  local dir
  dir="$(go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  if [[ -z "$dir" || ! -f "$dir/go.mod" ]]; then
    printf 'could not download the Go module %s\n' "$1" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

# elapsed START_SECONDS: the time since then as 1m05s.
elapsed() {
  local s=$((SECONDS - $1))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}
