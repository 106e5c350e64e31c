#!/usr/bin/env bash
# The clearing patent's worked example (JP6745835B2, shared/specs/clearing.md) end to end against a
# running dev chain (`kessai dev`), with the `clearing` contract of the dev preset.
#
#   clearing system 610 = alice (set at genesis); exchanges A 620 = bob, B 630 = carol, C = dave
#
# 1. Pre-funding: A ¥200 + 2 BTC, B ¥200 + 2 BTC (the clearing system attests the deposits).
# 2. A buys 1 BTC for ¥100 from B. The settlement is provisional: A's ¥100 and B's 1 BTC are
#    locked, what each receives is provisional (neither withdrawable nor usable). Approval by 620
#    alone does not confirm; 610 + 620 does: A 3 BTC / ¥100, B 1 BTC / ¥300, totals unchanged.
# 3. A bids ¥100, B asks ¥101: no match.
# 4. A has ¥50: fiat top-up request; after the top-up the trade settles.
# 5. B has 0.5 BTC for a 1 BTC trade: A's fiat is locked, VC top-up request for 0.5 BTC; then it
#    settles. 620 + 630 confirm.
# 6. Beyond the patent: three exchanges' trades netted in one batch, one amount per exchange and
#    currency, each trade's own legs recorded too; every trade needs two of its own three.
# 7. B sells A 1 BTC for ¥100 and then B and 610 reject it (two of three): undone, locks released.
# 8. Claim 10: customers' deposits are a record apart from the own inventory; a trade never
#    touches them (the clearing system rebooks between the two).
#
# Amounts are integers in the smallest unit: satoshi (1 BTC = 100000000) and yen. The absolute
# figures of the patent appear on a fresh chain (`kessai dev --reset`); every run checks changes.
#
# Environment: KESSAI (the binary, default `kessai`), KESSAI_RPC (default http://127.0.0.1:8545),
# KESSAI_KEYS (default ~/.kessai/dev/keys), GAS_LOG (a file to append "clearing METHOD GAS" lines to).
set -euo pipefail

KESSAI="${KESSAI:-kessai}"
export KESSAI_RPC="${KESSAI_RPC:-http://127.0.0.1:8545}"
export KESSAI_KEYS="${KESSAI_KEYS:-$HOME/.kessai/dev/keys}"
GAS_LOG="${GAS_LOG:-}"
CONTRACT=clearing
BTC=100000000

# Also from a command substitution (a subshell): stop the whole script.
die() { echo "clearing demo: $*" >&2; kill -s TERM $$; exit 1; }
command -v jq >/dev/null || die "needs jq"
"$KESSAI" status >/dev/null 2>&1 || die "no node at $KESSAI_RPC (start one with: kessai dev)"

addr() { jq -r .public_key "$KESSAI_KEYS/$1.json"; }

# tx KEY METHOD JSON: calls the method, prints its gas to stderr, its decoded result to stdout.
# The whole output is kept in $LAST_FILE (tx runs in command substitutions, i.e. subshells).
LAST_FILE="$(mktemp)"
trap 'rm -f "$LAST_FILE"' EXIT
tx() {
  local gas out
  out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "$1" --json)" \
    || die "$1 $2 $3 failed: $(jq -c '.receipt.status // .' <<<"$out" 2>/dev/null || echo "$out")"
  printf '%s' "$out" >"$LAST_FILE"
  gas="$(jq -r .receipt.gas_used <<<"$out")"
  printf '    %-6s %-18s %-72.72s gas %s\n' "$1" "$2" "$3" "$gas" >&2
  [ -z "$GAS_LOG" ] || echo "$CONTRACT $2 $gas" >>"$GAS_LOG"
  jq -c .result <<<"$out"
}

# refused KEY METHOD JSON: the call must fail; prints why.
refused() {
  local out
  if out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "$1" --json 2>/dev/null)"; then
    die "$1 $2 $3 should have been refused"
  fi
  echo "    $1 $2 refused: $(jq -r '.receipt.status.reason' <<<"$out")"
}

view() { "$KESSAI" query view "$CONTRACT" "$1" "${2:-[]}" --json | jq -c '.decoded'; }

# The last transaction's events with this topic, decoded.
events_of_last() {
  local h
  h="$(jq .height "$LAST_FILE")"
  "$KESSAI" query events "$CONTRACT" --from "$h" --to "$h" --json \
    | jq -c --arg t "$1" --arg tx "$(jq -r .tx_id "$LAST_FILE")" \
      '.[] | select(.tx_id == $tx and .event.topic == $t) | .decoded'
}

declare -A A
for n in alice bob carol dave; do A[$n]="$(addr "$n")"; done
declare -A LABEL=([bob]="A 620" [carol]="B 630" [dave]="C    ")
NAMES_JSON="$(jq -n --arg a "${A[bob]}" --arg b "${A[carol]}" --arg c "${A[dave]}" '{($a): "A", ($b): "B", ($c): "C"}')"
# movements SETTLEMENT: one line per movement, exchanges by name.
movements() {
  view settlement "[$1]" | jq -r --argjson n "$NAMES_JSON" \
    '.movements[] | "    \($n[.exchange]) \(.currency) \(.before) -> \(.after) (\(.delta))"'
}

# amount NAME CURRENCY: available + locked (its own; provisional receipts are not yet).
amount() { view holding "[\"${A[$1]}\", \"$2\"]" | jq -r '(.available | tonumber) + (.locked | tonumber)'; }
show() {
  local n
  for n in "$@"; do
    printf '    %s (%-5s) %s\n' "${LABEL[$n]}" "$n" \
      "$(view holdings "[\"${A[$n]}\"]" | jq -r 'map("\(.currency) \(.available) (locked \(.locked), provisional \(.provisional), customers \(.customer))") | join(", ")')"
  done
  echo "    custody: BTC $(view custody_total '["BTC"]' | tr -d '"') sat, JPY $(view custody_total '["JPY"]' | tr -d '"')"
}
# available NAME CURRENCY: confirmed and free (what a withdrawal or a trade can use).
available() { view holding "[\"${A[$1]}\", \"$2\"]" | jq -r '.available | tonumber'; }
# set_to NAME CURRENCY AMOUNT: deposits or withdraws (available funds) to make them AMOUNT.
set_to() {
  local now method
  now="$(available "$1" "$2")"
  [ "$2" = JPY ] && method=fiat || method=asset
  local asset_arg=""
  [ "$2" = JPY ] || asset_arg="\"$2\", "
  if [ "$now" -gt "$3" ]; then
    tx alice "withdraw_$method" "[\"${A[$1]}\", $asset_arg$((now - $3))]" >/dev/null
  elif [ "$now" -lt "$3" ]; then
    tx alice "deposit_$method" "[\"${A[$1]}\", $asset_arg$(($3 - now))]" >/dev/null
  fi
}
# expect NAME CURRENCY BEFORE CHANGE
expect() {
  local now
  now="$(amount "$1" "$2")"
  [ "$now" -eq $(($3 + $4)) ] || die "$1's $2 is $now, expected $3 + ($4)"
}
submit() { tx "$1" submit_condition "[\"$2\", \"BTC\", $3, $4]"; }
deposit_yen() { tx alice deposit_fiat "[\"${A[$1]}\", $2]" >/dev/null; }
deposit_btc() { tx alice deposit_asset "[\"${A[$1]}\", \"BTC\", $2]" >/dev/null; }
settlement_status() { view settlement "[$1]" | jq -r .status; }

echo "== 0. alice (clearing system) registers the exchanges"
for n in bob carol dave; do
  if [ "$(view exchange "[\"${A[$n]}\"]")" = null ]; then
    tx alice register_exchange "[\"${A[$n]}\", \"${LABEL[$n]:0:1}\"]" >/dev/null
  fi
done
refused bob register_exchange "[\"${A[dave]}\", \"X\"]"

echo "== 1. pre-funding: A and B each ¥200 + 2 BTC into custody"
for n in bob carol; do deposit_yen "$n" 200; deposit_btc "$n" $((2 * BTC)); done
refused bob deposit_fiat "[\"${A[bob]}\", 1000000]"
show bob carol

echo "== 2. A buys 1 BTC for ¥100 from B"
a_btc="$(amount bob BTC)" a_yen="$(amount bob JPY)" b_btc="$(amount carol BTC)" b_yen="$(amount carol JPY)"
tx bob submit_condition "[\"Buy\", \"BTC\", $BTC, 100]" >/dev/null
tx carol submit_condition "[\"Sell\", \"BTC\", $BTC, 100]" >/dev/null
S="$(tx alice match_batch '[false, 10]' | jq '.[0]')"
echo "    settlement $S: $(settlement_status "$S")"
movements "$S"
show bob carol
[ "$(settlement_status "$S")" = Provisional ] || die "settlement $S should be provisional"
expect bob BTC "$a_btc" 0; expect bob JPY "$a_yen" 0
expect carol BTC "$b_btc" 0; expect carol JPY "$b_yen" 0
echo "    620 approves: $(tx bob approve "[$S]")  (one of three: not confirmed)"
expect bob BTC "$a_btc" 0; expect carol JPY "$b_yen" 0
# B's ¥100 received in it is provisional: withdrawing it is refused.
refused alice withdraw_fiat "[\"${A[carol]}\", $(view holding "[\"${A[carol]}\", \"JPY\"]" | jq -r '(.available | tonumber) + (.provisional | tonumber)')]"
echo "    610 approves: $(tx alice approve "[$S]")"
show bob carol
expect bob BTC "$a_btc" "$BTC"; expect bob JPY "$a_yen" -100
expect carol BTC "$b_btc" "-$BTC"; expect carol JPY "$b_yen" 100

echo "== 3. A bids ¥100, B asks ¥101: no match"
BUY="$(submit bob Buy "$BTC" 100)"
SELL="$(submit carol Sell "$BTC" 101)"
echo "    batch: $(tx alice match_batch '[false, 10]')"
refused bob match_pair "[$BUY, $SELL]"
tx bob cancel_condition "[$BUY]" >/dev/null
tx carol cancel_condition "[$SELL]" >/dev/null

echo "== 4. A has ¥50: fiat top-up request"
set_to bob JPY 50
[ "$(amount carol BTC)" -ge "$BTC" ] || deposit_btc carol "$BTC"
submit bob Buy "$BTC" 100 >/dev/null
submit carol Sell "$BTC" 100 >/dev/null
S="$(tx alice match_batch '[false, 10]' | jq '.[0]')"
echo "    settlement $S: $(settlement_status "$S")"
echo "    request: $(events_of_last fiat_topup_requested)"
deposit_yen bob 50
echo "    after A's top-up, retry: $(tx bob retry_settlement "[$S]")"
tx carol approve "[$S]" >/dev/null; tx alice approve "[$S]" >/dev/null
show bob carol

echo "== 5. B has 0.5 BTC for a 1 BTC trade: VC top-up request for 0.5 BTC"
set_to carol BTC $((BTC / 2))
[ "$(amount bob JPY)" -ge 100 ] || deposit_yen bob 100
submit bob Buy "$BTC" 100 >/dev/null
submit carol Sell "$BTC" 100 >/dev/null
S="$(tx alice match_batch '[false, 10]' | jq '.[0]')"
echo "    settlement $S: $(settlement_status "$S"), A's fiat locked: $(view holding "[\"${A[bob]}\", \"JPY\"]" | jq -r .locked)"
echo "    request: $(events_of_last asset_topup_requested)"
deposit_btc carol $((BTC / 2))
echo "    after B's top-up, retry: $(tx carol retry_settlement "[$S]")"
echo "    620 approves: $(tx bob approve "[$S]"), 630 approves: $(tx carol approve "[$S]")"
show bob carol

echo "== 6. three exchanges netted in one batch"
# A buys 2 BTC from B for ¥200, B buys 1 BTC from C for ¥110, C buys 1 BTC from A for ¥90.
# Net: A +1 BTC -¥110, B -1 BTC +¥90, C +¥20: A needs ¥110 and 1 BTC (it delivers 1 to C), B 1 BTC.
[ "$(amount bob JPY)" -ge 110 ] || deposit_yen bob 110
[ "$(amount bob BTC)" -ge "$BTC" ] || deposit_btc bob "$BTC"
[ "$(amount carol BTC)" -ge "$BTC" ] || deposit_btc carol "$BTC"
for n in bob carol dave; do
  for c in BTC JPY; do eval "before_${n}_$c=$(amount "$n" "$c")"; done
done
submit bob Buy $((2 * BTC)) 200 >/dev/null; submit carol Sell $((2 * BTC)) 200 >/dev/null
submit carol Buy "$BTC" 110 >/dev/null; submit dave Sell "$BTC" 110 >/dev/null
submit dave Buy "$BTC" 90 >/dev/null; submit bob Sell "$BTC" 90 >/dev/null
S="$(tx alice match_batch '[true, 10]' | jq '.[0]')"
echo "    netted settlement $S of trades $(view settlement "[$S]" | jq -c .trades): $(settlement_status "$S")"
movements "$S"
echo "    each trade's legs: $(view settlement "[$S]" | jq -r --argjson n "$NAMES_JSON" '[.trade_legs[] | "#\(.trade) \($n[.exchange]) \(.currency) \(.delta)"] | join(", ")')"
# After 610 and A the B-C trade has only 610's approval: C's makes it two of its three.
for n in alice bob dave; do echo "    $n approves: $(tx "$n" approve "[$S]")"; done
[ "$(settlement_status "$S")" = Confirmed ] || die "settlement $S should be confirmed"
expect bob BTC "$before_bob_BTC" "$BTC"; expect bob JPY "$before_bob_JPY" -110
expect carol BTC "$before_carol_BTC" "-$BTC"; expect carol JPY "$before_carol_JPY" 90
expect dave BTC "$before_dave_BTC" 0; expect dave JPY "$before_dave_JPY" 20
show bob carol dave

echo "== 7. B sells A 1 BTC for ¥100; B and 610 reject it: undone, the locks released"
[ "$(available bob JPY)" -ge 100 ] || deposit_yen bob 100
[ "$(available carol BTC)" -ge "$BTC" ] || deposit_btc carol "$BTC"
a_btc="$(amount bob BTC)" a_yen="$(amount bob JPY)" b_btc="$(amount carol BTC)" b_yen="$(amount carol JPY)"
submit bob Buy "$BTC" 100 >/dev/null
submit carol Sell "$BTC" 100 >/dev/null
S="$(tx alice match_batch '[false, 10]' | jq '.[0]')"
echo "    settlement $S: $(settlement_status "$S")"
show bob carol
echo "    630 rejects: $(tx carol reject "[$S]"), 610 rejects: $(tx alice reject "[$S]")"
refused bob approve "[$S]"
show bob carol
expect bob BTC "$a_btc" 0; expect bob JPY "$a_yen" 0
expect carol BTC "$b_btc" 0; expect carol JPY "$b_yen" 0

echo "== 8. customers' deposits are a record apart (claim 10)"
tx alice deposit_customer_asset "[\"${A[dave]}\", \"BTC\", $BTC]" >/dev/null
set_to dave BTC 0
echo "    C sells 1 BTC; its customers' 1 BTC does not cover it:"
submit bob Buy "$BTC" 100 >/dev/null
submit dave Sell "$BTC" 100 >/dev/null
[ "$(available bob JPY)" -ge 100 ] || deposit_yen bob 100
S="$(tx alice match_batch '[false, 10]' | jq '.[0]')"
echo "    settlement $S: $(settlement_status "$S"); request: $(events_of_last asset_topup_requested)"
echo "    a customer of C sells it 1 BTC: 610 rebooks it into C's inventory: $(tx alice rebook "[\"${A[dave]}\", \"BTC\", $BTC, \"Own\"]")"
echo "    retry: $(tx dave retry_settlement "[$S]"); 620 and 640 approve: $(tx bob approve "[$S]") $(tx dave approve "[$S]")"
show bob dave
echo "== done"
