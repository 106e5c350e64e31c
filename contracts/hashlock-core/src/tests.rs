use super::*;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

const HOUR: u64 = 3_600_000;
const MARGIN: u64 = 30 * 60_000;
/// Embodiment 3's power ledger: burn requests are first legs, TIMEOUT_N = 48 h.
const FIRST: TimeoutRules =
    TimeoutRules { order: LegOrder::First, timeout_ms: 48 * HOUR, margin_ms: MARGIN };
/// Embodiment 3's value certificates: transfer conditions are second legs, TIMEOUT_M = 24 h.
const SECOND: TimeoutRules =
    TimeoutRules { order: LegOrder::Second, timeout_ms: 24 * HOUR, margin_ms: MARGIN };

fn hex(bytes: &[u8]) -> alloc::string::String {
    bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
}

#[test]
fn sha256_lock_of_32_zero_bytes_is_the_known_vector() {
    let lock = Lock::of(HashAlgorithm::Sha256, &[0; 32]);
    assert_eq!(hex(&lock.hash), "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    assert!(lock.opens(&[0; 32]));
    assert!(!lock.opens(&[1; 32]));
}

#[test]
fn blake3_lock_is_blake3_of_the_secret() {
    let secret = [7; 32];
    let lock = Lock::of(HashAlgorithm::Blake3, &secret);
    assert_eq!(lock.hash, *blake3::hash(&secret).as_bytes());
    assert_ne!(lock.hash, Lock::of(HashAlgorithm::Sha256, &secret).hash);
    assert!(lock.opens(&secret));
    // The same hash under the other algorithm does not open.
    assert!(!Lock { algorithm: HashAlgorithm::Sha256, ..lock }.opens(&secret));
}

#[test]
fn a_first_leg_has_the_fixed_timeout_and_no_counter_deadline() {
    assert_eq!(FIRST.deadline(1000, None), Ok(1000 + 48 * HOUR));
    assert!(FIRST.deadline(1000, Some(u64::MAX)).unwrap_err().contains("first legs"));
    assert_eq!(FIRST.deadline(u64::MAX - 5, None), Err("timeout too large"));
}

#[test]
fn a_second_leg_needs_the_counter_deadline_and_expires_a_margin_before_it() {
    // Leaving the counter deadline out does not make a second leg a first one (the
    // embodiment-4 loss of issue 14: a burn request registered with `null`).
    assert!(SECOND.deadline(0, None).unwrap_err().contains("counter leg's deadline is required"));
    let counter = 1000 + 24 * HOUR + MARGIN;
    assert_eq!(SECOND.deadline(1000, Some(counter)), Ok(1000 + 24 * HOUR));
    assert!(SECOND.deadline(1001, Some(counter)).unwrap_err().starts_with("unsafe"));
    // The patent's embodiment-4 prose: a burn request outliving its 24 h transfer condition.
    assert!(SECOND.deadline(0, Some(24 * HOUR)).unwrap_err().starts_with("unsafe"));
    assert_eq!(SECOND.deadline(0, Some(48 * HOUR)), Ok(24 * HOUR));
}

#[test]
fn rules_are_validated() {
    assert!(FIRST.validate().is_ok());
    assert!(SECOND.validate().is_ok());
    assert!(TimeoutRules { timeout_ms: 0, ..FIRST }.validate().is_err());
    assert!(TimeoutRules { margin_ms: 0, ..FIRST }.validate().is_err());
    assert!(TimeoutRules { margin_ms: 48 * HOUR, ..FIRST }.validate().is_err());
}

#[test]
fn claim_and_withdraw_windows_do_not_overlap() {
    let active = LegStatus::Active;
    assert_eq!(active.check_claimable(100, 99), Ok(()));
    assert!(active.check_claimable(100, 100).unwrap_err().contains("expired"));
    assert_eq!(active.check_withdrawable(100, 99), Err("the timeout has not passed yet"));
    assert_eq!(active.check_withdrawable(100, 100), Ok(()));
    let claimed = LegStatus::Claimed { preimage: [1; 32], at_ms: 5 };
    assert_eq!(claimed.check_claimable(100, 1), Err("already completed"));
    assert_eq!(claimed.check_withdrawable(100, 200), Err("already completed"));
    assert_eq!(claimed.preimage(), Some([1; 32]));
    let withdrawn = LegStatus::Withdrawn { at_ms: 100 };
    assert_eq!(withdrawn.check_claimable(100, 1), Err("already withdrawn"));
    assert_eq!(withdrawn.check_withdrawable(100, 200), Err("already withdrawn"));
    assert_eq!(withdrawn.preimage(), None);
}

fn claim(key: &SigningKey, secret: Secret) -> ClaimMessage {
    ClaimMessage {
        action: ClaimAction::Burn,
        contract: Address([0xC1; 32]),
        request_id: 3,
        registered_at_ms: 1_000,
        lock: Lock::of(HashAlgorithm::Sha256, &[9; 32]),
        preimage: secret,
        claimant: Address(key.verifying_key().to_bytes()),
    }
}

#[test]
fn claims_need_the_secret_the_caller_and_a_bound_signature() {
    let key = SigningKey::from_bytes(&[0x14; 32]);
    let message = claim(&key, [9; 32]);
    let sig = key.sign(&claim_message(&message)).to_bytes();
    assert_eq!(check_claim(&message, message.claimant, &sig), Ok(()));
    assert!(check_claim(&claim(&key, [8; 32]), message.claimant, &sig)
        .unwrap_err()
        .starts_with("wrong secret"));
    assert_eq!(
        check_claim(&message, Address([1; 32]), &sig),
        Err("only the permitted address may claim")
    );
    // The same signature for another request, contract, action or registration does not verify.
    let others = [
        ClaimMessage { request_id: 4, ..message },
        ClaimMessage { contract: Address([0xC2; 32]), ..message },
        ClaimMessage { action: ClaimAction::Transfer, ..message },
        ClaimMessage { registered_at_ms: 1_001, ..message },
    ];
    for other in others {
        assert!(check_claim(&other, other.claimant, &sig)
            .unwrap_err()
            .starts_with("the signature"));
    }
    // A signature without the domain tag does not verify either.
    let untagged = key.sign(&to_borsh(&message)).to_bytes();
    assert!(check_claim(&message, message.claimant, &untagged).is_err());
}

proptest! {
    /// Whatever a second leg declares and whenever it is registered, when the registration passes
    /// against the true deadline of a first leg, the first leg outlives it by the margin; and no
    /// second-leg registration passes without a counter deadline.
    #[test]
    fn accepted_legs_are_in_the_safe_order(
        t1 in 0u64..1 << 44, delay in 0u64..1 << 30,
        first in 1u64..1 << 30, second in 1u64..1 << 30, margin in 1u64..1 << 20,
    ) {
        let first_rules = TimeoutRules { order: LegOrder::First, timeout_ms: first + margin, margin_ms: margin };
        let second_rules = TimeoutRules { order: LegOrder::Second, timeout_ms: second + margin, margin_ms: margin };
        let d1 = first_rules.deadline(t1, None).unwrap();
        if let Ok(d2) = second_rules.deadline(t1 + delay, Some(d1)) {
            prop_assert!(d2 + margin <= d1);
        }
        prop_assert!(second_rules.deadline(t1 + delay, None).is_err());
    }
}
