//! Contracts embedded in the binary, built from `contracts/` (see `scripts/build-contracts.sh`).
//!
//! The artifacts are committed, so building the node needs no wasm toolchain; CI rebuilds them and
//! checks that they match.

use crate::ContractSpec;
use kessai_primitives::{Keypair, UpgradePolicy};
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

/// The preset contracts whose code may be replaced (by alice in `dev`, by three approvals in
/// `local`); the others are immutable.
pub(crate) const UPGRADABLE_PRESET_CONTRACTS: &[&str] = &["netting", "clearing"];

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
            upgrade_policy: UpgradePolicy::Immutable,
        },
        // (admin): alice funds and withdraws settlement balances.
        ContractSpec {
            name: "netting".into(),
            code: "builtin:netting".into(),
            init: json!([admin]),
            upgrade_policy: UpgradePolicy::Immutable,
        },
        // (clearing_system, fiat, lock_timeout_blocks, approval_timeout_ms): alice is the clearing
        // system; it registers the exchanges. A provisional settlement not approved by two of its
        // three within 10 minutes of block time can be rejected by any one of them.
        ContractSpec {
            name: "clearing".into(),
            code: "builtin:clearing".into(),
            init: json!([admin, "JPY", 100, 600_000]),
            upgrade_policy: UpgradePolicy::Immutable,
        },
        // (issuer, credit rule): alice is the issuer and credits members' deposits; the spec's
        // rule, an issuance must be less than the deposit balance.
        ContractSpec {
            name: "notes".into(),
            code: "builtin:notes".into(),
            init: json!([admin, "LessThanBalance"]),
            upgrade_policy: UpgradePolicy::Immutable,
        },
        // The hash-lock pair of JP6980288B2, deployed twice: once per embodiment, since which leg
        // comes first is fixed per deployment (decision 0009). (admin, order, timeout_ms,
        // margin_ms): alice issues power information and certificates. Dev-chain timeouts are
        // seconds (first legs 40 s, second legs 15 s, a second leg's deadline at least 5 s before
        // its counter leg's); a production chain would set the patent's hours (48 h / 24 h).
        //
        // Embodiment 3 (the holder draws R): burn requests first, transfer conditions second.
        hashlock("power-ledger", &admin, "First", HASHLOCK_FIRST_MS),
        hashlock("value-certificate", &admin, "Second", HASHLOCK_SECOND_MS),
        // Embodiment 4 (the administrator draws R): transfer conditions first, burn requests
        // second.
        hashlock("value-certificate-e4", &admin, "First", HASHLOCK_FIRST_MS),
        hashlock("power-ledger-e4", &admin, "Second", HASHLOCK_SECOND_MS),
    ]
}

/// The dev presets' hash-lock timeouts: first legs, second legs, and the margin between them.
const HASHLOCK_FIRST_MS: u64 = 40_000;
const HASHLOCK_SECOND_MS: u64 = 15_000;
const HASHLOCK_MARGIN_MS: u64 = 5_000;

/// A hash-lock contract deployed as `name` (its code is the builtin that `name` starts with).
fn hashlock(name: &str, admin: &str, order: &str, timeout_ms: u64) -> ContractSpec {
    let code = name.trim_end_matches("-e4");
    ContractSpec {
        name: name.into(),
        code: format!("builtin:{code}"),
        init: json!([admin, order, timeout_ms, HASHLOCK_MARGIN_MS]),
        upgrade_policy: UpgradePolicy::Immutable,
    }
}
