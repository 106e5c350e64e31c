#!/usr/bin/env bash
# Builds the contracts workspace (contracts/) for wasm32 with Debian's Rust and copies each
# contract's module to contracts/artifacts/<name>.wasm (the node embeds those; they are committed).
# A contract's Cargo.toml may declare variants, more artifacts built from it with features, each
# with its own interface file (netting-v2: netting with feature v2, abi-v2.json):
#   [package.metadata.kessai.variants.netting-v2]
#   features = ["v2"]
#   abi = "abi-v2.json"
# A variant is built along with its contract.
#
#   scripts/build-contracts.sh [NAME…]           build (all, or the named contracts) and update
#                                                contracts/artifacts/
#   scripts/build-contracts.sh --check [NAME…]   build a copy of contracts/ in a temporary
#                                                directory, from scratch, and fail if any module
#                                                differs from the one in contracts/artifacts/
#                                                (reproducibility; CI runs this)
#
# Installs nothing. Needs /usr/bin/rustc and /usr/bin/cargo (rustc-web), the Rust sources
# (rust-web-src) for -Zbuild-std, and the linker rust-lld points to (lld-NN). Builds go to
# contracts/target (or $KESSAI_CONTRACTS_TARGET_DIR).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
check=false
if [ "${1:-}" = --check ]; then
  check=true
  shift
fi
only=("$@")
for name in "${only[@]}"; do
  case "$name" in -*) echo "usage: $0 [--check] [CONTRACT…]" >&2; exit 2 ;; esac
done

missing() {
  echo "build-contracts: $1" >&2
  echo "build-contracts: install Debian's Rust for wasm32:  apt-get install -y rustc-web rust-web-src lld${2:+ $2}" >&2
  exit 1
}
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || missing "/usr/bin/rustc or /usr/bin/cargo is missing"
[ -d /usr/lib/rustlib/src/rust/library/core ] || missing "the Rust sources (/usr/lib/rustlib/src/rust) are missing"
# Debian's rustc links wasm with rust-lld, a link to the LLVM release's lld (e.g. lld-22).
if [ ! -e /usr/bin/rust-lld ]; then
  missing "rust-lld is missing" "rust-web-llvm"
elif [ ! -x "$(readlink -f /usr/bin/rust-lld)" ]; then
  missing "rust-lld points to $(readlink /usr/bin/rust-lld), which is not installed" "$(basename "$(readlink /usr/bin/rust-lld)")"
fi

# The members that are contracts: a Cargo.toml with a cdylib. Prints their package names.
all_contract_names() {
  local manifest
  for manifest in "$1"/*/Cargo.toml; do
    grep -q 'cdylib' "$manifest" || continue
    sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1
  done
}

# The contracts to build: the named ones, or all.
contract_names() {
  if [ ${#only[@]} -eq 0 ]; then
    all_contract_names "$1"
    return
  fi
  printf '%s\n' "${only[@]}"
}

for name in "${only[@]}"; do
  all_contract_names "$root/contracts" | grep -x "$name" >/dev/null || { echo "build-contracts: no contract $name" >&2; exit 2; }
done

# variants CONTRACTS_DIR: one line per variant of the contracts to build:
# ARTIFACT_NAME PACKAGE FEATURES(comma-separated) ABI_FILE(absolute)
variants() {
  local manifest name
  for name in $(contract_names "$1"); do
    manifest="$(contract_dir "$1" "$name")/Cargo.toml"
    python3 - "$manifest" <<'PY'
import os, sys, tomllib
manifest = sys.argv[1]
package = tomllib.load(open(manifest, "rb"))["package"]
for artifact, v in package.get("metadata", {}).get("kessai", {}).get("variants", {}).items():
    print(artifact, package["name"], ",".join(v["features"]), os.path.join(os.path.dirname(manifest), v["abi"]))
PY
  done
}

# build CONTRACTS_DIR TARGET_DIR [CARGO_ARGS…]: builds every contract of the workspace (or what
# CARGO_ARGS select) for wasm32.
build() {
  local dir="$1" target="$2" cargo_home="${CARGO_HOME:-$HOME/.cargo}" packages=() name
  shift 2
  # Paths that could land in a module (they do not with -Zlocation-detail=none, see
  # contracts/.cargo/config.toml) are mapped to fixed ones, so the checkout path never matters.
  local remap="[\"--remap-path-prefix=$dir=/kessai/contracts\", \"--remap-path-prefix=$cargo_home/registry/src=/cargo/registry/src\", \"--remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc/src\"]"
  if [ $# -gt 0 ]; then
    packages=("$@")
  else
    for name in "${only[@]}"; do packages+=(-p "$name"); done
  fi
  (
    cd "$dir"
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$target" /usr/bin/cargo build \
      --release --target wasm32-unknown-unknown -Zbuild-std=core,alloc \
      --config "target.wasm32-unknown-unknown.rustflags = $remap" "${packages[@]}"
  )
}

# verify_module WASM ABI_FILE: the module has the shape contract-abi.md requires (the node
# checks it again at deploy): imports only host functions of `kessai`, no start function, exports
# `memory` and every method of its one `kessai:abi` section, which is ABI_FILE (abi.json).
verify_module() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys
HOST = {"input", "scratch_read", "storage_get", "storage_set", "storage_remove", "storage_next",
        "caller", "signer", "self_address", "block_height", "block_time_ms", "emit_event",
        "hash_blake3", "hash_sha256", "ed25519_verify", "set_return", "abort", "call_contract",
        "gas_left"}
path, source = sys.argv[1], sys.argv[2]
b = open(path, "rb").read()
def fail(msg):
    sys.exit(f"build-contracts: {os.path.basename(path)}: {msg}")
def leb(i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7F) << s; s += 7
        if x < 0x80: return r, i
def name(i):
    n, i = leb(i); return b[i:i + n].decode(), i + n
if b[:8] != b"\0asm\1\0\0\0": fail("not a wasm module")
i, imports, exports, abi = 8, [], {}, []
while i < len(b):
    sid = b[i]; size, i = leb(i + 1); end = i + size
    if sid == 0:
        n, j = name(i)
        if n == "kessai:abi": abi.append(b[j:end])
    elif sid == 2:
        count, j = leb(i)
        for _ in range(count):
            m, j = name(j); f, j = name(j); kind = b[j]; j += 1
            if kind != 0: fail(f"imports a non-function {m}.{f}")
            _, j = leb(j); imports.append((m, f))
    elif sid == 7:
        count, j = leb(i)
        for _ in range(count):
            f, j = name(j); kind = b[j]; _, j = leb(j + 1); exports[f] = kind
    elif sid == 8:
        fail("has a start function")
    i = end
bad = [f"{m}.{f}" for m, f in imports if m != "kessai" or f not in HOST]
if bad: fail(f"imports what the host does not offer: {bad}")
if exports.get("memory") != 2: fail("does not export its memory as `memory`")
if len(abi) != 1: fail(f"has {len(abi)} kessai:abi sections, not 1")
interface = json.loads(abi[0])
missing = [m["name"] for m in interface["methods"] if exports.get(m["name"]) != 0]
if missing: fail(f"does not export the methods {missing}")
if os.path.exists(source) and json.load(open(source)) != interface:
    fail(f"its kessai:abi section is not {os.path.basename(source)}")
print(f"build-contracts: {os.path.basename(path)}: {len(b)} bytes, imports {len(imports)} host functions, "
      f"exports memory and {len(interface['methods'])} methods, kessai:abi {len(abi[0])} bytes", file=sys.stderr)
PY
}

# contract_dir CONTRACTS_DIR NAME: the directory of package NAME
contract_dir() {
  grep -l "^name *= *\"$2\"" "$1"/*/Cargo.toml | head -n 1 | xargs dirname
}

module_of() { # module_of TARGET_DIR NAME: the module cargo wrote for package NAME
  echo "$1/wasm32-unknown-unknown/release/${2//-/_}.wasm"
}

contracts="$root/contracts"
if ! $check; then
  target="${KESSAI_CONTRACTS_TARGET_DIR:-$contracts/target}"
  build "$contracts" "$target"
  mkdir -p "$contracts/artifacts"
  for name in $(contract_names "$contracts"); do
    out="$contracts/artifacts/${name//_/-}.wasm"
    verify_module "$(module_of "$target" "$name")" "$(contract_dir "$contracts" "$name")/abi.json"
    cp "$(module_of "$target" "$name")" "$out"
    echo "build-contracts: ${out#"$root"/} ($(wc -c <"$out") bytes)" >&2
  done
  # After the plain builds: a variant's module takes the same file name in the target directory.
  while read -r artifact package features abi; do
    build "$contracts" "$target" -p "$package" --features "$features"
    out="$contracts/artifacts/$artifact.wasm"
    verify_module "$(module_of "$target" "$package")" "$abi"
    cp "$(module_of "$target" "$package")" "$out"
    echo "build-contracts: ${out#"$root"/} ($(wc -c <"$out") bytes, $package with $features)" >&2
  done < <(variants "$contracts")
  exit 0
fi

# --check: a copy of the repository where contracts/ is a real copy (without its target/) and
# everything else a link (the SDK's native tests use runtime/abi), built from scratch.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/repo"
for entry in "$root"/* "$root"/.[!.]*; do
  [ -e "$entry" ] || continue
  case "$(basename "$entry")" in contracts|.git) continue ;; esac
  ln -s "$entry" "$tmp/repo/$(basename "$entry")"
done
mkdir "$tmp/repo/contracts"
for entry in "$contracts"/* "$contracts"/.[!.]*; do
  [ -e "$entry" ] || continue
  case "$(basename "$entry")" in target) continue ;; esac
  cp -R "$entry" "$tmp/repo/contracts/"
done
echo "build-contracts: rebuilding the contracts from scratch in $tmp" >&2
build "$tmp/repo/contracts" "$tmp/target"

status=0
# compare ARTIFACT_NAME REBUILT_MODULE ABI_FILE
compare() {
  local committed="$contracts/artifacts/$1.wasm" rebuilt="$2"
  verify_module "$rebuilt" "$3" || status=1
  if [ ! -f "$committed" ]; then
    echo "build-contracts: ${committed#"$root"/} is missing: run scripts/build-contracts.sh and commit it" >&2
    status=1
  elif ! cmp -s "$committed" "$rebuilt"; then
    echo "build-contracts: ${committed#"$root"/} differs from a fresh build ($(wc -c <"$committed") vs $(wc -c <"$rebuilt") bytes): run scripts/build-contracts.sh and commit it" >&2
    status=1
  else
    echo "build-contracts: ${committed#"$root"/} is reproducible ($(wc -c <"$committed") bytes)" >&2
  fi
}
for name in $(contract_names "$tmp/repo/contracts"); do
  compare "${name//_/-}" "$(module_of "$tmp/target" "$name")" "$(contract_dir "$tmp/repo/contracts" "$name")/abi.json"
done
while read -r artifact package features abi; do
  build "$tmp/repo/contracts" "$tmp/target" -p "$package" --features "$features"
  compare "$artifact" "$(module_of "$tmp/target" "$package")" "$abi"
done < <(variants "$tmp/repo/contracts")
for committed in "$contracts"/artifacts/*.wasm; do
  [ -e "$committed" ] && [ ${#only[@]} -eq 0 ] || continue
  name="$(basename "$committed" .wasm)"
  if ! { all_contract_names "$contracts" | tr _ -; variants "$contracts" | cut -d' ' -f1; } | grep -x "$name" >/dev/null; then
    echo "build-contracts: ${committed#"$root"/} belongs to no contract" >&2
    status=1
  fi
done
exit $status
