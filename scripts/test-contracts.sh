#!/usr/bin/env bash
# Runs the native tests of the contracts workspace (contracts/): the SDK's test environment stands
# in for the node, so contract logic runs with the host toolchain (rustup's cargo, or Debian's).
# The real wasm modules are exercised by the node's tests.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
cargo_bin="$(command -v cargo || echo /usr/bin/cargo)"
"$cargo_bin" test --workspace "$@"
# Contracts with a second version behind a feature (netting's v2, artifacts/netting-v2.wasm): the
# workspace run above tests version 1; this runs every test again with version 2's code, including
# its migration from version 1's state.
"$cargo_bin" test -p netting --features v2 "$@"
