;; A contract exercising every host function, for the runtime's tests.
;; Memory: constants at 0..64, input at IN = 4096, output at OUT = 40960, a work buffer at 81920.
;; Arguments are borsh: `bytes`/`string` are a u32 LE length then the bytes.
(module
  (import "kessai" "input" (func $input (result i32)))
  (import "kessai" "scratch_read" (func $scratch_read (param i32)))
  (import "kessai" "storage_get" (func $storage_get (param i32 i32) (result i64)))
  (import "kessai" "storage_set" (func $storage_set (param i32 i32 i32 i32)))
  (import "kessai" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "kessai" "storage_next" (func $storage_next (param i32 i32 i32 i32) (result i64)))
  (import "kessai" "caller" (func $caller (param i32)))
  (import "kessai" "signer" (func $signer (param i32)))
  (import "kessai" "self_address" (func $self_address (param i32)))
  (import "kessai" "block_height" (func $block_height (result i64)))
  (import "kessai" "block_time_ms" (func $block_time_ms (result i64)))
  (import "kessai" "emit_event" (func $emit_event (param i32 i32 i32 i32)))
  (import "kessai" "hash_blake3" (func $hash_blake3 (param i32 i32 i32)))
  (import "kessai" "hash_sha256" (func $hash_sha256 (param i32 i32 i32)))
  (import "kessai" "ed25519_verify" (func $ed25519_verify (param i32 i32 i32 i32) (result i32)))
  (import "kessai" "set_return" (func $set_return (param i32 i32)))
  (import "kessai" "abort" (func $abort (param i32 i32)))
  (import "kessai" "call_contract" (func $call_contract (param i32 i32 i32 i32 i32) (result i64)))
  (import "kessai" "gas_left" (func $gas_left (result i64)))

  (memory (export "memory") 2)
  (data (i32.const 0) "boom")
  (data (i32.const 16) "x")
  (data (i32.const 32) "e")
  (data (i32.const 48) "init")

  ;; Copies the call's input to IN.
  (func $read_input
    (drop (call $input))
    (call $scratch_read (i32.const 4096)))

  ;; init(value: bytes): stores the value under "init".
  (func (export "init")
    (call $read_input)
    (call $storage_set (i32.const 48) (i32.const 4) (i32.const 4100) (i32.load (i32.const 4096))))

  ;; set(key: bytes, value: bytes)
  (func (export "set")
    (local $klen i32) (local $v i32)
    (call $read_input)
    (local.set $klen (i32.load (i32.const 4096)))
    (local.set $v (i32.add (i32.const 4100) (local.get $klen)))
    (call $storage_set (i32.const 4100) (local.get $klen)
      (i32.add (local.get $v) (i32.const 4)) (i32.load (local.get $v))))

  ;; get(key: bytes) -> option<bytes>
  (func (export "get")
    (local $r i64)
    (call $read_input)
    (local.set $r (call $storage_get (i32.const 4100) (i32.load (i32.const 4096))))
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then
        (i32.store8 (i32.const 40960) (i32.const 0))
        (call $set_return (i32.const 40960) (i32.const 1)))
      (else
        (i32.store8 (i32.const 40960) (i32.const 1))
        (i32.store (i32.const 40961) (i32.wrap_i64 (local.get $r)))
        (call $scratch_read (i32.const 40965))
        (call $set_return (i32.const 40960) (i32.add (i32.wrap_i64 (local.get $r)) (i32.const 5))))))

  ;; remove(key: bytes)
  (func (export "remove")
    (call $read_input)
    (call $storage_remove (i32.const 4100) (i32.load (i32.const 4096))))

  ;; scan_all(prefix: bytes): every entry under prefix, as concatenated borsh (key, value).
  (func (export "scan_all")
    (local $plen i32) (local $flen i32) (local $out i32) (local $r i64) (local $klen i32)
    (call $read_input)
    (local.set $plen (i32.load (i32.const 4096)))
    (memory.copy (i32.const 81920) (i32.const 4100) (local.get $plen))
    (local.set $flen (local.get $plen))
    (local.set $out (i32.const 40960))
    (block $done
      (loop $next
        (local.set $r (call $storage_next
          (i32.const 4100) (local.get $plen) (i32.const 81920) (local.get $flen)))
        (br_if $done (i64.lt_s (local.get $r) (i64.const 0)))
        (call $scratch_read (local.get $out))
        ;; resume after this key: from = key ‖ 0
        (local.set $klen (i32.load (local.get $out)))
        (memory.copy (i32.const 81920) (i32.add (local.get $out) (i32.const 4)) (local.get $klen))
        (i32.store8 (i32.add (i32.const 81920) (local.get $klen)) (i32.const 0))
        (local.set $flen (i32.add (local.get $klen) (i32.const 1)))
        (local.set $out (i32.add (local.get $out) (i32.wrap_i64 (local.get $r))))
        (br $next)))
    (call $set_return (i32.const 40960) (i32.sub (local.get $out) (i32.const 40960))))

  ;; env(): caller ‖ signer ‖ self ‖ height (u64 LE) ‖ time_ms (u64 LE)
  (func (export "env")
    (call $caller (i32.const 40960))
    (call $signer (i32.const 40992))
    (call $self_address (i32.const 41024))
    (i64.store (i32.const 41056) (call $block_height))
    (i64.store (i32.const 41064) (call $block_time_ms))
    (call $set_return (i32.const 40960) (i32.const 112)))

  ;; emit(topic: string, data: bytes)
  (func (export "emit")
    (local $tlen i32) (local $d i32)
    (call $read_input)
    (local.set $tlen (i32.load (i32.const 4096)))
    (local.set $d (i32.add (i32.const 4100) (local.get $tlen)))
    (call $emit_event (i32.const 4100) (local.get $tlen)
      (i32.add (local.get $d) (i32.const 4)) (i32.load (local.get $d))))

  ;; fail(): writes "x", emits "e", then aborts with "boom".
  (func (export "fail")
    (call $storage_set (i32.const 16) (i32.const 1) (i32.const 16) (i32.const 1))
    (call $emit_event (i32.const 32) (i32.const 1) (i32.const 16) (i32.const 1))
    (call $abort (i32.const 0) (i32.const 4)))

  ;; hashes(data: bytes) -> blake3 ‖ sha256
  (func (export "hashes")
    (call $read_input)
    (call $hash_blake3 (i32.const 4100) (i32.load (i32.const 4096)) (i32.const 40960))
    (call $hash_sha256 (i32.const 4100) (i32.load (i32.const 4096)) (i32.const 40992))
    (call $set_return (i32.const 40960) (i32.const 64)))

  ;; verify(key: bytes<32>, signature: bytes<64>, message: bytes) -> bool
  (func (export "verify")
    (call $read_input)
    (i32.store8 (i32.const 40960)
      (call $ed25519_verify (i32.const 4096) (i32.const 4128) (i32.const 4196) (i32.load (i32.const 4192))))
    (call $set_return (i32.const 40960) (i32.const 1)))

  ;; call(contract: address, method: string, args: bytes) -> whatever the callee returned
  (func $call (export "call") (export "call_view")
    (local $mlen i32) (local $a i32) (local $r i64)
    (call $read_input)
    (local.set $mlen (i32.load (i32.const 4128)))
    (local.set $a (i32.add (i32.const 4132) (local.get $mlen)))
    (local.set $r (call $call_contract (i32.const 4096) (i32.const 4132) (local.get $mlen)
      (i32.add (local.get $a) (i32.const 4)) (i32.load (local.get $a))))
    (call $scratch_read (i32.const 40960))
    (call $set_return (i32.const 40960) (i32.wrap_i64 (local.get $r))))

  (func (export "spin")
    (loop $forever (br $forever)))

  ;; grow(pages: u32) -> the old size in pages (i32 LE), or -1
  (func (export "grow")
    (call $read_input)
    (i32.store (i32.const 40960) (memory.grow (i32.load (i32.const 4096))))
    (call $set_return (i32.const 40960) (i32.const 4)))

  ;; nan(a: u64, b: u64): the bits of a / b and a + b as f64, and of a / b as f32 (demoted inputs)
  (func (export "nan")
    (local $a f64) (local $b f64)
    (call $read_input)
    (local.set $a (f64.load (i32.const 4096)))
    (local.set $b (f64.load (i32.const 4104)))
    (i64.store (i32.const 40960) (i64.reinterpret_f64 (f64.div (local.get $a) (local.get $b))))
    (i64.store (i32.const 40968) (i64.reinterpret_f64 (f64.add (local.get $a) (local.get $b))))
    (i32.store (i32.const 40976) (i32.reinterpret_f32
      (f32.div (f32.demote_f64 (local.get $a)) (f32.demote_f64 (local.get $b)))))
    (call $set_return (i32.const 40960) (i32.const 20)))

  ;; gas() -> i64: gas left when asked
  (func (export "gas")
    (i64.store (i32.const 40960) (call $gas_left))
    (call $set_return (i32.const 40960) (i32.const 8)))

  (func $recurse (export "recurse")
    (call $recurse))

  ;; A view method that writes: refused.
  (func (export "bad_view")
    (call $storage_set (i32.const 16) (i32.const 1) (i32.const 16) (i32.const 1)))
)
