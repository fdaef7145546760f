#!/usr/bin/env bash
# CPU per request: one Jevons (billing as configured by the environment given) in front of the
# instant simulator, warmed up under wrk, then WARM/MEASURE seconds of `wrk -c64` with the Jevons
# process's user and system CPU time (from /proc) and the ledger metrics read before and after.
#
# Usage: bench/cpu-per-request.sh [JAR] [ENV=VALUE...]
#   e.g. bench/cpu-per-request.sh target/jevons.jar JEVONS_BILLING_ENABLED=false
#   Prints requests/s, the machine's busy share and CPU per request (all processes, simulator), Jevons CPU per request, with billing the ledger committer thread's CPU per
#   request, and the CPU per request of each group of threads (request threads, committer, JIT, GC).
#   WARM=30 MEASURE=15 CONNS=64 PORT_BASE=39000   PROFILE=/tmp/x.jfr records JFR over the measurement
#   CPU_SAMPLES=1 with PROFILE: JFR samples by CPU time (jdk.CPUTimeSample, JDK 25; native frames and
#   all, one sample per ms of a thread's CPU) instead of by wall clock; summarize with bench/JfrTop.java
#   The JIT still compiles for a minute or more: with WARM=20 its threads took 9-60 us per request
#   in the measurement (session 5); compare request threads, not the total, or use WARM=60.
# Linux only (reads /proc). Needs wrk and a JDK >= 21 (found like ./jevons does).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../.ci/find-jdk.sh
source "$here/.ci/find-jdk.sh"
java_home="$(find_jdk)"
JAVA="$java_home/bin/java"
jar="${1:-$here/target/jevons.jar}"
[[ $# -gt 0 ]] && shift
WARM="${WARM:-30}"; MEASURE="${MEASURE:-15}"; CONNS="${CONNS:-64}"; PORT_BASE="${PORT_BASE:-39000}"
sim_port=$((PORT_BASE + 100)); port=$((PORT_BASE + 400))
work="$(mktemp -d /tmp/jevons-cpu.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "${KEEP_LOG:-}" ]] && cp "$work/jevons.log" "$KEEP_LOG"; rm -rf "$work"' EXIT

wait_http() { for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done; echo "timed out: $1" >&2; return 1; }

"$JAVA" -jar "$jar" sim --port "$sim_port" --profile instant --models sim-chat >"$work/sim.log" 2>&1 & sp=$!; pids+=($sp)
wait_http "http://127.0.0.1:$sim_port/v1/models"
# The launcher's JVM defaults (.ci/jvm-opts.sh) as the given environment sees them.
jvm_opts="$(env "$@" bash -c "source '$here/.ci/jvm-opts.sh'; jevons_jvm_opts")"
env "$@" "$JAVA" $jvm_opts ${JEVONS_JAVA_OPTS:-} -jar "$jar" serve --port "$port" --data "$work/data" --upstream "http://127.0.0.1:$sim_port/v1" >"$work/jevons.log" 2>&1 &
jp=$!; pids+=($jp)
wait_http "http://127.0.0.1:$port/health"
token="$(tr -d '[:space:]' <"$work/data/admin-token")"
admin() { curl -fsS -X POST "http://127.0.0.1:$port$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$2"; }
acct="$(admin /admin/v1/accounts '{"name":"cpu"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')"
key="$(admin "/admin/v1/accounts/$acct/keys" '{"name":"cpu"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')"
admin "/admin/v1/accounts/$acct/credits" '{"amount":"1000000.00","idempotency_key":"cpu"}' >/dev/null
wait_http "http://127.0.0.1:$port/ready"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"sim-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
url="http://127.0.0.1:$port/v1/chat/completions"
wrk -t2 -c"$CONNS" -d"${WARM}s" -s "$work/post.lua" "$url" >/dev/null

ledger() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^jevons_ledger_(batches|commands|write_seconds)_total/ {v[$1]=$2} END {printf "%s %s %s\n", v["jevons_ledger_batches_total"]+0, v["jevons_ledger_commands_total"]+0, v["jevons_ledger_write_seconds_total"]+0}'; }
cpu() { awk '{print $14, $15}' "/proc/$jp/stat"; }
# The simulator's user + system ticks, and the whole machine's busy and idle ticks (all CPUs).
sim_cpu() { awk '{print $14 + $15}' "/proc/$sp/stat"; }
machine() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $5 + $6, $6}' /proc/stat; }
# The whole machine's context switches and interrupts so far.
switches() { awk '$1 == "ctxt" {c = $2} $1 == "intr" {i = $2} END {print c, i}' /proc/stat; }
# The ledger committer's own user + system ticks (0 without billing); comm is cut to 15 characters.
committer() {
  local t
  for t in /proc/"$jp"/task/*; do
    if [[ "$(cat "$t/comm" 2>/dev/null)" == ledger-committe* ]]; then awk '{print $14 + $15}' "$t/stat"; return; fi
  done
  echo 0
}
jfc=profile
if [[ -n "${CPU_SAMPLES:-}" ]]; then
  # The JDK's profile settings with wall-clock sampling off and CPU-time sampling on, every ms.
  jfc="$work/cpu.jfc"
  sed -e '/<event name="jdk.CPUTimeSample">/,/<\/event>/{s/<setting name="enabled">false/<setting name="enabled">true/;s/>[0-9]* *ms</>1ms</}' \
      -e '/<event name="jdk.ExecutionSample">/,/<\/event>/s/>true</>false</' "$java_home/lib/jfr/profile.jfc" >"$jfc"
  grep -q 'jdk.CPUTimeSample' "$jfc" || { echo "CPU_SAMPLES needs a JDK with jdk.CPUTimeSample (25 or later)" >&2; exit 2; }
fi
[[ -n "${PROFILE:-}" ]] && "$java_home/bin/jcmd" "$jp" JFR.start name=cpu settings="$jfc" filename="$PROFILE" >/dev/null
# Every thread's user + system ticks, by name (digits folded, so that pools add up), for the
# breakdown printed at the end: request threads (ForkJoinPool), committer, JIT, GC, ...
threads_snap() {
  local t
  for t in /proc/"$jp"/task/*; do
    awk '{print $14 + $15}' "$t/stat" 2>/dev/null | sed "s/^/$(tr -d '0-9 ' <"$t/comm" 2>/dev/null | tr -c 'A-Za-z_\n-' _) /"
  done
}
threads_snap >"$work/threads0"
read -r b0 c0 w0 <<<"$(ledger)"; read -r u0 s0 <<<"$(cpu)"; k0="$(committer)"; q0="$(sim_cpu)"; read -r m0 i0 o0 <<<"$(machine)"; read -r x0 y0 <<<"$(switches)"
wrk -t2 -c"$CONNS" -d"${MEASURE}s" --latency -s "$work/post.lua" "$url" >"$work/wrk.txt"
threads_snap >"$work/threads1"
read -r b1 c1 w1 <<<"$(ledger)"; read -r u1 s1 <<<"$(cpu)"; k1="$(committer)"; q1="$(sim_cpu)"; read -r m1 i1 o1 <<<"$(machine)"; read -r x1 y1 <<<"$(switches)"
[[ -n "${PROFILE:-}" ]] && "$java_home/bin/jcmd" "$jp" JFR.stop name=cpu >/dev/null
requests="$(awk '/requests in/ {print $1}' "$work/wrk.txt")"
ticks="$(getconf CLK_TCK)"
awk -v r="$requests" -v t="$ticks" -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v k="$((k1 - k0))" -v m="$MEASURE" \
    -v q="$((q1 - q0))" -v mb="$((m1 - m0))" -v mi="$((i1 - i0))" -v mw="$((o1 - o0))" -v cs="$((x1 - x0))" -v ir="$((y1 - y0))" \
    -v b="$b0 $b1" -v c="$c0 $c1" -v w="$w0 $w1" -v rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
    -v p50="$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")" -v p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")" 'BEGIN {
  split(b, B, " "); split(c, C, " "); split(w, W, " ");
  printf "req/s %s  p50 %s  p99 %s  Jevons CPU per request: user %.1f us, system %.1f us\n", rps, p50, p99, u * 1e6 / t / r, s * 1e6 / t / r;
  printf "machine: busy %.0f%% (idle %.0f%%, iowait %.0f%%), all processes %.1f us per request, simulator %.1f us\n", mb * 100 / (mb + mi), (mi - mw) * 100 / (mb + mi), mw * 100 / (mb + mi), mb * 1e6 / t / r, q * 1e6 / t / r;
  printf "machine: %.2f context switches and %.2f interrupts per request\n", cs / r, ir / r;
  nb = B[2] - B[1];
  if (nb > 0) printf "ledger: %d batches, %.1f commands per batch, %.2f ms writing per batch, committer busy %.0f%%, committer CPU %.1f us per request\n", nb, (C[2] - C[1]) / nb, (W[2] - W[1]) * 1000 / nb, (W[2] - W[1]) * 100 / m, k * 1e6 / t / r;
}'
# CPU per request by thread group over the measurement, largest first.
awk -v r="$requests" -v t="$ticks" 'FNR == NR {a[$1] += $2; next} {b[$1] += $2} END {
  for (k in b) d[k] = b[k] - a[k];
  printf "threads, CPU per request:";
  n = 0;
  while (n < 8) {
    best = ""; for (k in d) if (best == "" || d[k] > d[best]) best = k;
    if (best == "" || d[best] <= 0) break;
    printf " %s %.1f us,", best, d[best] * 1e6 / t / r; delete d[best]; n++;
  }
  printf "\n";
}' "$work/threads0" "$work/threads1"
