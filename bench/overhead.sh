#!/usr/bin/env bash
# Gateway overhead benchmark: the same small non-streaming chat request, at a fixed load, sent
# (1) straight to the simulator, (2) through nginx as a keep-alive reverse proxy, (3) through
# Jevons with authentication on; then a paced run for added latency at half of Jevons' peak,
# and a memory run holding thousands of slow streams open through Jevons.
#
# Usage: bench/overhead.sh            (all three parts; see the variables below)
#   DURATION=20 ROUNDS=3 CONNS=64     peak runs: wrk -c CONNS for DURATION s, ROUNDS interleaved rounds
#   WARMUP=20                         seconds of wrk per Jevons before the peak runs (JIT)
#   VARIANTS="base=/tmp/base/jevons.jar new=target/jevons.jar"
#                                     compare several Jevons jars side by side in the same run; a
#                                     variant may add environment variables after commas, e.g.
#   VARIANTS="billing=target/jevons.jar nobilling=target/jevons.jar,JEVONS_BILLING_ENABLED=false"
#                                     (ratios against the first variant are printed per round);
#                                     Jevons runs with the launcher's JVM defaults (.ci/jvm-opts.sh):
#                                     a variant with JEVONS_DEFAULT_JVM_OPTS= runs without them
#   BODY='{...}'                      the request (default: a small non-streaming chat request)
#   STREAMS=5000 MAX_TOKENS=1000      memory run (STREAMS=0 skips it) on STREAMS_VARIANT (default: the first)
#   JFR=1                             record a 30 s JFR profile of the first variant under wrk load
#   PARTS="peak paced streams"        which parts to run
#   PORT_BASE=18000                   ports used: PORT_BASE+100 (sim), +200.. (slow sims), +300 (nginx), +400.. (Jevons)
# Results: a summary on stdout and in bench/out/summary.txt; raw wrk output and logs in bench/out/.
#
# Needs wrk (apt-get install wrk), optionally nginx; a JDK >= 21 (found like ./jevons does).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../.ci/find-jdk.sh
source "$here/.ci/find-jdk.sh"
java_home="$(find_jdk)"
JAVA="$java_home/bin/java"
JCMD="$java_home/bin/jcmd"
JFRTOOL="$java_home/bin/jfr"

DURATION="${DURATION:-20}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-20}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
STREAMS="${STREAMS:-5000}"
MAX_TOKENS="${MAX_TOKENS:-1000}"
PARTS="${PARTS:-peak paced streams}"
VARIANTS="${VARIANTS:-jevons=$here/target/jevons.jar}"
# PORT_BASE moves every port, so that two runs on one machine do not answer each other's requests.
PORT_BASE="${PORT_BASE:-18000}"
SIM_PORT=$((PORT_BASE + 100))
SLOW_SIM_PORT=$((PORT_BASE + 200))
SLOW_SIM_REPLICAS=8
NGINX_PORT=$((PORT_BASE + 300))
JEVONS_PORT_BASE=$((PORT_BASE + 400))
DEFAULT_BODY='{"model":"sim-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
BODY="${BODY:-$DEFAULT_BODY}"

out="$here/bench/out"
rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d /tmp/jevons-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -f "$out/nginx/nginx.pid" ]]; then kill "$(cat "$out/nginx/nginx.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
[[ -f "$here/target/jevons.jar" ]] || (cd "$here" && mvn -B -q -o -DskipTests package)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

wait_http() { # URL [extra curl args...]: waits up to 60 s for a 2xx
  local url="$1"; shift
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2; return 1
}

cat > "$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
-- Pacing for the fixed-rate run: each connection waits BENCH_DELAY_MS (fractional part drawn at
-- random so the mean is exact) after each answer. Closed loop, so not coordinated-omission free.
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if d > 0 then
  function delay()
    local whole = math.floor(d)
    if math.random() < d - whole then whole = whole + 1 end
    return whole
  end
end
EOF

# --- processes ------------------------------------------------------------------------------
log "starting simulator (instant) on $SIM_PORT"
"$JAVA" -jar "$here/target/jevons.jar" sim --port "$SIM_PORT" --profile instant --models sim-chat >"$out/sim.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$SIM_PORT/v1/models"

targets=("direct=http://127.0.0.1:$SIM_PORT/v1/chat/completions")
if command -v nginx >/dev/null; then
  mkdir -p "$out/nginx"
  cat > "$out/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log $out/nginx/access.log;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  upstream sim { server 127.0.0.1:$SIM_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  log "starting nginx on $NGINX_PORT"
  nginx -c "$out/nginx/nginx.conf" -g 'daemon on;'
  targets+=("nginx=http://127.0.0.1:$NGINX_PORT/v1/chat/completions")
else
  log "nginx not installed: skipping the nginx column"
fi

# start_jevons NAME JAR PORT UPSTREAM_ARGS... ; sets JEVONS_PID_<NAME> and KEY_<NAME>
declare -A jpid jkey
start_jevons() {
  local name="$1" spec="$2" port="$3"; shift 3
  local data="$work/data-$name"
  local jar="${spec%%,*}" envs=()
  if [[ "$spec" == *,* ]]; then IFS=',' read -r -a envs <<<"${spec#*,}"; fi
  mkdir -p "$data"
  log "starting Jevons '$name' ($jar${envs[*]:+ with ${envs[*]}}) on $port"
  # Access log left ON, as in production; it goes to the log file like stderr would.
  # The launcher's JVM defaults, as the variant's environment sees them (JEVONS_DEFAULT_JVM_OPTS=).
  local jvm_opts
  jvm_opts="$(env ${envs[@]+"${envs[@]}"} bash -c "source '$here/.ci/jvm-opts.sh'; jevons_jvm_opts")"
  env ${envs[@]+"${envs[@]}"} "$JAVA" $jvm_opts ${JEVONS_JAVA_OPTS:-} -jar "$jar" serve --port "$port" --data "$data" "$@" >"$out/jevons-$name.log" 2>&1 &
  jpid[$name]=$!
  pids+=($!)
  wait_http "http://127.0.0.1:$port/health"
  local token acct key
  token="$(tr -d '[:space:]' <"$data/admin-token")"
  acct="$(curl -fsS -X POST "http://127.0.0.1:$port/admin/v1/accounts" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"name":"bench"}' | sed -E 's/.*"id":"([^"]+)".*/\1/')"
  key="$(curl -fsS -X POST "http://127.0.0.1:$port/admin/v1/accounts/$acct/keys" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"name":"bench"}' | sed -E 's/.*"key":"([^"]+)".*/\1/')"
  # Billing is on by default: fund the account so no request is refused for money (older jars
  # without the credits endpoint ignore this).
  curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/admin/v1/accounts/$acct/credits" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{"amount":"1000000.00","idempotency_key":"bench"}' || true
  jkey[$name]="$key"
  # Readiness includes an upstream health check; wait for it so the first requests do not 503.
  wait_http "http://127.0.0.1:$port/ready"
}

variant_names=()
i=0
for v in $VARIANTS; do
  name="${v%%=*}"; jar="${v#*=}"
  start_jevons "$name" "$jar" $((JEVONS_PORT_BASE + i)) --upstream "http://127.0.0.1:$SIM_PORT/v1"
  targets+=("$name=http://127.0.0.1:$((JEVONS_PORT_BASE + i))/v1/chat/completions")
  variant_names+=("$name")
  i=$((i + 1))
done

key_for() { if [[ -n "${jkey[$1]:-}" ]]; then echo "${jkey[$1]}"; fi; }

# Checks every target answers the request with a 200 and a chat completion.
for t in "${targets[@]}"; do
  name="${t%%=*}"; url="${t#*=}"; key="$(key_for "$name")"
  resp="$(curl -fsS -X POST "$url" -H 'Content-Type: application/json' ${key:+-H "Authorization: Bearer $key"} -d "$BODY")"
  [[ "$resp" == *'"chat.completion"'* ]] || { echo "$name did not answer a chat completion: $resp" >&2; exit 1; }
done
log "every target answers; response is $(echo -n "$resp" | wc -c) bytes"

# run_wrk NAME URL SECONDS CONNS DELAY_MS -> prints "rps p50_ms p99_ms errors"
run_wrk() {
  local name="$1" url="$2" secs="$3" conns="$4" delay="$5" tag="$6"
  local f="$out/wrk-$tag-$name.txt"
  BENCH_KEY="$(key_for "$name")" BENCH_DELAY_MS="$delay" \
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "$url" >"$f" 2>&1
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 } /Non-2xx/ { err += $NF } /Socket errors/ { err += $4 + $6 + $8 + $10 }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, err }' "$f"
}

median() { sort -g | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

summary="$out/summary.txt"
{
  echo "# Jevons gateway overhead, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p'), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds; body $BODY"
} | tee "$summary"

peak_rps=""
if [[ " $PARTS " == *" peak "* || " $PARTS " == *" paced "* ]]; then
  log "warm-up (JIT): $WARMUP s per Jevons, 5 s for direct and nginx"
  # Jevons runs more code than the others and its JIT competes with wrk for 2 cores; it keeps
  # compiling for a minute or more (bench/cpu-per-request.sh), so use WARMUP=60 to compare builds.
  for t in "${targets[@]}"; do
    case "${t%%=*}" in direct | nginx) w=5 ;; *) w="$WARMUP" ;; esac
    run_wrk "${t%%=*}" "${t#*=}" "$w" "$CONNS" 0 warmup >/dev/null
  done
fi
if [[ " $PARTS " == *" peak "* ]]; then
  results="$out/peak.tsv"
  : >"$results"
  for r in $(seq 1 "$ROUNDS"); do
    for t in "${targets[@]}"; do
      name="${t%%=*}"
      read -r rps p50 p99 err < <(run_wrk "$name" "${t#*=}" "$DURATION" "$CONNS" 0 "peak$r")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$rps" "$p50" "$p99" "$err" | tee -a "$results" >&2
    done
  done
  declare -A med
  block="$work/block.txt"
  {
    echo
    echo "## Peak (median of $ROUNDS rounds; min-max of req/s shows the noise)"
    printf '%-10s %10s %17s %10s %10s %8s\n' target req/s "req/s min-max" p50_ms p99_ms errors
    for t in "${targets[@]}"; do
      name="${t%%=*}"
      rps=$(awk -v n="$name" '$2 == n { print $3 }' "$results" | median)
      lo=$(awk -v n="$name" '$2 == n { print $3 }' "$results" | sort -g | head -1)
      hi=$(awk -v n="$name" '$2 == n { print $3 }' "$results" | sort -g | tail -1)
      p50=$(awk -v n="$name" '$2 == n { print $4 }' "$results" | median)
      p99=$(awk -v n="$name" '$2 == n { print $5 }' "$results" | median)
      err=$(awk -v n="$name" '$2 == n { s += $6 } END { print s + 0 }' "$results")
      printf '%-10s %10.0f %17s %10.2f %10.2f %8d\n' "$name" "$rps" "$lo-$hi" "$p50" "$p99" "$err"
      med[$name]="$rps"
    done
    echo
    for v in "${variant_names[@]}"; do
      printf 'ratio %s/direct = %.3f' "$v" "$(echo "${med[$v]} / ${med[direct]}" | bc -l)"
      if [[ -n "${med[nginx]:-}" ]]; then printf ', %s/nginx = %.3f' "$v" "$(echo "${med[$v]} / ${med[nginx]}" | bc -l)"; fi
      echo
      # Ratios per round too, since the rounds of one target drift with the machine's load.
      awk -v n="$v" '$2 == "nginx" { g[$1] = $3 } $2 == n { j[$1] = $3 } END { for (r in j) if (g[r] > 0) printf "  round %s: %s/nginx = %.3f\n", r, n, j[r] / g[r] }' "$results" | sort
    done
    v0="${variant_names[0]}"
    for v in "${variant_names[@]:1}"; do
      printf 'ratio %s/%s = %.3f (medians)\n' "$v0" "$v" "$(echo "${med[$v0]} / ${med[$v]}" | bc -l)"
      awk -v a="$v0" -v b="$v" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 } END { for (r in x) if (y[r] > 0) printf "  round %s: %s/%s = %.3f\n", r, a, b, x[r] / y[r] }' "$results" | sort
    done
  } >"$block"
  tee -a "$summary" <"$block"
  peak_rps="${med[${variant_names[0]}]}"
fi

if [[ " $PARTS " == *" paced "* ]]; then
  rate="${RATE:-$(printf %.0f "$(echo "${peak_rps:-2000} / 2" | bc -l)")}"
  paced_conns="${PACED_CONNS:-$CONNS}"
  delay_ms=$(echo "$paced_conns * 1000 / $rate" | bc -l)
  {
    echo
    echo "## Paced run at ~$rate req/s (half of ${variant_names[0]}'s median peak): wrk -c$paced_conns with a Lua delay of $(printf %.2f "$delay_ms") ms per connection"
    printf '%-10s %10s %10s %10s %8s\n' target req/s p50_ms p99_ms errors
  } | tee -a "$summary"
  results="$out/paced.tsv"
  : >"$results"
  for r in $(seq 1 "$ROUNDS"); do
    for t in "${targets[@]}"; do
      name="${t%%=*}"
      read -r rps p50 p99 err < <(run_wrk "$name" "${t#*=}" "$DURATION" "$paced_conns" "$delay_ms" "paced$r")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$rps" "$p50" "$p99" "$err" | tee -a "$results" >&2
    done
  done
  {
    for t in "${targets[@]}"; do
      name="${t%%=*}"
      rps=$(awk -v n="$name" '$2 == n { print $3 }' "$results" | median)
      p50=$(awk -v n="$name" '$2 == n { print $4 }' "$results" | median)
      p99=$(awk -v n="$name" '$2 == n { print $5 }' "$results" | median)
      err=$(awk -v n="$name" '$2 == n { s += $6 } END { print s + 0 }' "$results")
      printf '%-10s %10.0f %10.2f %10.2f %8d\n' "$name" "$rps" "$p50" "$p99" "$err"
    done
    for v in "${variant_names[@]}"; do
      awk -v n="$v" '$2 == "direct" { d50[$1] = $4; d99[$1] = $5 } $2 == n { j50[$1] = $4; j99[$1] = $5 }
        END { for (r in j99) printf "  round %s: %s added latency p50 %+.2f ms, p99 %+.2f ms (vs direct)\n", r, n, j50[r] - d50[r], j99[r] - d99[r] }' "$results" | sort
    done
  } | tee -a "$summary"
fi

if [[ "${JFR:-0}" == 1 ]]; then
  v0="${variant_names[0]}"; url=""
  for t in "${targets[@]}"; do [[ "${t%%=*}" == "$v0" ]] && url="${t#*=}"; done
  log "JFR: 30 s profile of '$v0' under wrk -c$CONNS"
  "$JCMD" "${jpid[$v0]}" JFR.start name=bench settings=profile filename="$out/jevons.jfr" >/dev/null
  run_wrk "$v0" "$url" 30 "$CONNS" 0 jfr >/dev/null
  "$JCMD" "${jpid[$v0]}" JFR.stop name=bench >/dev/null
  "$JFRTOOL" view --width 200 hot-methods "$out/jevons.jfr" >"$out/jfr-hot-methods.txt" 2>&1 || true
  "$JFRTOOL" view --width 200 allocation-by-class "$out/jevons.jfr" >"$out/jfr-allocation.txt" 2>&1 || true
  "$JFRTOOL" view --width 200 contention-by-site "$out/jevons.jfr" >"$out/jfr-contention.txt" 2>&1 || true
  "$JFRTOOL" summary "$out/jevons.jfr" >"$out/jfr-summary.txt" 2>&1 || true
  { echo; echo "## JFR hot methods ($v0), full views in bench/out/jfr-*.txt"; head -25 "$out/jfr-hot-methods.txt"; } | tee -a "$summary"
fi

if [[ " $PARTS " == *" streams "* && "$STREAMS" -gt 0 ]]; then
  # h800 engines give each stream ~21 tokens/s at full batch; time scale 0.05 slows that to ~1/s
  # so the streams stay open for minutes while relaying little. Eight replicas have 8 x 704
  # batch slots, enough for every stream to be decoding rather than queued.
  log "memory: $SLOW_SIM_REPLICAS slow sim replicas (h800, time scale 0.05) on $SLOW_SIM_PORT+"
  "$JAVA" -Xmx4g -jar "$here/target/jevons.jar" sim --port "$SLOW_SIM_PORT" --replicas "$SLOW_SIM_REPLICAS" \
    --profile h800 --time-scale 0.05 --models sim-chat >"$out/sim-slow.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$SLOW_SIM_PORT/v1/models"
  cfg="$work/streams.yaml"
  {
    # Eight engines and 5,000 connections starve a busy 2-core machine: with the default 2 s
    # connect timeout (health check: 3 s) replicas were ejected and most streams got a 502.
    echo "upstream:"
    echo "  connect_timeout_ms: 30000"
    echo "  failures_to_eject: 1000"
    echo "upstreams:"
    for k in $(seq 0 $((SLOW_SIM_REPLICAS - 1))); do
      echo "  - name: slow-$k"
      echo "    url: http://127.0.0.1:$((SLOW_SIM_PORT + k))/v1"
      echo "    max_concurrency: 2000"
      # The memory run measures what an open stream costs, not admission: with engine metrics
      # on, the slow engines count as saturated (their own queue, or metrics gone stale on a
      # machine busy with 5,000 streams) while the streams ramp up, admission holds requests
      # back, and 5-8% of them were refused 503 and never opened.
      echo "    metrics: false"
    done
  } >"$cfg"
  v0="${STREAMS_VARIANT:-${variant_names[0]}}"; jar=""
  for v in $VARIANTS; do [[ "${v%%=*}" == "$v0" ]] && jar="${v#*=}"; done
  sport=$((JEVONS_PORT_BASE + 50))
  start_jevons streams "$jar" "$sport" --config "$cfg"
  spid="${jpid[streams]}"
  heap_used_kb() { "$JCMD" "$1" GC.run >/dev/null; "$JCMD" "$1" GC.heap_info | awk '/used/ { for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub(/K,?$/, "", v); print v; exit } }'; }
  rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
  # A few streams first so every code path is loaded and compiled before the baseline.
  "$JAVA" "$here/bench/HoldStreams.java" 127.0.0.1 "$sport" "${jkey[streams]}" 50 20 60 >"$out/holder-warm.log" 2>&1 &
  warm=$!
  sleep 30; kill "$warm" 2>/dev/null || true; wait "$warm" 2>/dev/null || true
  sleep 2
  heap0=$(heap_used_kb "$spid"); rss0=$(rss_kb "$spid")
  log "memory: baseline heap ${heap0} KB, RSS ${rss0} KB; opening $STREAMS streams"
  "$JAVA" -Xss256k "$here/bench/HoldStreams.java" 127.0.0.1 "$sport" "${jkey[streams]}" "$STREAMS" "$MAX_TOKENS" 180 >"$out/holder.log" 2>&1 &
  holder=$!
  pids+=($holder)
  for _ in $(seq 1 240); do grep -q '^OPEN' "$out/holder.log" && break; sleep 1; done
  open_line="$(grep '^OPEN' "$out/holder.log" || echo 'OPEN ?')"
  heap1=$(heap_used_kb "$spid"); rss1=$(rss_kb "$spid")
  status_line="$(tail -1 "$out/holder.log")"
  threads=$(ls "/proc/$spid/task" | wc -l)
  estab=$(ss -Htn state established "( sport = :$sport )" | wc -l)
  n="$(echo "$open_line" | awk '{ print $2 }')"
  {
    echo
    echo "## $STREAMS slow streams through ${v0} (max_tokens $MAX_TOKENS; h800 sim x$SLOW_SIM_REPLICAS at time scale 0.05)"
    echo "holder: $open_line; after the measurement: $status_line; client connections established at Jevons: $estab; Jevons OS threads: $threads"
    echo "heap after GC: $heap0 KB -> $heap1 KB; RSS: $rss0 KB -> $rss1 KB"
    if [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]]; then
      printf 'per open stream: heap %.1f KB, RSS %.1f KB (target <= 50 KB)\n' \
        "$(echo "($heap1 - $heap0) / $n" | bc -l)" "$(echo "($rss1 - $rss0) / $n" | bc -l)"
    fi
  } | tee -a "$summary"
  "$JCMD" "$spid" GC.class_histogram 2>/dev/null | head -40 >"$out/streams-histogram.txt" || true
  kill "$holder" 2>/dev/null || true
fi

log "done; summary in $summary"
