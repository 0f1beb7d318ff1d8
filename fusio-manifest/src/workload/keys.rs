//! [`WriterKeys`]: which keys a writer picks, as [`WorkloadConfig`] describes.

use std::ops::Range;

use rand::Rng;

use crate::config::WorkloadConfig;

/// The keys one writer picks from, as [`WorkloadConfig`] describes: with probability
/// `key_overlap_ratio` from the part all writers share, otherwise from its private slice.
pub(super) struct WriterKeys {
    shared: Range<usize>,
    private: Range<usize>,
    overlap: f64,
}

impl WriterKeys {
    pub(super) fn new(config: &WorkloadConfig, writer: usize) -> Self {
        Self {
            shared: 0..config.shared_keys(),
            private: config.private_keys(writer),
            overlap: config.key_overlap_ratio,
        }
    }

    /// `n` distinct key indices, each drawn like a single-key write's key from the keys not
    /// picked yet (from the other part when one is used up); fewer only when the writer has
    /// fewer keys (validation refuses that). One key is drawn exactly as a single-key write
    /// always drew it, from the same random numbers.
    pub(super) fn pick(&self, n: usize, rng: &mut impl Rng) -> Vec<usize> {
        let mut picked: Vec<usize> = Vec::with_capacity(n);
        while picked.len() < n {
            // The keys of `part` picked already, lowest first.
            let taken = |part: &Range<usize>| {
                let mut t: Vec<usize> = picked
                    .iter()
                    .copied()
                    .filter(|i| part.contains(i))
                    .collect();
                t.sort_unstable();
                t
            };
            let (shared_taken, private_taken) = (taken(&self.shared), taken(&self.private));
            let shared_free = self.shared.len() - shared_taken.len();
            let private_free = self.private.len() - private_taken.len();
            let use_shared =
                shared_free > 0 && (private_free == 0 || rng.random_bool(self.overlap));
            let (part, taken, free) = if use_shared {
                (&self.shared, shared_taken, shared_free)
            } else {
                (&self.private, private_taken, private_free)
            };
            if free == 0 {
                break;
            }
            // The k-th key of `part` not picked yet: step over the picked ones, lowest first.
            let mut key = part.start + rng.random_range(0..free);
            for t in taken {
                if t <= key {
                    key += 1;
                }
            }
            picked.push(key);
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn one_key_is_drawn_exactly_as_single_key_writes_always_drew_it() {
        for overlap in [0.0, 0.4, 1.0] {
            let config = WorkloadConfig {
                num_writers: 3,
                key_pool_size: 100,
                key_overlap_ratio: overlap,
                ..Default::default()
            };
            let (shared, ratio) = (config.shared_keys(), config.key_overlap_ratio);
            for writer in 0..3 {
                let keys = WriterKeys::new(&config, writer);
                let private = config.private_keys(writer);
                let mut old = StdRng::seed_from_u64(writer as u64);
                let mut new = StdRng::seed_from_u64(writer as u64);
                for _ in 0..1_000 {
                    let use_shared = shared > 0 && (private.is_empty() || old.random_bool(ratio));
                    let key = if use_shared {
                        old.random_range(0..shared)
                    } else {
                        old.random_range(private.clone())
                    };
                    assert_eq!(keys.pick(1, &mut new), [key], "overlap {overlap}");
                }
            }
        }
    }

    #[test]
    fn a_transaction_picks_distinct_keys_among_its_writers_own() {
        let config = WorkloadConfig {
            num_writers: 2,
            key_pool_size: 20,
            key_overlap_ratio: 0.5,
            ..Default::default()
        };
        // Writer 1 has the shared keys 0..10 and its slice 15..20.
        let keys = WriterKeys::new(&config, 1);
        assert_eq!(config.writer_key_count(), 15);
        let mut rng = StdRng::seed_from_u64(7);
        for n in [2, 5, 14, 15] {
            for _ in 0..200 {
                let picked = keys.pick(n, &mut rng);
                let mut distinct = picked.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), n, "{picked:?}");
                assert!(
                    picked.iter().all(|&i| i < 10 || (15..20).contains(&i)),
                    "{picked:?}"
                );
            }
        }
        assert_eq!(keys.pick(16, &mut rng).len(), 15, "only the writer's keys");
    }
}
