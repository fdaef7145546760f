# Sourced by ./jevons and the benchmarks (bench/overhead.sh, bench/cpu-per-request.sh):
# jevons_jvm_opts prints the JVM options Jevons runs with by default, which go before
# JEVONS_JAVA_OPTS on the command line. JEVONS_DEFAULT_JVM_OPTS, when set (even empty), replaces
# them; and there are none when JEVONS_JAVA_OPTS or JAVA_TOOL_OPTIONS size the heap or choose a
# collector themselves, so that an operator's -Xmx512m never meets a 512 MB young generation.
#
# -Xmn512m: a fixed 512 MB young generation where the JVM's default heap (a quarter of the memory)
# leaves room for it. G1 otherwise keeps the heap small and collects a ~130 MB young generation
# twice a second at half of the benchmark's peak; a ~2 ms pause every 0.5 s delays enough requests
# to move the p99. With 512 MB the pauses are several times rarer (docs/decisions.md, "A 512 MB
# young generation"). Below 4 GiB the default heap is under 1 GiB and the old generation, where
# long streams live, would be squeezed: G1 sizes itself there.
jevons_jvm_opts() {
  if [[ -n "${JEVONS_DEFAULT_JVM_OPTS+set}" ]]; then
    printf '%s\n' "$JEVONS_DEFAULT_JVM_OPTS"
    return
  fi
  local own="${JEVONS_JAVA_OPTS:-} ${JAVA_TOOL_OPTIONS:-}"
  if [[ "$own" =~ -Xm[nsx]|NewSize|NewRatio|MaxRAM|InitialRAM|MaxHeapSize|InitialHeapSize|Use[A-Za-z]*GC ]]; then
    return
  fi
  local kb limit f v2 v1
  kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || true)"
  # A container's or service's memory limit, when lower: at this process's own cgroup and at the
  # root of the mount, cgroup v2 then v1 (whose "no limit" is a huge number, never the lower one).
  v2="$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup 2>/dev/null || true)"
  v1="$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup 2>/dev/null || true)"
  for f in "/sys/fs/cgroup${v2}/memory.max" /sys/fs/cgroup/memory.max \
      "/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes" /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    limit="$(cat "$f" 2>/dev/null || true)"
    if [[ "$limit" =~ ^[0-9]+$ ]] && [[ -z "$kb" || $((limit / 1024)) -lt "$kb" ]]; then
      kb=$((limit / 1024))
    fi
  done
  if [[ "$kb" =~ ^[0-9]+$ && "$kb" -ge $((4 * 1024 * 1024)) ]]; then
    echo "-Xmn512m"
  fi
}
