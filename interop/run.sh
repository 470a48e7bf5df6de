#!/usr/bin/env bash
# Interoperability suite: both example APIs (axum_api, actix_api) against a real
# authorization server, oidc-provider (interop/provider.mjs), issuing RFC 9068 JWT access
# tokens by the client_credentials grant. Everything runs on 127.0.0.1; every wait is
# bounded; every process started here is stopped on exit.
#
#   bash interop/run.sh            # needs node >= 20, npm, curl and the Rust toolchain
#
# For each example: real tokens are accepted (/me, claims), scope is enforced (/admin 403
# then 200), a tampered, wrong-audience or opaque token is refused (401), and a key
# rotation at the provider (restart on the same issuer with a new signing key) is followed:
# the new key's tokens are accepted after a refetch, and keys the provider stops
# publishing stop verifying. Ends with `interop: N passed, M failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT_ID=interop-client
CLIENT_SECRET=interop-secret
AUDIENCE=https://api.interop.test        # provider.mjs: scopes "read admin"
OTHER_AUDIENCE=https://other.interop.test # provider.mjs: another API's audience
EXAMPLES=(axum_api actix_api)
CURL=(curl -sS --noproxy '*' --max-time 10)

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-interop.XXXXXX")
PROVIDER_PID=""
API_PID=""
EXAMPLE=setup

# A process still running (a child that exited but was not reaped yet counts as gone).
alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 1
    [ "$state" != Z ]
}

# Stops one process started here: TERM, up to 5 s, then KILL.
stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop "$API_PID"
    stop "$PROVIDER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary() {
    echo "interop: $passed passed, $failed failed"
}

# A setup step failed: no point going on.
die() {
    echo "FAIL - $EXAMPLE: $*"
    failed=$((failed + 1))
    summary
    exit 1
}

# Prints the first line of FILE matching REGEX once it appears, within SECONDS, while PID
# runs.
wait_for_line() {
    local file=$1 regex=$2 pid=$3 seconds=$4 line
    for _ in $(seq $((seconds * 10))); do
        line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

# Starts provider.mjs on PORT (0: any) publishing KEYS (the first signs). Sets ISSUER, KID.
start_provider() {
    local port=$1 keys=$2 line n=$((${N_PROVIDER:-0} + 1))
    N_PROVIDER=$n
    node interop/provider.mjs --port "$port" --keys "$keys" \
        --keys-file "$WORK/$EXAMPLE-keys.json" --lifetime 600 \
        >"$WORK/$EXAMPLE-provider-$n.out" 2>"$WORK/$EXAMPLE-provider-$n.err" </dev/null &
    PROVIDER_PID=$!
    if ! line=$(wait_for_line "$WORK/$EXAMPLE-provider-$n.out" '^ready ' "$PROVIDER_PID" 30); then
        cat "$WORK/$EXAMPLE-provider-$n.err" >&2
        return 1
    fi
    ISSUER=$(awk '{print $2}' <<<"$line")
    KID=$(sed -n 's/.* kid=\([^ ]*\).*/\1/p' <<<"$line")
    echo "     provider $ISSUER signing with $KID (publishes ${line##*published=})"
}

# Starts target/debug/examples/NAME against $ISSUER. Sets API (its base URL).
start_api() {
    local name=$1 line
    env -u TOKENGATE_JWKS_URL -u TOKENGATE_MIN_CACHE_TTL_MS \
        TOKENGATE_ISSUER="$ISSUER" \
        TOKENGATE_AUDIENCE="$AUDIENCE" \
        TOKENGATE_REFRESH_COOLDOWN_MS=200 \
        BIND_ADDR=127.0.0.1:0 \
        NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" \
        no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}" \
        RUST_LOG="${RUST_LOG:-info,tokengate=debug}" NO_COLOR=1 \
        "target/debug/examples/$name" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    API_PID=$!
    if ! line=$(wait_for_line "$WORK/$name.out" '^listening on http://' "$API_PID" 30); then
        tail -n 20 "$WORK/$name.err" >&2
        return 1
    fi
    API=${line#listening on }
    echo "     $name listening on $API"
}

# One field of a JSON file (strings raw, other values as JSON); fails when absent.
json_get() {
    node -e '
        const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
        if (v === undefined) process.exit(1);
        process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
    ' "$1" "$2"
}

# A token from the provider's token endpoint: client_credentials, SCOPE, optional RESOURCE.
token() {
    local args=(-u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials
        --data-urlencode "scope=$1")
    if [ -n "${2:-}" ]; then
        args+=(--data-urlencode "resource=$2")
    fi
    "${CURL[@]}" "${args[@]}" "$ISSUER/token" >"$WORK/token.json" || return 1
    json_get "$WORK/token.json" access_token || {
        echo "     no access_token from the provider: $(cat "$WORK/token.json")" >&2
        return 1
    }
}

# The decoded JOSE header field of a JWT.
jwt_header() {
    node -e '
        const h = JSON.parse(Buffer.from(process.argv[1].split(".")[0], "base64url"));
        process.stdout.write(String(h[process.argv[2]] ?? ""));
    ' "$1" "$2"
}

# The same token with one character in the middle of its signature changed.
tamper() {
    local head=${1%.*} sig=${1##*.} i c r
    i=$((${#sig} / 2))
    c=${sig:i:1}
    r=A
    [ "$c" != A ] || r=B
    echo "$head.${sig:0:i}$r${sig:i+1}"
}

# GET API PATH, with TOKEN as bearer if given. Sets STATUS; body and headers in $WORK.
request() {
    local auth=()
    if [ -n "${2:-}" ]; then
        auth=(-H "Authorization: Bearer $2")
    fi
    STATUS=$("${CURL[@]}" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        "${auth[@]}" "$API$1") || STATUS=000
}

www_authenticate() {
    grep -i '^www-authenticate:' "$WORK/headers" 2>/dev/null | head -n 1 | cut -d' ' -f2- | tr -d '\r'
}

# expect STATUS [TEXT...]: the last response had STATUS and a WWW-Authenticate containing
# every TEXT.
expect() {
    local want=$1 header
    shift
    header=$(www_authenticate)
    if [ "$STATUS" != "$want" ]; then
        echo "     expected HTTP $want, got $STATUS; WWW-Authenticate: $header; body: $(head -c 300 "$WORK/body" 2>/dev/null)"
        return 1
    fi
    for text in "$@"; do
        if [[ $header != *"$text"* ]]; then
            echo "     WWW-Authenticate \"$header\" lacks $text"
            return 1
        fi
    done
}

# A 401 that asks for credentials without naming an error (RFC 6750 section 3.1).
expect_bare_challenge() {
    expect 401 Bearer || return 1
    if [[ $(www_authenticate) == *error=* ]]; then
        echo "     WWW-Authenticate \"$(www_authenticate)\" names an error"
        return 1
    fi
}

# The last body is the verified claims of a token for this client, issuer and audience,
# with SCOPE.
expect_claims() {
    node -e '
        const [file, clientId, issuer, audience, scope] = process.argv.slice(1);
        const c = JSON.parse(require("fs").readFileSync(file, "utf8"));
        const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
        const bad = [];
        if (c.sub !== clientId) bad.push(`sub ${JSON.stringify(c.sub)}`);
        if (c.client_id !== clientId) bad.push(`client_id ${JSON.stringify(c.client_id)}`);
        if (c.iss !== issuer) bad.push(`iss ${JSON.stringify(c.iss)}`);
        if (!aud.includes(audience)) bad.push(`aud ${JSON.stringify(c.aud)}`);
        if (c.scope !== scope) bad.push(`scope ${JSON.stringify(c.scope)}`);
        if (bad.length) { console.log(`     unexpected claims: ${bad.join(", ")}`); process.exit(1); }
    ' "$WORK/body" "$CLIENT_ID" "$ISSUER" "$AUDIENCE" "$1"
}

# The token is an RFC 9068 access token signed with RS256 by the key KID.
expect_jwt() {
    local typ alg kid
    typ=$(jwt_header "$1" typ) alg=$(jwt_header "$1" alg) kid=$(jwt_header "$1" kid)
    if [ "$typ" != at+jwt ] || [ "$alg" != RS256 ] || [ "$kid" != "$2" ]; then
        echo "     token header typ=$typ alg=$alg kid=$kid, expected at+jwt RS256 $2"
        return 1
    fi
}

# GET PATH with TOKEN until STATUS (at most 40 tries, 0.25 s apart: the API refetches keys
# at most once per cooldown, and backs off after a failed fetch).
eventually() {
    local path=$1 tok=$2 want=$3 tries
    for tries in $(seq 40); do
        request "$path" "$tok"
        if [ "$STATUS" = "$want" ]; then
            [ "$tries" = 1 ] || echo "     (HTTP $want after $tries tries)"
            return 0
        fi
        sleep 0.25
    done
    expect "$want"
}

# check DESCRIPTION COMMAND...: runs the command and counts it.
check() {
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   - $EXAMPLE: $what"
    else
        failed=$((failed + 1))
        echo "FAIL - $EXAMPLE: $what"
        if [ -s "$WORK/$EXAMPLE.err" ]; then
            echo "     last lines of $EXAMPLE's log:"
            tail -n 8 "$WORK/$EXAMPLE.err" | sed 's/^/       /'
        fi
    fi
}

run_example() {
    local name=$1 port read admin other opaque old_read new_read newest
    EXAMPLE=$name
    N_PROVIDER=0
    start_provider 0 k1 || die "oidc-provider did not start"
    port=${ISSUER##*:}
    local k1=$KID
    start_api "$name" || die "$name did not start"

    request /health
    check "GET /health is 200" expect 200

    request /me
    check "GET /me without a token is 401 with a bare Bearer challenge" expect_bare_challenge

    read=$(token read "$AUDIENCE") || die "no token for scope read"
    check "the provider issues an RFC 9068 JWT (typ at+jwt, RS256, kid $k1)" expect_jwt "$read" "$k1"

    request /me "$read"
    check "GET /me with a real token (scope read) is 200" expect 200
    check "/me returns the verified claims: sub = client_id = $CLIENT_ID, iss, aud, scope" \
        expect_claims read

    request /admin "$read"
    check "GET /admin with scope read is 403 insufficient_scope" \
        expect 403 'error="insufficient_scope"' 'scope="admin"'

    admin=$(token "read admin" "$AUDIENCE") || die "no token for scope read admin"
    request /admin "$admin"
    check "GET /admin with scope \"read admin\" is 200" expect 200

    request /me "$(tamper "$read")"
    check "a token with a tampered signature is 401 invalid_token" expect 401 'error="invalid_token"'

    other=$(token read "$OTHER_AUDIENCE") || die "no token for $OTHER_AUDIENCE"
    request /me "$other"
    check "a real token for another audience ($OTHER_AUDIENCE) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    opaque=$(token read) || die "no opaque token"
    request /me "$opaque"
    check "a real opaque (non-JWT) token is 401 invalid_token" expect 401 'error="invalid_token"'

    # Rotation: the same issuer restarts signing with a new key k2, still publishing k1.
    old_read=$read
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
    start_provider "$port" k2,k1 || die "oidc-provider did not restart on port $port"
    local k2=$KID
    [ "$k2" != "$k1" ] || die "the provider did not rotate its signing key"
    new_read=$(token read "$AUDIENCE") || die "no token after rotation"
    check "after rotation the provider signs with the new key $k2" expect_jwt "$new_read" "$k2"
    eventually /me "$new_read" 200
    check "a token signed with the new key is accepted (JWKS refetched): /me 200" expect 200
    request /me "$old_read"
    check "a token signed with the old key, still published, is still accepted" expect 200

    # Retirement: the provider now publishes only a third key, k3.
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
    start_provider "$port" k3 || die "oidc-provider did not restart on port $port"
    local k3=$KID
    newest=$(token read "$AUDIENCE") || die "no token after the second rotation"
    eventually /me "$newest" 200
    check "after a second rotation a token signed with $k3 is accepted" expect 200
    request /me "$old_read"
    check "a token signed with a key no longer published ($k1) is 401 invalid_token" \
        expect 401 'error="invalid_token"'
    request /me "$new_read"
    check "a token signed with a key no longer published ($k2) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    stop "$API_PID"
    API_PID=""
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
}

command -v node >/dev/null || die "node is not installed"
command -v curl >/dev/null || die "curl is not installed"
if [ ! -d interop/node_modules/oidc-provider ]; then
    (cd interop && timeout 600 npm ci --no-audit --no-fund) || die "npm ci failed"
fi
timeout 1800 cargo build --examples || die "cargo build --examples failed"

for name in "${EXAMPLES[@]}"; do
    echo "# $name against oidc-provider $(json_get interop/node_modules/oidc-provider/package.json version)"
    run_example "$name"
done

summary
[ "$failed" = 0 ]
