#!/usr/bin/env bash
# The burn-and-issue hash-lock of JP6980288B2 (shared/specs/hashlock.md) across TWO chains on this
# machine: a power chain (chain id kessai-power, contract power-ledger = SC1) and a value chain
# (chain id kessai-value, contract value-certificate = SC2), both one-validator chains built from
# the dev preset. It starts both, and stops them at the end.
#
#   administrator (terminal 14) = alice: issues power and certificates on both chains
#   generator     (terminal 24) = bob:   holds power information
#
# 0. Issuance example on the power chain: carol 100, dave 50; issue(20, carol) → 120, 50.
# 1. Embodiment 3 (bob draws R, blake3 lock; contracts power-ledger and value-certificate):
#    bob's burn request (first leg, `kessai swap register --secret`) → alice's client proves it on
#    the power chain and registers Y's transfer condition under its lock, for bob, checked against
#    its proven deadline (second leg, `kessai swap register --counter-…`) → alice's relayer
#    watches the value chain → bob claims Y with R → the relayer reads R (event + verified proof)
#    and burns bob's power on the power chain.
# 2. The same power cannot be converted twice: burn again, reuse the lock, certify Y again, claim
#    again — all refused; bob's power and the total supply are down by exactly X.
# 3. Embodiment 4 (alice draws R, SHA-256 lock as BIP-199 HTLCs use; contracts
#    value-certificate-e4 and power-ledger-e4, where transfer conditions come first): alice offers
#    Y2 (first leg); a burn request without the condition's deadline (as if it were a first leg) is
#    refused; bob's client proves the condition and registers the burn request, which expires a
#    margin before it; bob's relayer watches the power chain; alice burns with R; the relayer claims
#    Y2 for bob with the R it read there.
# 4. Abort: a burn request and a transfer condition nobody answers; withdrawing early is refused,
#    after the timeouts bob gets his power back and alice her certificate.
#
# Environment: KESSAI (the binary; default: $CARGO_TARGET_DIR/debug/kessai, else `kessai`),
# POWER_PORT / VALUE_PORT (RPC ports, default 28645 / 28646; they must be free), WORK (directory for both chains'
# homes, default a fresh temporary one), GAS_LOG (a file to append "CONTRACT METHOD GAS" lines to).
set -euo pipefail

if [ -z "${KESSAI:-}" ]; then
  KESSAI="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}/debug/kessai"
  [ -x "$KESSAI" ] || KESSAI=kessai
fi
POWER_PORT="${POWER_PORT:-28645}"
VALUE_PORT="${VALUE_PORT:-28646}"
POWER="http://127.0.0.1:$POWER_PORT"
VALUE="http://127.0.0.1:$VALUE_PORT"
GAS_LOG="${GAS_LOG:-}"
WORK="${WORK:-$(mktemp -d)}"
KEYS="$WORK/keys"
# Dev-preset hash-lock rules (decision 0009): first legs 40 s, second legs 15 s, a second leg's
# deadline at least 5 s before its counter leg's.

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
die() { echo "hashlock demo: $*" >&2; kill -s TERM $$; exit 1; }
command -v jq >/dev/null || die "needs jq"
command -v "$KESSAI" >/dev/null || die "no kessai binary (set KESSAI, or: cargo build -p kessai-cli)"

say() { printf '\n== %s\n' "$*"; }

# --- two chains ---------------------------------------------------------------------------------

# A chain spec from the dev preset under another chain id: two independent chains.
"$KESSAI" init --home "$WORK/template" --chain dev --dev-key validator-0 >/dev/null
start_chain() { # start_chain NAME CHAIN_ID PORT
  local url="http://127.0.0.1:$3" pid
  "$KESSAI" status --rpc "$url" >/dev/null 2>&1 && die "port $3 is taken by another node (set ${1^^}_PORT)"
  jq --arg id "$2" '.chain_id = $id' "$WORK/template/chainspec.json" >"$WORK/$1-spec.json"
  "$KESSAI" init --home "$WORK/$1" --chain "$WORK/$1-spec.json" --dev-key validator-0 \
    --rpc-addr "127.0.0.1:$3" >/dev/null
  "$KESSAI" node run --home "$WORK/$1" >"$WORK/$1.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 150); do
    [ "$("$KESSAI" status --rpc "$url" --json 2>/dev/null | jq -r .chain_id)" = "$2" ] && return
    kill -0 "$pid" 2>/dev/null || die "the $2 node exited: $(tail -5 "$WORK/$1.log")"
    sleep 0.2
  done
  die "no $2 node at $url (log: $WORK/$1.log)"
}
start_chain power kessai-power "$POWER_PORT"
start_chain value kessai-value "$VALUE_PORT"
# The dev members' key files (alice, bob, …), as `kessai dev` writes them.
mkdir -p "$KEYS"
"$KESSAI" dev --home "$WORK/keys-home" --rpc-addr 127.0.0.1:0 >/dev/null 2>&1 &
KEYGEN=$!
for _ in $(seq 100); do [ -f "$WORK/keys-home/keys/frank.json" ] && break; sleep 0.1; done
kill "$KEYGEN" 2>/dev/null; wait "$KEYGEN" 2>/dev/null || true
cp "$WORK"/keys-home/keys/*.json "$KEYS/"
export KESSAI_KEYS="$KEYS"

say "two chains: $("$KESSAI" status --rpc "$POWER" --json | jq -r .chain_id) at $POWER, $("$KESSAI" status --rpc "$VALUE" --json | jq -r .chain_id) at $VALUE"

addr() { jq -r .public_key "$KEYS/$1.json"; }
ALICE="$(addr alice)"
BOB="$(addr bob)"

# tx RPC KEY CONTRACT METHOD JSON: calls the method, prints its gas to stderr, its result to stdout.
tx() {
  local out gas
  out="$("$KESSAI" tx call "$3" "$4" "$5" --key "$2" --rpc "$1" --json)" \
    || die "$2 $4 $5 failed: $(jq -c '.receipt.status // .' <<<"$out" 2>/dev/null || echo "$out")"
  gas="$(jq -r .receipt.gas_used <<<"$out")"
  printf '    %-6s %-28s %-62.62s gas %s\n' "$2" "$4" "$5" "$gas" >&2
  [ -z "$GAS_LOG" ] || echo "$3 $4 $gas" >>"$GAS_LOG"
  jq -c .result <<<"$out"
}
# refused RPC KEY CONTRACT METHOD JSON: the call must fail; prints why.
refused() {
  local out reason
  if out="$("$KESSAI" tx call "$3" "$4" "$5" --key "$2" --rpc "$1" --json 2>"$WORK/refused.err")"; then
    die "$2 $4 $5 should have been refused"
  fi
  reason="$(jq -r '.receipt.status.reason // empty' <<<"$out" 2>/dev/null || true)"
  echo "    refused as expected ($2 $4): ${reason:-$(tail -n 1 "$WORK/refused.err")}"
}
view() { "$KESSAI" query view "$2" "$3" "${4:-[]}" --rpc "$1" --json | jq -c .decoded; }
balance() { view "$POWER" power-ledger balance_of "[\"$(addr "$1")\"]"; }
supply() { view "$POWER" power-ledger total_supply; }
# spec RPC: the chain spec of the chain at RPC, the root its verified reads start from (its genesis
# validators signed block 1): nothing the node says is trusted.
spec() { if [ "$1" = "$POWER" ]; then echo "$WORK/power-spec.json"; else echo "$WORK/value-spec.json"; fi; }
# leg RPC CONTRACT ID: the leg, read with a state proof under a header the light client verified.
leg() { "$KESSAI" swap leg --contract "$2" --request "$3" --rpc "$1" --trust-spec "$(spec "$1")" --json; }
expect() { [ "$1" = "$2" ] || die "expected $2, got $1 ($3)"; echo "    ok: $3 = $1"; }
# claim RPC KEY CONTRACT ID SECRET: claims a leg with the secret (signs the claim message).
claim() {
  local out
  out="$("$KESSAI" swap claim --contract "$3" --request "$4" --secret "$5" --key "$2" --rpc "$1" \
    --trust-spec "$(spec "$1")" --json)" \
    || die "$2 could not claim $3 $4"
  printf '    %-6s %-28s %-62.62s gas %s\n' "$2" "$(jq -r .method <<<"$out") (swap claim)" "request $4" "$(jq -r .gas_used <<<"$out")" >&2
  [ -z "$GAS_LOG" ] || echo "$3 $(jq -r .method <<<"$out") $(jq -r .gas_used <<<"$out")" >>"$GAS_LOG"
}
# register_first RPC KEY CONTRACT SUBJECT_FLAG SUBJECT SECRET ALGORITHM CLAIMANT: a first leg by
# the party that drew R; prints its id.
register_first() {
  local out
  out="$("$KESSAI" swap register --contract "$3" "$4" "$5" --secret "$6" --algorithm "$7" \
    --claimant "$8" --key "$2" --rpc "$1" --trust-spec "$(spec "$1")" --json)" \
    || die "$2 could not register a first leg on $3"
  printf '    %-6s %-28s %-62.62s gas %s\n' "$2" "$(jq -r .method <<<"$out")" "first leg, lock $(jq -r .lock.hash <<<"$out")" "$(jq -r .gas_used <<<"$out")" >&2
  [ -z "$GAS_LOG" ] || echo "$3 $(jq -r .method <<<"$out") $(jq -r .gas_used <<<"$out")" >>"$GAS_LOG"
  jq -r .id <<<"$out"
}
# register_second RPC KEY CONTRACT SUBJECT_FLAG SUBJECT COUNTER_RPC COUNTER_CONTRACT COUNTER_ID:
# a second leg answering the first leg COUNTER_ID on the other chain, proven there first.
register_second() {
  local out
  out="$("$KESSAI" swap register --contract "$3" "$4" "$5" --counter-rpc "$6" \
    --counter-contract "$7" --counter-request "$8" --counter-trust-spec "$(spec "$6")" \
    --key "$2" --rpc "$1" --trust-spec "$(spec "$1")" --json)" \
    || die "$2 could not register a second leg on $3"
  printf '    %-6s %-28s %-62.62s gas %s\n' "$2" "$(jq -r .method <<<"$out")" "second leg, counter deadline $(jq -r .counter_deadline_ms <<<"$out")" "$(jq -r .gas_used <<<"$out")" >&2
  [ -z "$GAS_LOG" ] || echo "$3 $(jq -r .method <<<"$out") $(jq -r .gas_used <<<"$out")" >>"$GAS_LOG"
  jq -r .id <<<"$out"
}
# The certificate document's hash (what Y certifies).
content_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# --- 0. issuance --------------------------------------------------------------------------------

say "0. issuance on the power chain: carol 100, dave 50; issue(20, carol)"
tx "$POWER" alice power-ledger issue "[100, \"$(addr carol)\"]" >/dev/null
tx "$POWER" alice power-ledger issue "[50, \"$(addr dave)\"]" >/dev/null
tx "$POWER" alice power-ledger issue "[20, \"$(addr carol)\"]" >/dev/null
expect "$(balance carol)" 120 "carol's power"
expect "$(balance dave)" 50 "dave's power"
refused "$POWER" bob power-ledger issue "[1000, \"$BOB\"]"
tx "$POWER" carol power-ledger transfer "[\"$(addr dave)\", 20]" >/dev/null
expect "$(balance carol)/$(balance dave)" 100/70 "carol's/dave's power after carol transfers 20 to dave"
tx "$POWER" alice power-ledger issue "[100, \"$BOB\"]" >/dev/null
SUPPLY0="$(supply)"
echo "    bob holds $(balance bob), total supply $SUPPLY0"

# --- 1. embodiment 3 ----------------------------------------------------------------------------

X=30
say "1. embodiment 3: bob draws R; burn request first, alice issues Y, bob claims Y, alice burns X"
SECRET="$("$KESSAI" swap secret --json)"
R="$(jq -r .secret <<<"$SECRET")"
H="$(jq -r .blake3 <<<"$SECRET")"
echo "    bob: R drawn, H_R = $H (blake3)"
BURN="$(register_first "$POWER" bob power-ledger --amount "$X" "$R" blake3 "$ALICE")"
echo "    burn request $BURN: $X escrowed; bob holds $(balance bob)"
D1="$(leg "$POWER" power-ledger "$BURN" | jq .leg.deadline_ms)"
echo "    alice verified the burn request (state proof + commit); its deadline is $D1"
Y="Certificate: $X kWh of solar power from bob's plant, environmental value (demo $(date +%s%N))"
TOKEN="$(tx "$VALUE" alice value-certificate issue "[\"$(content_hash "$Y")\", null]")"
refused "$VALUE" alice value-certificate register_transfer_condition "[$TOKEN, {\"algorithm\":\"Blake3\",\"hash\":\"$H\"}, \"$BOB\", null]"
COND="$(register_second "$VALUE" alice value-certificate --token "$TOKEN" "$POWER" power-ledger "$BURN")"
echo "    alice: Y = token $TOKEN, offered to bob under H_R as transfer condition $COND (expires before the burn request)"
"$KESSAI" swap watch-and-complete --from-rpc "$VALUE" --from-contract value-certificate --request "$COND" \
  --from-trust-spec "$(spec "$VALUE")" --to-trust-spec "$(spec "$POWER")" \
  --to-rpc "$POWER" --to-contract power-ledger --to-request "$BURN" --key alice --json \
  >"$WORK/relayer-3.log" 2>&1 &
RELAYER=$!
PIDS+=("$RELAYER")
leg "$VALUE" value-certificate "$COND" | jq -e '.leg.status == "Active"' >/dev/null || die "condition not active"
echo "    bob verified the transfer condition; claims Y with R"
claim "$VALUE" bob value-certificate "$COND" "$R"
wait "$RELAYER" || die "the relayer failed: $(cat "$WORK/relayer-3.log")"
jq -r 'select(.event == "revealed") | "    relayer: R revealed on the value chain at height \(.height), proof against state root \(.proof.state_root) verified, commit \(.proof.signed_power)/\(.proof.total_power)"' "$WORK/relayer-3.log"
jq -r 'select(.method == "burn") | "    relayer: burned request \(.request) on \(.chain_id) at height \(.height) (gas \(.gas_used))"' "$WORK/relayer-3.log"
[ -z "$GAS_LOG" ] || jq -r 'select(.method == "burn") | "power-ledger burn \(.gas_used)"' "$WORK/relayer-3.log" >>"$GAS_LOG"
expect "$(view "$VALUE" value-certificate token "[$TOKEN]" | jq -r .holder)" "$BOB" "holder of Y"
expect "$(balance bob)" 70 "bob's power"
expect "$(supply)" "$((SUPPLY0 - X))" "total supply (X destroyed)"
expect "$(view "$POWER" power-ledger burn_request "[$BURN]" | jq -r '.status | keys[0]')" Claimed "burn request status"

# --- 2. not twice -------------------------------------------------------------------------------

say "2. the same power cannot be converted twice"
SIG0="$(printf '0%.0s' $(seq 128))"
refused "$POWER" alice power-ledger burn "[$BURN, \"$R\", \"$SIG0\"]"
"$KESSAI" swap claim --contract power-ledger --request "$BURN" --secret "$R" --key alice --rpc "$POWER" \
  --trust-spec "$(spec "$POWER")" 2>&1 \
  | sed 's/^/    swap claim: /' || true
refused "$POWER" bob power-ledger register_burn_request "[$X, {\"algorithm\":\"Blake3\",\"hash\":\"$H\"}, \"$ALICE\", null]"
refused "$VALUE" alice value-certificate issue "[\"$(content_hash "$Y")\", null]"
refused "$VALUE" bob value-certificate transfer "[$COND, \"$R\", \"$SIG0\"]"
expect "$(supply)" "$((SUPPLY0 - X))" "total supply"

# --- 3. embodiment 4 ----------------------------------------------------------------------------

say "3. embodiment 4: alice draws R (SHA-256 lock); Y2 offered first, bob's burn request, alice burns, bob claims"
SECRET2="$("$KESSAI" swap secret --json)"
R2="$(jq -r .secret <<<"$SECRET2")"
H2="$(jq -r .sha256 <<<"$SECRET2")"
LOCK2="{\"algorithm\":\"Sha256\",\"hash\":\"$H2\"}"
tx "$POWER" alice power-ledger-e4 issue "[100, \"$BOB\"]" >/dev/null
Y2="Certificate: $X kWh of wind power from bob's plant (demo $(date +%s%N))"
TOKEN2="$(tx "$VALUE" alice value-certificate-e4 issue "[\"$(content_hash "$Y2")\", null]")"
COND2="$(register_first "$VALUE" alice value-certificate-e4 --token "$TOKEN2" "$R2" sha256 "$BOB")"
D2="$(leg "$VALUE" value-certificate-e4 "$COND2" | jq .leg.deadline_ms)"
echo "    bob verified transfer condition $COND2 (deadline $D2)"
echo "    a burn request registered as if it were a first leg (no counter deadline; issue 14's loss):"
refused "$POWER" bob power-ledger-e4 register_burn_request "[$X, $LOCK2, \"$ALICE\", null]"
BURN2="$(register_second "$POWER" bob power-ledger-e4 --amount "$X" "$VALUE" value-certificate-e4 "$COND2")"
"$KESSAI" swap watch-and-complete --from-rpc "$POWER" --from-contract power-ledger-e4 --request "$BURN2" \
  --from-trust-spec "$(spec "$POWER")" --to-trust-spec "$(spec "$VALUE")" \
  --to-rpc "$VALUE" --to-contract value-certificate-e4 --to-request "$COND2" --key bob --json \
  >"$WORK/relayer-4.log" 2>&1 &
RELAYER=$!
PIDS+=("$RELAYER")
leg "$POWER" power-ledger-e4 "$BURN2" | jq -e '.leg.status == "Active"' >/dev/null || die "burn request not active"
echo "    alice verified burn request $BURN2; burns it with R"
claim "$POWER" alice power-ledger-e4 "$BURN2" "$R2"
wait "$RELAYER" || die "the relayer failed: $(cat "$WORK/relayer-4.log")"
jq -r 'select(.event == "revealed") | "    relayer: R revealed on the power chain at height \(.height), proof verified"' "$WORK/relayer-4.log"
jq -r 'select(.method == "transfer") | "    relayer: claimed Y2 (condition \(.request)) for bob on \(.chain_id) (gas \(.gas_used))"' "$WORK/relayer-4.log"
[ -z "$GAS_LOG" ] || jq -r 'select(.method == "transfer") | "value-certificate transfer \(.gas_used)"' "$WORK/relayer-4.log" >>"$GAS_LOG"
expect "$(view "$VALUE" value-certificate-e4 token "[$TOKEN2]" | jq -r .holder)" "$BOB" "holder of Y2"
expect "$(view "$POWER" power-ledger-e4 balance_of "[\"$BOB\"]")" 70 "bob's power on the embodiment-4 ledger"
expect "$(view "$POWER" power-ledger-e4 total_supply)" 70 "its total supply"

# --- 4. abort -----------------------------------------------------------------------------------

say "4. abort: legs nobody answers are withdrawn after their timeouts"
H3="$("$KESSAI" swap secret --json | jq -r .blake3)"
BURN3="$(tx "$POWER" bob power-ledger register_burn_request "[10, {\"algorithm\":\"Blake3\",\"hash\":\"$H3\"}, \"$ALICE\", null]")"
expect "$(balance bob)" 60 "bob's power while escrowed"
H4="$("$KESSAI" swap secret --json | jq -r .blake3)"
TOKEN3="$(tx "$VALUE" alice value-certificate-e4 issue "[\"$(content_hash "Y3 $(date +%s%N)")\", null]")"
COND3="$(tx "$VALUE" alice value-certificate-e4 register_transfer_condition "[$TOKEN3, {\"algorithm\":\"Blake3\",\"hash\":\"$H4\"}, \"$BOB\", null]")"
refused "$POWER" bob power-ledger withdraw_burn_request "[$BURN3]"
refused "$VALUE" alice value-certificate-e4 withdraw_transfer_condition "[$COND3]"
wait_until() { # wait_until RPC TIME_MS: until the chain's block time reaches TIME_MS
  while [ "$("$KESSAI" status --rpc "$1" --json | jq .time_ms)" -lt "$2" ]; do sleep 1; done
}
wait_until "$POWER" "$(leg "$POWER" power-ledger "$BURN3" | jq .leg.deadline_ms)"
refused "$POWER" alice power-ledger withdraw_burn_request "[$BURN3]"
tx "$POWER" bob power-ledger withdraw_burn_request "[$BURN3]" >/dev/null
expect "$(balance bob)" 70 "bob's power after the withdrawal"
expect "$(supply)" "$((SUPPLY0 - X))" "total supply"
wait_until "$VALUE" "$(leg "$VALUE" value-certificate-e4 "$COND3" | jq .leg.deadline_ms)"
tx "$VALUE" alice value-certificate-e4 withdraw_transfer_condition "[$COND3]" >/dev/null
expect "$(view "$VALUE" value-certificate-e4 token "[$TOKEN3]" | jq -c '[.holder == "'"$ALICE"'", .locked_by]')" '[true,null]' "Y3 back with alice, unlocked"

say "done: 2 × $X of bob's power converted into certificates (token $TOKEN of value-certificate, token $TOKEN2 of value-certificate-e4, held by bob) and burned; homes in $WORK"
