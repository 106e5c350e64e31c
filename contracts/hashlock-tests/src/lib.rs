//! Native tests of the hash-lock contracts of JP6980288B2: `power-ledger` (SC1) and
//! `value-certificate` (SC2), each on its own, and together as the two legs of a swap across two
//! chains (embodiments 3 and 4, each deployment with its leg order, and their abort paths), in the
//! SDK's test environment; and a property test of the swap under adversarial members on both
//! chains with skewed clocks (`swap_property_tests`).
//!
//! The contracts are `cdylib`-only (an `rlib` as well would make cargo drop LTO for their modules),
//! so no crate can depend on them; this crate compiles their sources as modules instead, under
//! `cfg(test)` only. Two chains are two saved test environments ([`chain::Chain`]) swapped into
//! the thread's environment around each call.
#![cfg_attr(not(test), no_std)]

#[cfg(test)]
extern crate alloc;

#[cfg(test)]
#[path = "../../power-ledger/src/lib.rs"]
pub mod power_ledger;

#[cfg(test)]
#[path = "../../value-certificate/src/lib.rs"]
pub mod value_certificate;

#[cfg(test)]
mod chain;
#[cfg(test)]
mod power_ledger_tests;
#[cfg(test)]
mod supply_tests;
#[cfg(test)]
mod swap_property_tests;
#[cfg(test)]
mod swap_tests;
#[cfg(test)]
mod value_certificate_tests;
