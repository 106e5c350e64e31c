#!/usr/bin/env bash
# The mediation example of JP7803395B2 (shared/specs/asset-ownership.md) against a running dev chain
# (`kessai dev`): two intermediary servers (`kessai intermediary serve`) and a consumer's meter
# (`kessai intermediary report`), then the consumer's production-method certificate.
#
#   alice administers the chain and asset-ownership; dave is the solar producer Aa, erin the oil
#   producer Ab; frank is the consumer Ca: renewable target 40 %, producers Aa and Ab, 10 kWh per
#   30-minute slot. The intermediaries Da and Db get fresh keys each run (admitted as members and
#   registered as intermediaries by alice), so they own only what this run gives them.
#
# 1. Ca's history: Da has allocated it solar 20 kWh and oil 160 kWh (11.1 % renewable).
# 2. Stock: Da owns solar 15 kWh and oil 100 kWh; Db owns solar 12 kWh.
# 3. Slot 2020-01-01 9:00–9:30, 10 kWh: 11.1 % < 40 % → solar; Da has a solar record covering it
#    and final-transfers 10 kWh (the record's 5 kWh rest stays Da's): solar 30, 15.8 %.
# 4. Slot 9:30–10:00: still below → solar; Da's 5 kWh do not cover it, so Da asks Db, which splits
#    10 kWh off its record and transfers them to Da ("change completed"); Da allocates them.
# 5. Slot 10:00–10:30: solar again; Db has 2 kWh left ("change not permitted"), so Da falls back to
#    what it owns: oil.
# 6. Nobody moves someone else's record, nor a completed one.
# 7. Ca's certificate for the demo's period, every entry's proof checked against a header whose
#    commit verifies.
#
# Repeatable on one chain: fresh intermediaries, Ca's history counted from the start of this run
# (its contract period), fresh provision times, fresh journals.
#
# Environment: KESSAI (the binary, default `kessai`), KESSAI_RPC (default http://127.0.0.1:8545),
# KESSAI_KEYS (default ~/.kessai/dev/keys).
set -euo pipefail

KESSAI="${KESSAI:-kessai}"
export KESSAI_RPC="${KESSAI_RPC:-http://127.0.0.1:8545}"
export KESSAI_KEYS="${KESSAI_KEYS:-$HOME/.kessai/dev/keys}"
CONTRACT=asset-ownership
KWH=1000
work="$(mktemp -d)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

die() { echo "intermediary demo: $*" >&2; exit 1; }
command -v jq >/dev/null || die "needs jq"
"$KESSAI" status >/dev/null 2>&1 || die "no node at $KESSAI_RPC (start one with: kessai dev)"

addr() { jq -r .public_key "${2:-$KESSAI_KEYS}/$1.json"; }
declare -A A KEY
for n in alice dave erin frank; do A[$n]="$(addr "$n")"; done
KEY[dave]=dave KEY[erin]=erin KEY[frank]=frank

# intermediary NAME: a fresh key for intermediary NAME, admitted and registered by alice.
intermediary() {
  "$KESSAI" keys new "$1" --dir "$work/keys" >/dev/null
  KEY[$1]="$work/keys/$1.json"
  A[$1]="$(addr "$1" "$work/keys")"
  "$KESSAI" tx gov add-member "${A[$1]}" --key alice >/dev/null || die "cannot admit $1"
  tx alice register_intermediary "[\"${A[$1]}\", \"$1\"]" >/dev/null
}

# tx WHO METHOD JSON: a call that must succeed; prints its decoded result.
tx() {
  local out
  out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "${KEY[$1]:-$1}" --json)" \
    || die "$1 $2 $3 failed: $(jq -c '.receipt.status // .' <<<"$out" 2>/dev/null || echo "$out")"
  jq -c .result <<<"$out"
}

# refused WHO METHOD JSON: the call must fail; prints the contract's reason.
refused() {
  local out
  if out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "${KEY[$1]:-$1}" --json 2>/dev/null)"; then
    die "$1 $2 $3 should have been refused"
  fi
  echo "    refused as expected: $(jq -r '.receipt.status.reason' <<<"$out")"
}

view() { "$KESSAI" query view "$CONTRACT" "$1" "$2" --json | jq -c .decoded; }
chain_time() { "$KESSAI" status --json | jq -r .time_ms; }

# provider WHO NAME: registers a producer, unless it is already (the demo may run again).
provider() {
  if [ "$(view provider "[\"${A[$1]}\"]")" = null ]; then
    tx alice register_provider "[\"${A[$1]}\", \"$2\"]" >/dev/null
  fi
}

# Provision times of this run's records: a slot apart from a day ago (to the ms, so another run
# never repeats a provider's time and method, which the contract refuses).
next_slot=$(( $(date +%s%3N) - 24 * 3600 * 1000 ))
# create METHOD KWH OWNER DAYS: a record produced by dave (solar) or erin (oil), valid for DAYS;
# sets $id. (Not in a subshell: next_slot must advance.)
create() {
  local producer=dave
  [ "$1" = Oil ] && producer=erin
  next_slot=$(( next_slot + 1800 * 1000 ))
  local expiry=$(( $(date +%s%3N) + $4 * 24 * 3600 * 1000 ))
  id="$(tx "$producer" create "[\"${A[$producer]}\", $next_slot, $(( $2 * KWH )), \"$1\", \"${A[$3]}\", $expiry]")"
}

# serve NAME PEERS_JSON: starts intermediary NAME's server; sets $url. (Not in a subshell: the
# server's pid must reach the cleanup, and a subshell would wait for the server's output.)
serve() {
  local config="$work/$1.json"
  jq -n --arg name "$1" --arg key "${KEY[$1]}" --arg rpc "$KESSAI_RPC" \
    --argjson peers "$2" --arg frank "${A[frank]}" --argjson from "$period_from" '{
      name: $name, key: $key, node_rpc: $rpc, listen: "127.0.0.1:0", peers: $peers,
      journal: ($name + "-reports.jsonl"),
      consumers: [{ name: "Ca", address: $frank, renewable_target_percent: 40,
                    methods: ["Solar", "Oil"], planned_wh_per_slot: 10000, from_ms: $from }]
    }' >"$config"
  "$KESSAI" intermediary serve --config "$config" --url-file "$work/$1.url" \
    >/dev/null 2>"$work/$1.log" &
  pids+=($!)
  local i
  for i in $(seq 1 100); do
    [ -s "$work/$1.url" ] && { url="$(cat "$work/$1.url")"; return 0; }
    sleep 0.1
  done
  cat "$work/$1.log" >&2
  die "intermediary $1 did not start"
}

report() { # SLOT
  echo
  "$KESSAI" intermediary report --intermediary "$da" --key frank --slot "$1" --usage-wh $((10 * KWH)) \
    | sed 's/^/    /' || die "the report for $1 failed (log: $(cat "$work/Da.log"))"
}

echo "== parties: producers Aa (dave, solar) and Ab (erin, oil), consumer Ca (frank), and"
provider dave "Aa solar"
provider erin "Ab oil"
intermediary Da
intermediary Db
echo "   intermediaries Da (${A[Da]:0:16}…) and Db (${A[Db]:0:16}…)"
period_from="$(chain_time)"

echo "== 1. Ca's history: Da allocated it solar 20 kWh and oil 160 kWh before today"
for pair in "Solar 20" "Oil 160"; do
  set -- $pair
  create "$1" "$2" Da 30
  tx Da final_transfer "[$id, \"${A[frank]}\", $(( $2 * KWH ))]" >/dev/null
  echo "    record $id: $1 $2 kWh → Ca"
done

echo "== 2. stock: Da solar 15 kWh and oil 100 kWh, Db solar 12 kWh"
create Solar 15 Da 10; da_solar=$id
create Oil 100 Da 20; da_oil=$id
create Solar 12 Db 10; db_solar=$id
echo "    Da: records $da_solar (solar 15 kWh), $da_oil (oil 100 kWh); Db: record $db_solar (solar 12 kWh)"

serve Db '[]'; db=$url
serve Da "[\"$db\"]"; da=$url
echo "    Da serves at $da, Db at $db"

echo "== 3.–5. Ca's meter reports three slots of 10 kWh to Da"
report 2020-01-01T09:00:00Z
report 2020-01-01T09:30:00Z
report 2020-01-01T10:00:00Z

echo
echo "== 6. records move only by their owner, and completed ones never"
echo "  Db moves Da's oil record $da_oil to itself:"
refused Db transfer "[$da_oil, \"${A[Db]}\"]"
echo "  Ca moves its completed record $da_solar back to Da:"
refused frank transfer "[$da_solar, \"${A[Da]}\"]"
echo "  Da allocates record $da_solar again:"
refused Da final_transfer "[$da_solar, \"${A[frank]}\", 1000]"

echo
echo "== 7. Ca's production-method certificate for this run's period"
"$KESSAI" intermediary certificate --intermediary "$da" --consumer frank \
  --from "$period_from" --to "$(( $(chain_time) + 60000 ))" | sed 's/^/    /'
