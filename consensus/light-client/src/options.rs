//! How much the light client trusts, and for how long.

use crate::error::VerifyError;
use serde::{Deserialize, Serialize};

/// One day, milliseconds: the unit trusting periods are usually written in.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Parameters of the trust model.
///
/// A verified header stays a valid root of trust for `trusting_period_ms`: within that period at
/// most a third of the power of its next validator set is assumed faulty, so a commit carrying more
/// than `trust_threshold` of that set's power contains at least one honest signature. The period
/// must be shorter than the time in which a validator that left the set can no longer be punished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustOptions {
    /// How long a verified header may serve as the root of further verification (default 14 days).
    pub trusting_period_ms: u64,
    /// `(numerator, denominator)`: the fraction of the trusted next set's power that must sign a
    /// header reached by skipping. Between 1/3 and 1; default 1/3.
    pub trust_threshold: (u64, u64),
    /// How far into the future (by the local clock) a header's time may be (default 10 s).
    pub max_clock_drift_ms: u64,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            trusting_period_ms: 14 * DAY_MS,
            trust_threshold: (1, 3),
            max_clock_drift_ms: 10_000,
        }
    }
}

impl TrustOptions {
    /// Refuses a threshold below 1/3 (one faulty third could then forge trust) or above 1, and a
    /// zero trusting period.
    pub fn validate(&self) -> Result<(), VerifyError> {
        let (numerator, denominator) = self.trust_threshold;
        if denominator == 0 {
            return Err(VerifyError::InvalidOptions(
                "trust threshold has a zero denominator".into(),
            ));
        }
        if (numerator as u128) * 3 < denominator as u128 || numerator > denominator {
            return Err(VerifyError::InvalidOptions(format!(
                "trust threshold {numerator}/{denominator} is outside [1/3, 1]"
            )));
        }
        if self.trusting_period_ms == 0 {
            return Err(VerifyError::InvalidOptions("trusting period is zero".into()));
        }
        Ok(())
    }

    /// True when `signed` is more than the trust threshold of `total`.
    pub fn exceeds_threshold(&self, signed: u64, total: u64) -> bool {
        let (numerator, denominator) = self.trust_threshold;
        signed as u128 * denominator as u128 > total as u128 * numerator as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_one_third_for_two_weeks() {
        let opts = TrustOptions::default();
        opts.validate().unwrap();
        assert!(!opts.exceeds_threshold(1, 3));
        assert!(opts.exceeds_threshold(2, 4));
        assert_eq!(opts.trusting_period_ms, 1_209_600_000);
    }

    #[test]
    fn thresholds_outside_one_third_to_one_are_refused() {
        for bad in [(1, 4), (0, 1), (4, 3), (1, 0)] {
            let opts = TrustOptions { trust_threshold: bad, ..TrustOptions::default() };
            assert!(matches!(opts.validate(), Err(VerifyError::InvalidOptions(_))), "{bad:?}");
        }
        let two_thirds = TrustOptions { trust_threshold: (2, 3), ..TrustOptions::default() };
        two_thirds.validate().unwrap();
        let no_period = TrustOptions { trusting_period_ms: 0, ..TrustOptions::default() };
        assert!(no_period.validate().is_err());
    }
}
