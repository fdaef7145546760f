# Sourced by ./jevons and the benchmarks (bench/overhead.sh, bench/cpu-per-request.sh):
# jevons_jvm_opts prints the JVM options Jevons runs with by default. JEVONS_JAVA_OPTS goes after
# them on the command line, and the last of a repeated option wins, so an operator overrides any;
# JEVONS_DEFAULT_JVM_OPTS, when set (even empty), replaces these defaults.
#
# -Xmn512m: a fixed 512 MB young generation where the JVM's default heap (a quarter of the memory)
# leaves room for it. G1 otherwise keeps the heap small and collects a ~130 MB young generation
# twice a second at half of the benchmark's peak; a ~2 ms pause every 0.5 s delays enough requests
# to move the p99. With 512 MB the pauses are several times rarer (docs/decisions.md, "A 512 MB
# young generation"). Below 4 GiB the default heap is under 1 GiB and the old generation, where
# long streams live, would be squeezed: G1 sizes itself there.
jevons_jvm_opts() {
  if [[ -n "${JEVONS_DEFAULT_JVM_OPTS+set}" ]]; then
    echo "$JEVONS_DEFAULT_JVM_OPTS"
    return
  fi
  local kb limit
  kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || true)"
  # A container's memory limit, when lower (cgroup v2, then v1).
  for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    limit="$(cat "$f" 2>/dev/null || true)"
    if [[ "$limit" =~ ^[0-9]+$ ]] && [[ -z "$kb" || $((limit / 1024)) -lt "$kb" ]]; then
      kb=$((limit / 1024))
    fi
  done
  if [[ "$kb" =~ ^[0-9]+$ && "$kb" -ge $((4 * 1024 * 1024)) ]]; then
    echo "-Xmn512m"
  fi
}
