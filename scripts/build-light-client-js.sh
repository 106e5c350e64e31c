#!/usr/bin/env bash
# Builds the JavaScript light client (consensus/light-client/js, package @kessai/light-client): the
# wasm32 bindings crate consensus/light-client/wasm with Debian's Rust (the rustup toolchain has no
# wasm32 target; DEVELOPERS.md), then the JavaScript glue with wasm-bindgen-cli at exactly the
# version of the wasm-bindgen crate in that crate's Cargo.lock (installed into
# ~/.cache/kessai/tools if missing). Then, unless --no-test, runs the package's tests with Node's
# test runner against a real `kessai dev` (built with `cargo build -p kessai-cli`).
#
#   scripts/build-light-client-js.sh            # build and test
#   scripts/build-light-client-js.sh --no-test  # build only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run_tests=1
[ "${1:-}" = "--no-test" ] && run_tests=0

scripts/setup.sh
crate=$root/consensus/light-client/wasm
package=$root/consensus/light-client/js
# Its own target directory: Debian's rustc and the wasm32 std built from source share nothing with
# the host build.
wasm_target=$HOME/.cache/kessai/wasm-light-client
tools=$HOME/.cache/kessai/tools

echo "== light client js: wasm32 build (Debian's Rust)" >&2
(cd "$crate" && CARGO_TARGET_DIR=$wasm_target RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  /usr/bin/cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$crate/Cargo.lock")
[ -n "$version" ] || { echo "error: no wasm-bindgen version in $crate/Cargo.lock" >&2; exit 1; }
bindgen=$tools/bin/wasm-bindgen
if [ "$("$bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $version" ]; then
  echo "== light client js: installing wasm-bindgen-cli $version into $tools" >&2
  # A temporary target directory (not the workspace's): nothing of it is worth keeping.
  env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "=$version" --locked --root "$tools"
fi

echo "== light client js: bindings (wasm-bindgen $version)" >&2
rm -rf "$package/pkg"
# Without the name section: 0.5 MB instead of 0.8 (a panic is a RuntimeError either way).
for target in nodejs web; do
  out=$package/pkg
  [ "$target" = web ] && out=$package/pkg/web
  "$bindgen" --target "$target" --remove-name-section --remove-producers-section --out-dir "$out" \
    "$wasm_target/wasm32-unknown-unknown/release/kessai_light_client_wasm.wasm"
done
echo "light client js: $(du -h "$package/pkg/kessai_light_client_wasm_bg.wasm" | cut -f1) of wasm in $package/pkg" >&2

[ "$run_tests" = 1 ] || exit 0

echo "== light client js: tests (node --test, against kessai dev)" >&2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kessai/target}"
cargo build -p kessai-cli --bin kessai
export KESSAI_BIN="${KESSAI_BIN:-$CARGO_TARGET_DIR/debug/kessai}"
cd "$package"
npm ci --no-audit --no-fund --loglevel=error
node --test test/*.test.js
