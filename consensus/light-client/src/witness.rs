//! What each witness said when a newly verified header was compared with it.

use crate::error::Error;

/// The outcome of asking one witness for its header at the height the primary's was verified at.
#[derive(Debug)]
pub enum WitnessOutcome {
    /// The witness served the same header: it confirms the primary's.
    Confirmed,
    /// The witness gave no usable answer: it could not be reached, did not have the height (behind
    /// or pruned), or served a different header it could not back with a commit and validator sets.
    /// It neither confirms nor refutes, and is asked again at the next comparison.
    Unavailable(Error),
    /// The witness served a header that does not verify from the trusted state: it lied. It is not
    /// asked again.
    Faulty(Error),
}

/// One witness's last comparison (see [`LightClient::witness_checks`](crate::LightClient::witness_checks)).
#[derive(Debug)]
pub struct WitnessCheck {
    /// The height of the header compared.
    pub height: u64,
    /// What the witness said of it.
    pub outcome: WitnessOutcome,
}

impl WitnessCheck {
    /// Whether the witness holds the same header.
    pub fn confirmed(&self) -> bool {
        matches!(self.outcome, WitnessOutcome::Confirmed)
    }

    /// Why the witness's answer was refused, if it was faulty.
    pub fn faulty(&self) -> Option<&Error> {
        match &self.outcome {
            WitnessOutcome::Faulty(why) => Some(why),
            _ => None,
        }
    }

    /// Why the witness could not be asked or did not answer, if it was unavailable.
    pub fn unavailable(&self) -> Option<&Error> {
        match &self.outcome {
            WitnessOutcome::Unavailable(why) => Some(why),
            _ => None,
        }
    }
}
