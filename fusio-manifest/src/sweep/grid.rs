//! The comprehensive sweep's grid of workloads.

use crate::config::WorkloadConfig;

/// The 96 configurations of the comprehensive sweep: num_writers {2,4,8} x num_readers {4,8}
/// x writer_rate {1,5} x reader_rate {10,50} x key_pool_size {100,500} x key_overlap_ratio
/// {0.3,0.7}; the other fields come from `base`.
pub fn comprehensive_grid(base: &WorkloadConfig) -> Vec<WorkloadConfig> {
    let mut grid = Vec::with_capacity(96);
    for num_writers in [2, 4, 8] {
        for num_readers in [4, 8] {
            for writer_rate in [1.0, 5.0] {
                for reader_rate in [10.0, 50.0] {
                    for key_pool_size in [100, 500] {
                        for key_overlap_ratio in [0.3, 0.7] {
                            grid.push(WorkloadConfig {
                                num_writers,
                                num_readers,
                                writer_rate,
                                reader_rate,
                                key_pool_size,
                                key_overlap_ratio,
                                ..base.clone()
                            });
                        }
                    }
                }
            }
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_96_distinct_configs() {
        let g = comprehensive_grid(&WorkloadConfig::default());
        assert_eq!(g.len(), 96);
        for (i, a) in g.iter().enumerate() {
            assert!(g[i + 1..].iter().all(|b| a != b));
            a.validate().unwrap();
        }
    }
}
