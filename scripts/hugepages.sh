#!/usr/bin/env bash
# hugepages.sh reserve N: make sure at least N free 2 MiB hugetlb pages exist (root only).
set -euo pipefail
usage() {
  cat <<'EOF_USAGE'
usage: scripts/hugepages.sh reserve [N]
Makes sure at least N (default 32) free 2 MiB hugetlb pages exist, raising
/proc/sys/vm/nr_hugepages as needed (root only). Prints the pages it added on stdout, so that a
caller can give them back: echo $((total - added)) > /proc/sys/vm/nr_hugepages.
Exit 0 when N pages are free, 1 when they could not be reserved, 2 for a bad command line.
EOF_USAGE
}
want="${2:-32}"
case "${1:-}" in
  -h | --help) usage ;;
  reserve)
    [[ "$want" =~ ^[1-9][0-9]{0,5}$ ]] || { echo "hugepages.sh: bad N '$want': want a whole number >= 1" >&2; exit 2; }
    knob=/proc/sys/vm/nr_hugepages
    [ -w "$knob" ] || { echo "hugepages.sh: $knob is not writable (not root?)" >&2; exit 1; }
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    total=$(cat "$knob")
    if ((free < want)); then echo $((total + want - free)) > "$knob"; fi
    echo $(($(cat "$knob") - total))
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    ((free >= want)) || { echo "hugepages.sh: only $free free 2 MiB pages after reserving" >&2; exit 1; }
    ;;
  *) echo "hugepages.sh: bad command '${1:-}' (see --help)" >&2; exit 2 ;;
esac
