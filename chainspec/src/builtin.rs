//! Contracts embedded in the binary, built from `contracts/` (see `scripts/build-contracts.sh`).
//!
//! The artifacts are committed, so building the node needs no wasm toolchain; CI rebuilds them and
//! checks that they match.

use crate::ContractSpec;
use kessai_primitives::Keypair;
use serde_json::json;

/// `(name, wasm)` of every embedded contract.
pub const BUILTIN_CONTRACTS: &[(&str, &[u8])] = &[
    ("asset-ownership", include_bytes!("../../contracts/artifacts/asset-ownership.wasm")),
    ("netting", include_bytes!("../../contracts/artifacts/netting.wasm")),
    ("clearing", include_bytes!("../../contracts/artifacts/clearing.wasm")),
    ("notes", include_bytes!("../../contracts/artifacts/notes.wasm")),
    ("power-ledger", include_bytes!("../../contracts/artifacts/power-ledger.wasm")),
    ("value-certificate", include_bytes!("../../contracts/artifacts/value-certificate.wasm")),
];

/// The wasm of the embedded contract `name` (what `builtin:NAME` in a chain spec refers to).
pub fn builtin_code(name: &str) -> Option<&'static [u8]> {
    BUILTIN_CONTRACTS.iter().find(|(n, _)| *n == name).map(|(_, code)| *code)
}

/// The contracts the `dev` and `local` presets instantiate at genesis, administered by alice.
pub(crate) fn preset_contracts() -> Vec<ContractSpec> {
    let admin = Keypair::dev("alice").address().to_hex();
    vec![
        ContractSpec {
            name: "asset-ownership".into(),
            code: "builtin:asset-ownership".into(),
            init: json!([admin]),
        },
        // (admin): alice funds and withdraws settlement balances.
        ContractSpec {
            name: "netting".into(),
            code: "builtin:netting".into(),
            init: json!([admin]),
        },
        // (clearing_system, fiat, lock_timeout_blocks, approval_timeout_ms): alice is the clearing
        // system; it registers the exchanges. A provisional settlement not approved by two of its
        // three within 10 minutes of block time can be rejected by any one of them.
        ContractSpec {
            name: "clearing".into(),
            code: "builtin:clearing".into(),
            init: json!([admin, "JPY", 100, 600_000]),
        },
        // (issuer, credit rule): alice is the issuer and credits members' deposits; the spec's
        // rule, an issuance must be less than the deposit balance.
        ContractSpec {
            name: "notes".into(),
            code: "builtin:notes".into(),
            init: json!([admin, "LessThanBalance"]),
        },
        // (admin, min_timeout_ms, min_margin_ms): alice issues power information. Dev-chain
        // hash-lock timeouts are seconds (10 s minimum, the two legs' deadlines 5 s apart at
        // least); a production chain would set hours.
        ContractSpec {
            name: "power-ledger".into(),
            code: "builtin:power-ledger".into(),
            init: json!([admin, 10_000, 5_000]),
        },
        // (admin, min_timeout_ms, min_margin_ms): alice issues value certificates.
        ContractSpec {
            name: "value-certificate".into(),
            code: "builtin:value-certificate".into(),
            init: json!([admin, 10_000, 5_000]),
        },
    ]
}
