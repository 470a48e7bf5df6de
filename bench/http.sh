#!/usr/bin/env bash
# HTTP throughput of a protected route as a fraction of the same server's /health, for
# both examples and a hand-rolled jsonwebtoken server (bench/handrolled.rs), in one run.
# The server is pinned to core 0, the load generator to core 1; all traffic
# stays on 127.0.0.1.
#
#   bash bench/http.sh            # everything: about 10 minutes
#   DURATION=10s ROUNDS=5 bash bench/http.sh
#   EXAMPLES=actix_api MEMORY=0 bash bench/http.sh    # one server, no memory run
#   LOADERS=spin WORKLOADS="reuse no-cache" bash bench/http.sh
#   WORKLOADS="reuse dpop dpop-redis" ROUTES=/me LOADERS=spin MEMORY=0 bash bench/http.sh
#
# Load generators (LOADERS): wrk, and spin (bench/load.rs), which never sleeps, so the
# server is not charged for waking it on loopback (see bench/load.rs for the numbers).
#
# Each ratio is measured in ROUNDS rounds, the baseline and the route back to back in
# every round, so a drift of the machine's speed hits both; the median ratio is printed
# with the range of the rounds beside it.
#
# Protected routes (ROUTES): GET /me answers the whole verified claims as JSON, as most
# users' handlers do with what they extract; GET /admin needs scope admin and answers two
# fields. The tokens are shaped like a real issuer's (bench/issuer.rs: RS256, ~1.4 KB, a
# dozen claims). Each row also prints the server's CPU per request and the route's p50 and
# p99 latency (wrk --latency; bench/load.rs measures each request).
#
# Workloads:
#   reuse     every request carries the same token (token cache on, the default)
#   pool      tokens drawn at random from 10,000 distinct ones (cache on)
#   no-cache  the same token, TOKENGATE_TOKEN_CACHE_SIZE=0: every request verified (RS256);
#             under each such row, the RS256 check of that token alone (bench/verify.rs:
#             raw aws-lc-rs, key parsed once, on the server's core while it is idle) and
#             the ceiling it sets, /health's µs over (/health's µs + the check's): what the
#             row's ratio would be if the route did nothing but verify the signature
#   dpop      a DPoP-bound token (the reuse token's shape plus cnf.jkt, cache on), each
#             request with its own ES256 proof; TOKENGATE_DPOP=allowed, the in-memory
#             replay store (the examples' default: 120,000 jtis, so a run at this rate
#             also pays for its evictions); DPOP_ALG=EdDSA signs the proofs with Ed25519
#   dpop-redis  the same with TOKENGATE_DPOP_REDIS_URL: the jtis in a redis-server this
#             script starts on a free 127.0.0.1 port, pinned to the server's core 0, so
#             the route's throughput pays for Redis's CPU as well as the round trip; a
#             note under the row gives redis-server's own CPU per request. Skipped, with
#             a note, when redis-server is missing.
# The DPoP rows need the spin loader (skipped with wrk) and a pre-signed pool of proofs,
# not a proof signed per request: a proof is single-use (the replay store refuses a jti
# twice) and must be used within the iat window (60 s either way), so just before each
# run bench_issuer signs a batch sized from the /health rate just measured (x 1.25, at
# most DPOP_MAX_PROOFS) and bench_load --lines sends each once, in order, failing the run
# if they run out rather than reuse one (a replayed proof would be a 401 anyway). The
# baseline /health requests carry the same two headers, one proof repeated (/health
# checks nothing). Signing costs ~55 µs a proof (~0.5 KB a line) on the loader's core
# between the runs. The DPoP workloads are not in the default run: with both routes they
# would add about 7 minutes to its 10 (each round signs ~7 s of proofs per row).
# Then memory: RSS of axum_api before and after 100,000 distinct tokens enter its cache.
#
# SCALING=1 adds, for each example, GET /me with one token reused on a server with one
# core (core 0; wrk on core 1) and on a server with two (cores 0 and 1, two workers).
# This machine has two cores, so in the second run the load generator shares them with
# the server and the route's throughput says more about the sharing than about the
# server. What the run can tell is whether serving on two cores at once makes a request
# dearer (locks, contended atomics, cache lines moving between cores): the server's CPU
# per request on one core (c1) against on two (c2). Two free cores serve 2 x c1 / c2
# times what one does; that estimate is printed beside the raw throughputs. GET /health
# of the same servers is the control: what sharing two cores with wrk costs a request
# that takes no lock and touches no shared state of tokengate's. wrk, not the
# spin loader, drives these runs: the spin loader keeps a core busy even while it waits,
# which here would be a core taken from the server.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
ROUTES=${ROUTES:-/me /admin}
THREADS=${THREADS:-1}
WORKLOADS=${WORKLOADS:-reuse pool no-cache}
LOADERS=${LOADERS:-wrk spin}
POOL=10000
MEMORY_TOKENS=100000
DPOP_MAX_PROOFS=${DPOP_MAX_PROOFS:-1000000}
# What DPoP proofs sign as the API's origin (htu): the examples' TOKENGATE_PUBLIC_URL.
DPOP_ORIGIN=http://api.bench
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is needed (util-linux)"; exit 1; }

cargo build --release --examples -q
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The issuer mints the tokens, then serves discovery and the JWKS (core 1).
mkfifo "$work/issuer.in"
# The memory run needs MEMORY_TOKENS distinct tokens; the throughput runs only the pool.
[ "${MEMORY:-1}" = 1 ] && minted=$MEMORY_TOKENS || minted=$POOL
taskset -c 1 target/release/examples/bench_issuer "$minted" "$work/tokens.txt" --dpop "$DPOP_ORIGIN" \
  < "$work/issuer.in" > "$work/issuer.out" &
pids+=($!)
exec 3>"$work/issuer.in"
# Minting RS256 tokens takes about 1.2 ms each on one core: 100,000 take two minutes.
for _ in $(seq 1 6000); do grep -q '^issuer ' "$work/issuer.out" 2>/dev/null && break; sleep 0.1; done
read -r _ issuer _ audience < "$work/issuer.out" || { echo "the bench issuer did not start" >&2; exit 1; }
head -n "$POOL" "$work/tokens.txt" > "$work/pool.txt"
token=$(head -n 1 "$work/tokens.txt")
dpop_token=$(sed -n 's/^dpop //p' "$work/issuer.out")

# mint_proofs count path -> $work/proofs.txt: `count` fresh proofs for GET path (bench/issuer.rs).
mint_proofs() {
  local count=$1 path=$2 batch
  batch=$(mktemp "$work/proofs.XXXXXX")
  echo "proofs $count $batch $path" >&3
  # About 55 µs a proof: a million take a minute.
  for _ in $(seq 1 3000); do grep -qx "proofs $count $batch" "$work/issuer.out" && break; sleep 0.1; done
  grep -qx "proofs $count $batch" "$work/issuer.out" || { echo "bench_issuer minted no proofs" >&2; exit 1; }
  mv "$batch" "$work/proofs.txt"
}
mint_proofs 1 /health
health_proof=$(cat "$work/proofs.txt")

# A redis-server for the dpop-redis rows, on a free port and the server's core (started once).
redis_url=
start_redis() {
  [ -z "$redis_url" ] || return 0
  command -v redis-server >/dev/null || return 1
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  taskset -c 0 redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --daemonize no > "$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 1 100); do (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$port/"
}

start_api() { # example, cache size[, Redis URL for the replay store] -> sets api_pid, api_url
  local log="$work/$1-$2.log"
  TOKENGATE_ISSUER="$issuer" TOKENGATE_AUDIENCE="$audience" BIND_ADDR=127.0.0.1:0 \
    TOKENGATE_TOKEN_CACHE_SIZE="$2" RUST_LOG=warn \
    TOKENGATE_DPOP=allowed TOKENGATE_PUBLIC_URL="$DPOP_ORIGIN" TOKENGATE_DPOP_REDIS_URL="${3:-}" \
    taskset -c "${SERVER_CORES:-0}" "target/release/examples/$1" > "$log" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  for _ in $(seq 1 300); do grep -q '^listening on ' "$log" 2>/dev/null && break; sleep 0.1; done
  api_url=$(sed -n 's/^listening on //p' "$log" | head -n 1)
  # Warm up: the first request fetches the keys.
  curl -s --max-time 10 -o /dev/null -H "Authorization: Bearer $token" "$api_url/admin"
}

# rps loader workload path -> "requests/s server-CPU-µs-per-request p50-µs p99-µs". The CPU is the
# server's user + system time over the run (/proc/PID/stat), so a load generator that
# cannot keep up shows as a server below one core, not as a cheaper request.
rps() {
  local loader=$1 workload=$2 path=$3
  local before after out
  before=$(cpu_ticks)
  case "$loader/$workload" in
    wrk/same)
      out=$(taskset -c 1 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -H "Authorization: Bearer $token" "$api_url$path") ;;
    wrk/pool) # wrk's Lua runs per request here, for the baseline too, so both pay for it.
      out=$(TOKENS_FILE="$work/pool.txt" MODE=random taskset -c 1 \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/pool.lua "$api_url$path") ;;
    spin/same)
      out=$(taskset -c 1 target/release/examples/bench_load "$api_url$path" "$CONNECTIONS" \
        "${DURATION%s}" --header "Authorization: Bearer $token") ;;
    spin/pool)
      out=$(taskset -c 1 target/release/examples/bench_load "$api_url$path" "$CONNECTIONS" \
        "${DURATION%s}" --tokens "$work/pool.txt") ;;
    spin/dpop) # the proofs mint_proofs signed for this run; /health: one, repeated
      local proofs=(--lines "$work/proofs.txt")
      [ "$path" != /health ] || proofs=(--header "$health_proof")
      out=$(taskset -c 1 target/release/examples/bench_load "$api_url$path" "$CONNECTIONS" \
        "${DURATION%s}" --header "Authorization: DPoP $dpop_token" "${proofs[@]}") || {
        echo "bench_load failed on $path (proofs used up: a larger DPOP_MAX_PROOFS)" >&2; exit 1; } ;;
  esac
  after=$(cpu_ticks)
  # A rejected request is cheap: any answer but 200 would fake a fast route.
  if grep -q 'Non-2xx' <<< "$out"; then echo "non-200 answers from $path:" >&2; echo "$out" >&2; exit 1; fi
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    function us(v) { # wrk prints 850.00us, 1.23ms or 2.01s
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return v * 1000
      if (v ~ /s$/) return v * 1000000
      return v
    }
    /requests in/ {n = $1}
    /^Requests\/sec/ {r = $2}
    /^ +50(\.000)?%/ {p50 = us($2)}
    /^ +99(\.000)?%/ {p99 = us($2)}
    /^requests [0-9]+ seconds/ {n = $2; r = $6; p50 = $8; p99 = $10}
    END {printf "%s %.2f %.0f %.0f\n", r, ticks / hz * 1e6 / n, p50, p99}' <<< "$out"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$api_pid/stat"; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# compare adapter workload path [wrk args...]: /health against `path` with the same wrk
# arguments, ROUNDS times, back to back; prints the medians and the ratios' range.
compare() { # adapter workload path loader kind
  local adapter=$1 workload=$2 path=$3 loader=$4 kind=$5
  local healths=() routes=() ratios=() hcpu=() rcpu=() p50s=() p99s=() h hc r rc r50 r99
  for _ in $(seq 1 "$ROUNDS"); do
    read -r h hc _ _ < <(rps "$loader" "$kind" /health) || exit 1
    [ "$kind" != dpop ] || mint_proofs "$(awk -v h="$h" -v d="${DURATION%s}" -v c="$CONNECTIONS" \
      -v max="$DPOP_MAX_PROOFS" 'BEGIN {n = int(h * d * 1.25) + c + 1000; print (n < max ? n : max)}')" "$path"
    read -r r rc r50 r99 < <(rps "$loader" "$kind" "$path") || exit 1
    healths+=("$h"); routes+=("$r"); hcpu+=("$hc"); rcpu+=("$rc"); p50s+=("$r50"); p99s+=("$r99")
    ratios+=("$(awk -v a="$r" -v b="$h" 'BEGIN {printf "%.3f", a / b}')")
  done
  printf '%-10s %-5s %-9s %-6s %11.0f %11.0f %7.2f   %.2f - %.2f %10.2f %10.2f %8.0f %8.0f\n' \
    "$adapter" "$loader" "$workload" "$path" \
    "$(median "${healths[@]}")" "$(median "${routes[@]}")" "$(median "${ratios[@]}")" \
    "$(printf '%s\n' "${ratios[@]}" | sort -g | head -n 1)" \
    "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -n 1)" \
    "$(median "${hcpu[@]}")" "$(median "${rcpu[@]}")" "$(median "${p50s[@]}")" "$(median "${p99s[@]}")"
}

# The issuer's JWKS, for bench_verify (the signature floor under the cache-off rows).
jwks_uri=$(curl -s --max-time 10 "$issuer/.well-known/openid-configuration" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["jwks_uri"])')
curl -s --max-time 10 -o "$work/jwks.json" "$jwks_uri"

# signature_floor health-µs: the RS256 check of this run's token alone, on the server's
# core while the server is idle (bench/verify.rs), and the most a route verifying every
# token can then serve of /health: H / (H + V), were all else it does free.
signature_floor() {
  local verify
  verify=$(taskset -c "${SERVER_CORES:-0}" target/release/examples/bench_verify "$token" \
    "$work/jwks.json" 2 | awk '{print $2}') || exit 1
  awk -v h="$1" -v v="$verify" -v core="${SERVER_CORES:-0}" 'BEGIN {printf "  (RS256 check alone, raw aws-lc-rs on core %s: %.2f µs; the ceiling of this row: %.2f of /health)\n", core, v, h / (h + v)}'
}

# compare_verified adapter path loader: the cache-off row, then its signature floor.
compare_verified() {
  local row
  row=$(compare "$1" no-cache "$2" "$3" same) || exit 1
  echo "$row"
  signature_floor "$(awk '{print $11}' <<< "$row")"
}

echo "$ROUNDS rounds of $DURATION per measurement; medians, and the ratio's range over the rounds"
echo "$CONNECTIONS connections; µs columns: server CPU per request, then the route's p50 and p99 latency"
printf '%-10s %-5s %-9s %-6s %11s %11s %7s   %-11s %10s %10s %8s %8s\n' adapter load workload route \
  "health rps" "route rps" ratio range "health µs" "route µs" "p50 µs" "p99 µs"
for example in ${EXAMPLES:-axum_api actix_api bench_handrolled}; do
  adapter=${example%_api}
  if [ "$example" = bench_handrolled ]; then
    # The comparison: axum + jsonwebtoken::decode in a middleware, no token cache.
    start_api "$example" 0
    for loader in $LOADERS; do
      for route in $ROUTES; do compare_verified handrolled "$route" "$loader"; done
    done
    kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
    continue
  fi
  if [[ " $WORKLOADS " == *" reuse "* || " $WORKLOADS " == *" pool "* ]]; then
    start_api "$example" 20000
    for loader in $LOADERS; do
      for route in $ROUTES; do
        [[ " $WORKLOADS " != *" reuse "* ]] || compare "$adapter" reuse "$route" "$loader" same
        [[ " $WORKLOADS " != *" pool "* ]] || compare "$adapter" pool "$route" "$loader" pool
      done
    done
    kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  fi
  if [[ " $WORKLOADS " == *" no-cache "* ]]; then
    start_api "$example" 0
    for loader in $LOADERS; do
      for route in $ROUTES; do compare_verified "$adapter" "$route" "$loader"; done
    done
    kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  fi
  for workload in dpop dpop-redis; do
    [[ " $WORKLOADS " == *" $workload "* ]] || continue
    [[ " $LOADERS " == *" spin "* ]] || { echo "($workload: needs LOADERS=spin)"; continue; }
    store=
    if [ "$workload" = dpop-redis ]; then
      start_redis || { echo "($workload: skipped, no redis-server: apt-get install redis-server)"; continue; }
      store=$redis_url
    fi
    start_api "$example" 20000 "$store"
    for route in $ROUTES; do
      redis_before=0
      [ -z "$store" ] || redis_before=$(awk '{print $14 + $15}' "/proc/$redis_pid/stat")
      row=$(compare "$adapter" "$workload" "$route" spin dpop) || exit 1
      echo "$row"
      if [ -n "$store" ]; then
        # Redis's CPU over the rounds, per route request (the route rps times DURATION).
        awk -v ticks=$(($(awk '{print $14 + $15}' "/proc/$redis_pid/stat") - redis_before)) \
          -v hz="$(getconf CLK_TCK)" -v rps="$(awk '{print $6}' <<< "$row")" -v d="${DURATION%s}" \
          -v rounds="$ROUNDS" 'BEGIN {printf "  (redis-server: %.2f µs CPU per request, on core 0 beside the server)\n",
            ticks / hz * 1e6 / (rps * d * rounds)}'
      fi
    done
    kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  done
done

# scale_run cores path -> "requests/s server-µs-per-request server-cores-busy": GET `path`
# with the one token, the server on `cores`, wrk beside it (see SCALING in the header).
scale_run() {
  local cores=$1 path=$2 loader_cores=1 threads=1 before after started ended out
  [ "$cores" = 0 ] || { loader_cores=$cores; threads=2; }
  before=$(cpu_ticks); started=$(date +%s.%N)
  out=$(taskset -c "$loader_cores" wrk -t"$threads" -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $token" "$api_url$path")
  ended=$(date +%s.%N); after=$(cpu_ticks)
  if grep -q 'Non-2xx' <<< "$out"; then echo "non-200 answers from $path:" >&2; echo "$out" >&2; exit 1; fi
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" -v t="$started" -v u="$ended" '
    /requests in/ {n = $1}
    /^Requests\/sec/ {r = $2}
    END {printf "%s %.2f %.2f\n", r, ticks / hz * 1e6 / n, ticks / hz / (u - t)}' <<< "$out"
}

if [ "${SCALING:-0}" = 1 ]; then
  echo
  echo "scaling: GET /me with one token reused, and GET /health (the machine's own scaling, the"
  echo "control), the server on one core and on two (see the header)"
  printf '%-10s %-8s %12s %12s %9s %9s %12s %10s\n' adapter route "1-core rps" "2-core rps" \
    "c1 µs" "c2 µs" "2-core busy" "2 x c1/c2"
  for example in ${EXAMPLES:-axum_api actix_api}; do
    [ "$example" != bench_handrolled ] || continue
    SERVER_CORES=0 start_api "$example" 20000; single=$api_pid; single_url=$api_url
    SERVER_CORES=0,1 start_api "$example" 20000; double=$api_pid; double_url=$api_url
    for path in /me /health; do
      one=(); two=(); c1=(); c2=(); busy=()
      for _ in $(seq 1 "$ROUNDS"); do
        api_pid=$single; api_url=$single_url
        read -r r c _ < <(scale_run 0 "$path") || exit 1
        one+=("$r"); c1+=("$c")
        api_pid=$double; api_url=$double_url
        read -r r c b < <(scale_run 0,1 "$path") || exit 1
        two+=("$r"); c2+=("$c"); busy+=("$b")
      done
      m1=$(median "${c1[@]}"); m2=$(median "${c2[@]}")
      printf '%-10s %-8s %12.0f %12.0f %9.2f %9.2f %12.2f %10.2f\n' "${example%_api}" "$path" \
        "$(median "${one[@]}")" "$(median "${two[@]}")" "$m1" "$m2" "$(median "${busy[@]}")" \
        "$(awk -v a="$m1" -v b="$m2" 'BEGIN {print 2 * a / b}')"
    done
    kill "$single" "$double"; wait "$single" "$double" 2>/dev/null || true
  done
fi

[ "${MEMORY:-1}" = 1 ] || exit 0
# Memory: 100,000 distinct live tokens into the cache of one server (MEMORY_EXAMPLES: each
# of these examples in turn, axum_api by default).
echo
for example in ${MEMORY_EXAMPLES:-axum_api}; do
  start_api "$example" "$MEMORY_TOKENS"
  rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$api_pid/status")
  # One connection, tokens in order: 100,000 requests take a few seconds; 20 s leaves room
  # on a slow machine (the order wraps around afterwards, adding nothing new).
  TOKENS_FILE="$work/tokens.txt" MODE=sequential taskset -c 1 \
    wrk -t1 -c1 -d"${MEMORY_DURATION:-20s}" -s bench/pool.lua "$api_url/admin" > /dev/null
  rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$api_pid/status")
  echo "memory ($example): RSS $((rss_before / 1024)) MiB before, $((rss_after / 1024)) MiB after up to $MEMORY_TOKENS distinct tokens;" \
    "$(( (rss_after - rss_before) * 1024 / MEMORY_TOKENS )) bytes per cached token"
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
done
