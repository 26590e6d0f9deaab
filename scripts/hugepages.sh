#!/usr/bin/env bash
# hugepages.sh reserve N: make sure at least N free 2 MiB hugetlb pages exist (root only).
set -euo pipefail
want="${2:-32}"
case "${1:-}" in
  reserve)
    knob=/proc/sys/vm/nr_hugepages
    [ -w "$knob" ] || { echo "hugepages: $knob is not writable (not root?)" >&2; exit 1; }
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    total=$(cat "$knob")
    if ((free < want)); then echo $((total + want - free)) > "$knob"; fi
    free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    ((free >= want)) || { echo "hugepages: only $free free 2 MiB pages after reserving" >&2; exit 1; }
    ;;
  *) echo "usage: hugepages.sh reserve N" >&2; exit 2 ;;
esac
