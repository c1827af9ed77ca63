//! The exit statuses of the program, and the error that means "the run ended but lost data".
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | an error: bad input (nothing ran), or a run that failed |
//! | 2 | a malformed command line (clap's usage error) |
//! | 3 | the run ended (summary printed) but some record or checkpoint data was not saved |
//! | 130 | a second Ctrl-C: exited without waiting for the run to stop |
//! | 143 | the dashboard was signalled and could not stop in time |

use std::fmt;

use crate::train::Summary;

pub const FAILED: u8 = 1;
pub const DATA_LOST: u8 = 3;
pub const INTERRUPTED_TWICE: i32 = 130;
/// The conventional status of a process ended by a signal it handled (128 + SIGTERM).
pub const SIGNALLED: i32 = 143;

/// A run that ended and printed its summary, but could not save everything.
#[derive(Debug)]
pub struct DataLost(pub Vec<String>);

impl fmt::Display for DataLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the run did not save everything: {}", self.0.join("; "))
    }
}

impl std::error::Error for DataLost {}

/// `Err(DataLost)` when the summary lists lost data.
pub fn check(summary: &Summary) -> anyhow::Result<()> {
    if summary.lost.is_empty() {
        Ok(())
    } else {
        Err(DataLost(summary.lost.clone()).into())
    }
}

/// The exit status for an error `run` returned.
pub fn status(error: &anyhow::Error) -> u8 {
    if error.is::<DataLost>() {
        DATA_LOST
    } else {
        FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_data_has_its_own_status() {
        let mut summary = Summary {
            lanes: vec![],
            elapsed_s: 1.0,
            lost: vec![],
        };
        assert!(check(&summary).is_ok());
        summary.lost = vec!["the record r.jsonl could not be written".into()];
        let e = check(&summary).unwrap_err();
        assert_eq!(status(&e), DATA_LOST);
        assert_eq!(
            e.to_string(),
            "the run did not save everything: the record r.jsonl could not be written"
        );
        assert_eq!(status(&anyhow::anyhow!("bad preset")), FAILED);
    }
}
