#!/usr/bin/env bash
# Installs what building and testing Kessai needs on a Debian machine (idempotent):
#  - libclang-dev: rocksdb's bindings are generated with bindgen;
#  - rustc-web, rust-web-src, lld: Debian's Rust builds the wasm32 contracts (the rustup toolchain
#    here has no wasm32 target);
#  - faketime, libfaketime: the clock-skew network test runs a validator under a skewed wall clock
#    (LD_PRELOAD of libfaketime.so.1);
#  - nodejs, npm (unless a node is already on PATH): the JavaScript light client's tests
#    (scripts/build-light-client-js.sh; Node 18 or later).
set -euo pipefail

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
dpkg -s rustc-web >/dev/null 2>&1 || need+=(rustc-web)
dpkg -s rust-web-src >/dev/null 2>&1 || need+=(rust-web-src)
dpkg -s lld >/dev/null 2>&1 || need+=(lld)
dpkg -s cargo-web >/dev/null 2>&1 || need+=(cargo-web)
dpkg -s faketime >/dev/null 2>&1 || need+=(faketime)
dpkg -s libfaketime >/dev/null 2>&1 || need+=(libfaketime)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

# rustc-web's linker for wasm32 is /usr/bin/rust-lld, a link to a versioned lld (e.g. lld-22) that
# the plain `lld` package does not provide: install the package the link names.
lld_pkg=$(readlink /usr/bin/rust-lld 2>/dev/null || true)
if [ -n "$lld_pkg" ] && ! command -v "$lld_pkg" >/dev/null 2>&1; then
  echo "setup: installing $lld_pkg (rust-lld)" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$lld_pkg" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo (rustup) is required: https://rustup.rs" >&2; exit 1; }
