//! Seeded random streams for tasks, and their position in a [`TaskState`].
//!
//! Every random choice a task makes (rotation, initial parameters, data order, the quadratic's
//! centre) comes from its own ChaCha8 stream of the run seed, so changing one (say, the batch
//! size) never changes another (the initial parameters).

use anyhow::{Result, ensure};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a stream is used for; each purpose gets disjoint stream numbers.
#[derive(Clone, Copy, Debug)]
#[repr(u16)]
pub enum Purpose {
    InitParams = 1,
    DataOrder = 2,
    Rotation = 3,
    Centre = 4,
    /// mnist-ar: the query pixel of each training example.
    QueryPixels = 5,
    /// mnist-ar: the fixed validation queries.
    Validation = 6,
}

/// Stream `index` (e.g. the epoch) of `purpose` under the run seed.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    debug_assert!(
        index < 1 << 48,
        "stream index {index} overlaps another purpose"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 48) | index);
    rng
}

/// The position of `rng` in its stream, as two words for [`TaskState::words`].
///
/// [`TaskState::words`]: super::TaskState
pub fn position(rng: &ChaCha8Rng) -> [u64; 2] {
    let pos = rng.get_word_pos();
    [pos as u64, (pos >> 64) as u64]
}

pub fn set_position(rng: &mut ChaCha8Rng, words: [u64; 2]) {
    rng.set_word_pos(u128::from(words[0]) | (u128::from(words[1]) << 64));
}

/// Checks that a saved state has `len` words and was written by a task with the same seed
/// (stored as the first word).
pub fn check_state_words(task: &str, words: &[u64], len: usize, seed: u64) -> Result<()> {
    ensure!(
        words.len() == len,
        "{task}: saved task state has {} words, expected {len}; the checkpoint is from another \
         task or version",
        words.len()
    );
    ensure!(
        words[0] == seed,
        "{task}: saved task state is from seed {}, this run has seed {seed}; resume with the same \
         seed",
        words[0]
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_differ_by_purpose_and_index_and_positions_restore() {
        let draw = |mut r: ChaCha8Rng| r.next_u64();
        let a = draw(stream(7, Purpose::DataOrder, 0));
        assert_eq!(a, draw(stream(7, Purpose::DataOrder, 0)));
        assert_ne!(a, draw(stream(7, Purpose::DataOrder, 1)));
        assert_ne!(a, draw(stream(7, Purpose::Centre, 0)));
        assert_ne!(a, draw(stream(8, Purpose::DataOrder, 0)));

        let mut rng = stream(1, Purpose::Centre, 0);
        rng.next_u32();
        let saved = position(&rng);
        let next = rng.next_u64();
        let mut other = stream(1, Purpose::Centre, 0);
        set_position(&mut other, saved);
        assert_eq!(other.next_u64(), next);
    }
}
