use super::*;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

const MIN: u64 = 60_000;
const MARGIN: u64 = 30_000;
const RULES: TimeoutRules = TimeoutRules { min_timeout_ms: MIN, min_margin_ms: MARGIN };

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
fn first_leg_needs_room_for_the_counter_leg() {
    assert_eq!(RULES.deadline(1000, MIN + MARGIN, None), Ok(1000 + MIN + MARGIN));
    assert!(RULES.deadline(1000, MIN + MARGIN - 1, None).unwrap_err().contains("first leg"));
    assert_eq!(RULES.deadline(1000, MIN - 1, None), Err("timeout below the minimum"));
    assert_eq!(RULES.deadline(u64::MAX - 5, MIN + MARGIN, None), Err("timeout too large"));
}

#[test]
fn second_leg_must_expire_a_margin_before_the_counter_leg() {
    let counter = 1000 + 2 * MIN + MARGIN;
    // deadline 1000 + MIN + MIN, + margin = counter: exactly allowed.
    assert_eq!(RULES.deadline(1000, 2 * MIN, Some(counter)), Ok(1000 + 2 * MIN));
    assert!(RULES.deadline(1000, 2 * MIN + 1, Some(counter)).unwrap_err().starts_with("unsafe"));
    // The patent's embodiment-4 prose: second leg 48 h against a first leg of 24 h.
    let hour = 3_600_000;
    assert!(RULES.deadline(0, 48 * hour, Some(24 * hour)).unwrap_err().starts_with("unsafe"));
    assert_eq!(RULES.deadline(0, 24 * hour, Some(48 * hour)), Ok(24 * hour));
    assert_eq!(RULES.deadline(0, MIN - 1, Some(u64::MAX)), Err("timeout below the minimum"));
}

#[test]
fn rules_are_validated() {
    assert!(RULES.validate().is_ok());
    assert!(TimeoutRules { min_timeout_ms: 0, min_margin_ms: 1 }.validate().is_err());
    assert!(TimeoutRules { min_timeout_ms: 1, min_margin_ms: 0 }.validate().is_err());
    assert!(TimeoutRules { min_timeout_ms: u64::MAX, min_margin_ms: 1 }.validate().is_err());
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
    /// Whatever a first leg and a second leg are registered with, when both registrations pass,
    /// the first leg outlives the second by the margin.
    #[test]
    fn accepted_legs_are_in_the_safe_order(
        t1 in 0u64..1 << 44, first in 0u64..1 << 30,
        delay in 0u64..1 << 30, second in 0u64..1 << 30,
    ) {
        if let Ok(d1) = RULES.deadline(t1, first, None) {
            if let Ok(d2) = RULES.deadline(t1 + delay, second, Some(d1)) {
                prop_assert!(d2 + MARGIN <= d1);
                prop_assert!(second >= MIN);
            }
        }
    }
}
