//! Validators and the weighted sets that sign commits.

use crate::crypto::PublicKey;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A validator and its voting power.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    /// The key it signs proposals and votes with.
    pub public_key: PublicKey,
    /// Its weight in votes; a commit needs more than 2/3 of the set's total.
    pub power: u64,
}

/// A set of validators, kept sorted by public key with no duplicates and no zero power, so that its
/// [`hash`](ValidatorSet::hash) is the same on every node however it was assembled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    #[serde(skip)]
    total_power: u64,
}

/// Why validators do not form a [`ValidatorSet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validator has non-zero power.
    #[error("a validator set needs at least one validator with non-zero power")]
    Empty,
    /// One key is listed twice.
    #[error("validator {0} appears twice")]
    Duplicate(PublicKey),
    /// The powers add up to more than `u64::MAX`.
    #[error("total voting power overflows")]
    Overflow,
}

impl ValidatorSet {
    /// Builds a canonical set: validators with zero power are dropped, the rest sorted by key.
    pub fn new(mut validators: Vec<Validator>) -> Result<ValidatorSet, ValidatorSetError> {
        validators.retain(|v| v.power > 0);
        validators.sort_by_key(|v| v.public_key);
        if let Some(pair) = validators.windows(2).find(|w| w[0].public_key == w[1].public_key) {
            return Err(ValidatorSetError::Duplicate(pair[0].public_key));
        }
        let total_power = validators
            .iter()
            .try_fold(0u64, |sum, v| sum.checked_add(v.power))
            .ok_or(ValidatorSetError::Overflow)?;
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        Ok(ValidatorSet { validators, total_power })
    }

    /// The validators, sorted by public key.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// How many validators the set has.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false for a set built by [`ValidatorSet::new`]; here for `len`'s sake.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Sum of the validators' powers.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// blake3 of the borsh encoding of the sorted validator list; headers commit to it.
    pub fn hash(&self) -> Hash {
        Hash::of(&self.validators)
    }

    /// The validator with `key`, if it is in the set.
    pub fn get(&self, key: &PublicKey) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(key, |v| v.public_key)
            .ok()
            .map(|i| &self.validators[i])
    }

    /// The power of `key` in the set, 0 if it is not in it.
    pub fn power_of(&self, key: &PublicKey) -> u64 {
        self.get(key).map_or(0, |v| v.power)
    }

    /// True when `power` is more than two thirds of the total: enough to commit.
    pub fn is_quorum(&self, power: u64) -> bool {
        power as u128 * 3 > self.total_power as u128 * 2
    }

    /// True when `power` is more than one third of the total: at least one honest validator is in it.
    pub fn is_one_third(&self, power: u64) -> bool {
        power as u128 * 3 > self.total_power as u128
    }

    /// The proposer of `(height, round)`: a weighted round robin. Powers are divided by their
    /// greatest common divisor; slot `height + round` (mod the reduced total) falls in one
    /// validator's stretch of the cumulative reduced-power line. Each validator proposes in
    /// proportion to its power, equal powers take turns height by height, and every node computes
    /// the same answer with no shared state.
    pub fn proposer(&self, height: u64, round: u32) -> &Validator {
        let unit = self.validators.iter().fold(0u64, |g, v| gcd(g, v.power)).max(1) as u128;
        let slot = (height as u128 + round as u128) % (self.total_power as u128 / unit);
        let mut cumulative = 0u128;
        for v in &self.validators {
            cumulative += v.power as u128 / unit;
            if slot < cumulative {
                return v;
            }
        }
        unreachable!("slot is below the reduced total power")
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

// The encoding is the validator list alone; decoding rebuilds the set so its invariants hold.
impl BorshSerialize for ValidatorSet {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.validators, writer)
    }
}

impl BorshDeserialize for ValidatorSet {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let validators = Vec::<Validator>::deserialize_reader(reader)?;
        let set = ValidatorSet::new(validators.clone())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        if set.validators != validators {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "validator set is not in canonical order",
            ));
        }
        Ok(set)
    }
}

impl<'de> Deserialize<'de> for ValidatorSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            validators: Vec<Validator>,
        }
        let raw = Raw::deserialize(d)?;
        ValidatorSet::new(raw.validators).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;

    fn set(powers: &[u64]) -> ValidatorSet {
        ValidatorSet::new(
            powers
                .iter()
                .enumerate()
                .map(|(i, &power)| Validator {
                    public_key: Keypair::dev(&format!("v{i}")).public(),
                    power,
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn thresholds() {
        let s = set(&[1, 1, 1, 1]);
        assert!(!s.is_quorum(2));
        assert!(s.is_quorum(3));
        assert!(!s.is_one_third(1));
        assert!(s.is_one_third(2));
    }

    #[test]
    fn proposer_rotation_is_weighted() {
        let s = set(&[3, 1]);
        let heavy = s.validators().iter().find(|v| v.power == 3).unwrap().public_key;
        let picks = (0..400).filter(|h| s.proposer(*h, 0).public_key == heavy).count();
        assert_eq!(picks, 300);
        // A new round moves to the next slot.
        assert_ne!(s.proposer(0, 0).public_key, s.proposer(0, 3).public_key);
    }

    #[test]
    fn equal_powers_take_turns_height_by_height() {
        let s = set(&[10, 10, 10, 10]);
        let first_four: Vec<_> = (0..4).map(|h| s.proposer(h, 0).public_key).collect();
        let distinct: std::collections::BTreeSet<_> = first_four.iter().collect();
        assert_eq!(distinct.len(), 4, "four heights, four proposers");
        assert_eq!(s.proposer(4, 0).public_key, first_four[0]);
        // Common factors do not change the shares: 20/10 proposes twice as often as 10.
        let s = set(&[20, 10]);
        let heavy = s.validators().iter().find(|v| v.power == 20).unwrap().public_key;
        assert_eq!((0..30).filter(|h| s.proposer(*h, 0).public_key == heavy).count(), 20);
    }

    #[test]
    fn order_does_not_change_the_hash() {
        let a = set(&[1, 2, 3]);
        let mut reversed = a.validators().to_vec();
        reversed.reverse();
        assert_eq!(ValidatorSet::new(reversed).unwrap().hash(), a.hash());
    }

    #[test]
    fn rejects_bad_sets() {
        let key = Keypair::dev("v").public();
        let dup =
            vec![Validator { public_key: key, power: 1 }, Validator { public_key: key, power: 2 }];
        assert_eq!(ValidatorSet::new(dup), Err(ValidatorSetError::Duplicate(key)));
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Empty));
    }
}
