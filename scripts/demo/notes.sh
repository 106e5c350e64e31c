#!/usr/bin/env bash
# The notes patent's example (JP7005000B2, shared/specs/notes.md) end to end against a running dev
# chain (`kessai dev`), with the `notes` contract of the dev preset and the `kessai notes` CLI.
#
#   alice is the issuer (the management device); bob is the spec's user d2af1apfa; carol is paid.
#
# 1. alice brings bob's deposit to 100,000; bob makes a terminal key (it stays on this machine).
# 2. bob asks for a note of 100,000: refused by the credit check (the amount must be less than the
#    balance), and no serial is used.
# 3. bob asks for 25,000: permitted; his deposit is 75,000, the collateral grows by 25,000, and his
#    terminal makes the note (QR-friendly text).
# 4. erin, who saw the note, tries to reveal it to herself without an earlier commitment: refused.
# 5. carol redeems it (commit, next block, reveal) and is paid 25,000 from the collateral.
# 6. A second redemption (dave) fails: the note is burned.
# 7. A note that expires unredeemed: dave's redemption fails, bob reclaims the collateral.
#
# Repeatable: bob's deposit is reset to 100,000 at the start, other balances are checked as changes.
#
# Environment: KESSAI (the binary, default `kessai`), KESSAI_RPC (default http://127.0.0.1:8545),
# KESSAI_KEYS (default ~/.kessai/dev/keys), KESSAI_TERMINALS (default: a temporary directory),
# GAS_LOG (a file to append "notes METHOD GAS" lines to).
set -euo pipefail

KESSAI="${KESSAI:-kessai}"
export KESSAI_RPC="${KESSAI_RPC:-http://127.0.0.1:8545}"
export KESSAI_KEYS="${KESSAI_KEYS:-$HOME/.kessai/dev/keys}"
GAS_LOG="${GAS_LOG:-}"
CONTRACT=notes
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export KESSAI_TERMINALS="${KESSAI_TERMINALS:-$work/terminals}"

die() { echo "notes demo: $*" >&2; exit 1; }
command -v jq >/dev/null || die "needs jq"
"$KESSAI" status >/dev/null 2>&1 || die "no node at $KESSAI_RPC (start one with: kessai dev)"

addr() { jq -r .public_key "$KESSAI_KEYS/$1.json"; }
declare -A A
for n in alice bob carol dave erin; do A[$n]="$(addr "$n")"; done

gas_log() { # METHOD GAS
  printf '    %-14s gas %s\n' "$1" "$2" >&2
  [ -z "$GAS_LOG" ] || echo "$CONTRACT $1 $2" >>"$GAS_LOG"
}

# tx KEY METHOD JSON: a plain contract call that must succeed; prints its decoded result.
tx() {
  local out
  out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "$1" --json)" \
    || die "$1 $2 $3 failed: $(jq -c '.receipt.status // .' <<<"$out" 2>/dev/null || echo "$out")"
  gas_log "$2" "$(jq -r .receipt.gas_used <<<"$out")"
  jq -c .result <<<"$out"
}

# refused WHAT COMMAND…: the command must fail; prints why.
refused() {
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then die "$what should have been refused"; fi
  echo "    refused as expected: $(tail -n 1 <<<"$out" | sed 's/^error: //')"
}

view() { "$KESSAI" query view "$CONTRACT" "$1" "${2:-[]}" --json | jq -r '.decoded'; }
balance() { view balance "[\"${A[$1]}\"]"; }
collateral() { view totals | jq -r .collateral; }

balances() {
  local n
  for n in bob carol dave erin; do printf '    %-6s deposit %s\n' "$n" "$(balance "$n")"; done
  echo "    collateral: $(collateral), supply: $(view totals | jq -r .supply)"
}

# chain_time_past MS: waits (empty blocks come every second) until the block time is past MS.
chain_time_past() {
  local i
  for i in $(seq 1 60); do
    [ "$("$KESSAI" status --json | jq -r .time_ms)" -gt "$1" ] && return 0
    sleep 1
  done
  die "the chain's time did not pass $1"
}

echo "== 1. alice (issuer) sets bob's deposit to 100,000; bob makes a terminal key"
have="$(balance bob)"
if [ "$have" -lt 100000 ]; then
  tx alice deposit "[\"${A[bob]}\", $((100000 - have))]" >/dev/null
elif [ "$have" -gt 100000 ]; then
  tx bob withdraw "[$((have - 100000))]" >/dev/null
fi
[ "$(balance bob)" -eq 100000 ] || die "bob's deposit is not 100,000"
"$KESSAI" notes new-terminal bob-phone
serial="$(view next_serial "[\"${A[bob]}\"]")"
echo "    bob's next serial: $serial"

echo "== 2. bob asks for 100,000: the credit check refuses (amount must be less than the balance)"
refused "an issuance of the whole balance" \
  "$KESSAI" notes issue --amount 100000 --terminal bob-phone --key bob
[ "$(view next_serial "[\"${A[bob]}\"]")" -eq "$serial" ] || die "a refused issuance used a serial"
[ "$(balance bob)" -eq 100000 ] || die "a refused issuance moved money"
echo "    no serial used (next is still $serial), deposit still 100,000"

echo "== 3. bob asks for 25,000: permitted"
collateral_before="$(collateral)"
out="$("$KESSAI" notes issue --amount 25000 --terminal bob-phone --key bob --valid-for 1h \
  --out "$work/note.txt" --json)"
gas_log issue "$(jq -r .tx.gas_used <<<"$out")"
[ "$(jq -r .serial <<<"$out")" -eq "$serial" ] || die "the note did not get serial $serial"
[ "$(balance bob)" -eq 75000 ] || die "bob's deposit is not 75,000"
[ "$(collateral)" -eq $((collateral_before + 25000)) ] || die "the collateral did not grow by 25,000"
echo "    bob's deposit 75,000; collateral +25,000; serial $serial; the note (QR-friendly):"
echo "    $(cat "$work/note.txt")"
"$KESSAI" notes show "$work/note.txt" | sed 's/^/    /'

echo "== 4. erin saw the note and reveals it to herself, without an earlier commitment"
note_json="$("$KESSAI" notes show "$work/note.txt" --offline --json | jq -c .note)"
refused "a reveal without a commitment" \
  "$KESSAI" tx call "$CONTRACT" reveal_redeem "[$note_json, \"${A[erin]}\"]" --key erin

echo "== 5. carol redeems the note: commit, then reveal in a later block"
carol_before="$(balance carol)"
out="$("$KESSAI" notes redeem "$work/note.txt" --key carol --json)"
gas_log commit_redeem "$(jq -r .commit.gas_used <<<"$out")"
gas_log reveal_redeem "$(jq -r .reveal.gas_used <<<"$out")"
echo "    commit at height $(jq -r .commit.height <<<"$out"), reveal at height $(jq -r .reveal.height <<<"$out")"
[ "$(balance carol)" -eq $((carol_before + 25000)) ] || die "carol was not paid 25,000"
[ "$(collateral)" -eq "$collateral_before" ] || die "the collateral did not shrink by 25,000"
echo "    carol paid 25,000 from the collateral"

echo "== 6. a second redemption fails"
refused "a second redemption" \
  "$KESSAI" notes redeem "$work/note.txt" --key dave --force
"$KESSAI" notes show "$work/note.txt" | tail -n 1 | sed 's/^/    /'

echo "== 7. a note that expires unredeemed: its collateral goes back to bob"
out="$("$KESSAI" notes issue --amount 5000 --terminal bob-phone --key bob --valid-for 2s \
  --out "$work/short.txt" --json)"
expiry="$(jq -r .expiry_ms <<<"$out")"
short_serial="$(jq -r .serial <<<"$out")"
chain_time_past "$expiry"
refused "an expired note's redemption" \
  "$KESSAI" notes redeem "$work/short.txt" --key dave --force
refused "a reclaim by someone else" \
  "$KESSAI" tx call "$CONTRACT" reclaim "[\"${A[bob]}\", $short_serial]" --key dave
tx bob reclaim "[\"${A[bob]}\", $short_serial]" >/dev/null
[ "$(balance bob)" -eq 75000 ] || die "bob did not get his 5,000 back"
echo "    bob reclaimed 5,000: deposit 75,000 again"

echo "== balances"
balances
echo "notes demo: OK"
