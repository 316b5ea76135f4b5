# Removes the namespaces (and hugepage flow regions) of earlier test runs that died without cleaning up (killed by a
# timeout, SIGKILL): every namespace named eclb<letters><pid>-... or eclb-<pid>-...
# whose <pid> is no longer a running process; the processes inside are killed first.
# A leftover holds XDP programs, maps and addresses that confuse the next run. Source
# this file; topology.sh and tier_topology.sh call reap_stale_namespaces in their setup.
reap_stale_namespaces() {
  local ns pid pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    pid=$(sed -nE 's/^eclb[a-z]*-?([0-9]+)-.*/\1/p' <<<"$ns")
    [ -n "$pid" ] || continue
    kill -0 "$pid" 2>/dev/null && continue
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null && echo "removed the stale namespace $ns of a dead run" >&2
  done
  # Flow regions of dead runs hold hugepages: eclb-<test>-<pid>[-<n>] in /dev/hugepages.
  local file
  for file in /dev/hugepages/eclb-*; do
    [ -e "$file" ] || continue
    pid=$(sed -nE 's|^/dev/hugepages/eclb-[a-z]+-([0-9]+)(-[0-9]+)?$|\1|p' <<<"$file")
    [ -n "$pid" ] || continue
    kill -0 "$pid" 2>/dev/null && continue
    rm -f "$file" && echo "removed the stale flow region $file of a dead run" >&2
  done
  true
}
