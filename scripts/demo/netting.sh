#!/usr/bin/env bash
# The netting patent's worked example (JP6971127B2, shared/specs/netting.md) end to end against a
# running dev chain (`kessai dev`), with the `netting` contract of the dev preset.
#
#   terminals 100, 200, 300, 400 = bob, carol, dave, erin; alice is the settlement agent (admin)
#
# 1. alice funds every terminal's settlement balance with 1000.
# 2. Embodiment 1, public: the 8 instructions are registered; positions 40, -80, 60, -20; the
#    chained relay -40, 40, -20 closes on erin's -20 and settles.
# 3. Embodiment 2, private: only commitments of the 8 instructions are on the ledger; bob masks with
#    r = 1000 (commit, relay 960, 1040, 980, 1000, reveal) and the ring settles the same positions.
# 4. A ring that does not close (dave relays as if it had forgotten an instruction) is rejected.
#
# Each run opens new cycles, so it can be repeated; balances are checked as changes.
#
# Environment: KESSAI (the binary, default `kessai`), KESSAI_RPC (default http://127.0.0.1:8545),
# KESSAI_KEYS (default ~/.kessai/dev/keys), GAS_LOG (a file to append "netting METHOD GAS" lines to).
set -euo pipefail

KESSAI="${KESSAI:-kessai}"
export KESSAI_RPC="${KESSAI_RPC:-http://127.0.0.1:8545}"
export KESSAI_KEYS="${KESSAI_KEYS:-$HOME/.kessai/dev/keys}"
GAS_LOG="${GAS_LOG:-}"
CONTRACT=netting

# Also from a command substitution (a subshell): stop the whole script.
die() { echo "netting demo: $*" >&2; kill -s TERM $$; exit 1; }
command -v jq >/dev/null || die "needs jq"
"$KESSAI" status >/dev/null 2>&1 || die "no node at $KESSAI_RPC (start one with: kessai dev)"

addr() { jq -r .public_key "$KESSAI_KEYS/$1.json"; }

# tx KEY METHOD JSON: calls the method, prints its gas to stderr, its decoded result to stdout.
tx() {
  local out gas
  out="$("$KESSAI" tx call "$CONTRACT" "$2" "$3" --key "$1" --json)" \
    || die "$1 $2 $3 failed: $(jq -c '.receipt.status // .' <<<"$out" 2>/dev/null || echo "$out")"
  gas="$(jq -r .receipt.gas_used <<<"$out")"
  printf '    %-6s %-22s %-70.70s gas %s\n' "$1" "$2" "$3" "$gas" >&2
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

NAMES=(bob carol dave erin)
declare -A LABEL=([bob]=100 [carol]=200 [dave]=300 [erin]=400)
declare -A A
for n in alice "${NAMES[@]}"; do A[$n]="$(addr "$n")"; done
ORDER="$(printf '"%s",' "${A[bob]}" "${A[carol]}" "${A[dave]}" "${A[erin]}")"
ORDER="[${ORDER%,}]"

balances() {
  local n
  for n in "${NAMES[@]}"; do
    printf '    terminal %s (%-5s) %s\n' "${LABEL[$n]}" "$n" "$(view balance "[\"${A[$n]}\"]" | tr -d '"')"
  done
  echo "    total: $(view total_balance | tr -d '"')"
}

snapshot() { local n; for n in "${NAMES[@]}"; do view balance "[\"${A[$n]}\"]" | tr -d '"'; done; }

# check_changes BEFORE... : the balances changed by 40, -80, 60, -20.
check_changes() {
  local before=("$@") after i expected=(40 -80 60 -20)
  mapfile -t after < <(snapshot)
  for i in 0 1 2 3; do
    [ $((after[i] - before[i])) -eq "${expected[i]}" ] \
      || die "${NAMES[i]} changed by $((after[i] - before[i])), expected ${expected[i]}"
  done
  echo "    changes 40, -80, 60, -20: as the patent says"
}

deadline() { echo "{\"Height\":{\"height\":$(( $("$KESSAI" status --json | jq .height) + 1000 ))}}"; }

# The spec's 8 instructions: id sender receiver amount.
INSTRUCTIONS=(
  "1 bob carol 50" "2 carol dave 30" "3 dave erin 20" "4 carol bob 60"
  "5 dave bob 10" "6 erin bob 20" "7 carol dave 40" "8 erin dave 20"
)

echo "== 1. alice (settlement agent) funds the terminals"
for n in "${NAMES[@]}"; do tx alice fund "[\"${A[$n]}\", 1000]" >/dev/null; done
refused bob fund "[\"${A[bob]}\", 1000]"
balances

echo "== 2. embodiment 1, public: chained relay 100 -> 200 -> 300 -> 400"
mapfile -t BEFORE < <(snapshot)
CYCLE="$(tx bob open_cycle "[$ORDER, \"Chained\", \"Public\", $(deadline)]")"
echo "    cycle $CYCLE"
for i in "${INSTRUCTIONS[@]}"; do
  read -r id from to amount <<<"$i"
  tx "$from" register_instruction "[$CYCLE, \"${A[$to]}\", $amount]" >/dev/null
done
for n in "${NAMES[@]}"; do
  echo "    position of ${LABEL[$n]}: $(view position "[$CYCLE, \"${A[$n]}\"]" | tr -d '"') (from its own instructions)"
done
for n in "${NAMES[@]}"; do tx "$n" ready "[$CYCLE]" >/dev/null; done
refused carol relay "[$CYCLE, 40]"
for n in bob carol dave; do
  amount="$(view expected_relay "[$CYCLE]" | tr -d '"')"
  echo "    ${LABEL[$n]} relays $amount"
  tx "$n" relay "[$CYCLE, $amount]" >/dev/null
done
echo "    400 closes with its own position -20: $(tx erin close "[$CYCLE, -20]")"
balances
check_changes "${BEFORE[@]}"

echo "== 3. embodiment 2, private: commitments only, masked ring with r = 1000"
mapfile -t BEFORE < <(snapshot)
CYCLE="$(tx bob open_cycle "[$ORDER, \"MaskedRing\", \"Private\", $(deadline)]")"
echo "    cycle $CYCLE"
salt() { printf 'demo salt %s %s %s' "$CYCLE" "$1" "$RANDOM" | sha256sum | cut -c1-64; }
for i in "${INSTRUCTIONS[@]}"; do
  read -r id from to amount <<<"$i"
  s="$(salt "$id")"
  # Each payer computes the hash on its own node (a view); only the hash goes on the ledger.
  h="$(view instruction_commitment "[$CYCLE, $id, \"${A[$from]}\", \"${A[$to]}\", $amount, \"$s\"]" | tr -d '"')"
  tx "$from" commit_instruction "[$CYCLE, \"${A[$to]}\", \"$h\"]" >/dev/null
  tx "$to" acknowledge "[$CYCLE, \"$h\"]" >/dev/null
done
R=1000
MASK_SALT="$(salt mask)"
tx bob commit_mask "[$CYCLE, $(view mask_commitment "[$R, \"$MASK_SALT\"]")]" >/dev/null
for n in "${NAMES[@]}"; do tx "$n" ready "[$CYCLE]" >/dev/null; done
# Each terminal's relay, computed locally from its own instructions: a_1 = r - 40, then a_i = a_(i-1) - p_i.
steps=(bob 960 carol 1040 dave 980 erin 1000)
for ((k = 0; k < 8; k += 2)); do
  echo "    ${LABEL[${steps[k]}]} relays ${steps[k + 1]}"
  tx "${steps[k]}" relay "[$CYCLE, ${steps[k + 1]}]" >/dev/null
done
refused bob reveal_mask "[$CYCLE, 999, \"$MASK_SALT\"]"
echo "    100 reveals r = $R, the ring closed on it: $(tx bob reveal_mask "[$CYCLE, $R, \"$MASK_SALT\"]")"
echo "    positions settled: $(view cycle "[$CYCLE]" | jq -c .positions)"
balances
check_changes "${BEFORE[@]}"

echo "== 4. a ring that does not close is rejected and settles nothing"
mapfile -t BEFORE < <(snapshot)
CYCLE="$(tx bob open_cycle "[$ORDER, \"MaskedRing\", \"Private\", $(deadline)]")"
MASK_SALT="$(salt mask)"
tx bob commit_mask "[$CYCLE, $(view mask_commitment "[$R, \"$MASK_SALT\"]")]" >/dev/null
for n in "${NAMES[@]}"; do tx "$n" ready "[$CYCLE]" >/dev/null; done
# 300 forgot instruction 8 (400 -> 300, 20): it believes its position is 40 and relays 1000.
steps=(bob 960 carol 1040 dave 1000 erin 1020)
for ((k = 0; k < 8; k += 2)); do tx "${steps[k]}" relay "[$CYCLE, ${steps[k + 1]}]" >/dev/null; done
echo "    100 reveals r = $R, the closing amount is 1020: $(tx bob reveal_mask "[$CYCLE, $R, \"$MASK_SALT\"]")"
mapfile -t AFTER < <(snapshot)
[ "${AFTER[*]}" = "${BEFORE[*]}" ] || die "a rejected cycle moved balances"
echo "    balances unchanged"
echo "== done"
