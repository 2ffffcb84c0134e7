//! The load index. The paper's formula was lost in extraction; this is ours.
//!
//! A site i commits `used_i = normal_i * bw_normal + premium_i * bw_premium`
//! kbit/s of its `capacity_i`. Its load index is `used_i / capacity_i`. It has
//! room for one more user of level L when
//! `(used_i + bw_L) / capacity_i <= Th_load`.
//! Because premium users need more bandwidth than normal ones, a site can be
//! full for premium while it still has room for normal users.
//!
//! Arithmetic is integer (kbit/s and parts per million) so that the decision
//! is exact and the same on every LS.

use crate::config::LoadConfig;
use lin6::ls::ServiceLevel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadModel {
    pub normal_kbps: u32,
    pub premium_kbps: u32,
    /// Th_load in parts per million.
    pub threshold_ppm: u32,
}

impl LoadModel {
    pub fn from_config(c: &LoadConfig) -> LoadModel {
        LoadModel {
            normal_kbps: c.normal_kbps,
            premium_kbps: c.premium_kbps,
            threshold_ppm: (c.threshold * 1e6).round().clamp(0.0, 1e6) as u32,
        }
    }

    pub fn bandwidth(&self, level: ServiceLevel) -> u64 {
        match level {
            ServiceLevel::Normal => self.normal_kbps.into(),
            ServiceLevel::Premium => self.premium_kbps.into(),
        }
    }

    /// Committed bandwidth in kbit/s.
    pub fn used_kbps(&self, normal: u32, premium: u32) -> u64 {
        u64::from(normal) * u64::from(self.normal_kbps)
            + u64::from(premium) * u64::from(self.premium_kbps)
    }

    /// The load index in parts per million of capacity, saturating; a site
    /// that reports no capacity is fully loaded.
    pub fn index_ppm(&self, normal: u32, premium: u32, capacity_kbps: u32) -> u32 {
        if capacity_kbps == 0 {
            return u32::MAX;
        }
        let ppm =
            u128::from(self.used_kbps(normal, premium)) * 1_000_000 / u128::from(capacity_kbps);
        ppm.min(u128::from(u32::MAX)) as u32
    }

    /// Whether one more user of `level` keeps the site at or under Th_load.
    pub fn has_room(
        &self,
        level: ServiceLevel,
        normal: u32,
        premium: u32,
        capacity_kbps: u32,
    ) -> bool {
        let after = u128::from(self.used_kbps(normal, premium) + self.bandwidth(level));
        after * 1_000_000 <= u128::from(capacity_kbps) * u128::from(self.threshold_ppm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> LoadModel {
        LoadModel::from_config(&LoadConfig {
            threshold: 0.8,
            normal_kbps: 500,
            premium_kbps: 2_000,
        })
    }

    #[test]
    fn index_is_committed_bandwidth_over_capacity() {
        // 4 * 500 + 1 * 2000 = 4000 of 10000 kbit/s.
        assert_eq!(model().index_ppm(4, 1, 10_000), 400_000);
        assert_eq!(model().index_ppm(0, 0, 10_000), 0);
    }

    #[test]
    fn site_full_for_premium_still_has_room_for_normal() {
        // Th = 8000 of 10000 kbit/s; 7000 used leaves 1000: a normal user
        // (500) fits, a premium one (2000) does not.
        let m = model();
        assert_eq!(m.used_kbps(10, 1), 7_000);
        assert!(m.has_room(ServiceLevel::Normal, 10, 1, 10_000));
        assert!(!m.has_room(ServiceLevel::Premium, 10, 1, 10_000));
    }

    #[test]
    fn room_is_inclusive_at_exactly_the_threshold() {
        let m = model();
        // 7500 + 500 = 8000 = Th * capacity.
        assert!(m.has_room(ServiceLevel::Normal, 15, 0, 10_000));
        assert!(!m.has_room(ServiceLevel::Normal, 16, 0, 10_000));
    }

    #[test]
    fn zero_capacity_has_no_room_and_huge_counts_do_not_overflow() {
        let m = model();
        assert!(!m.has_room(ServiceLevel::Normal, 0, 0, 0));
        assert_eq!(m.index_ppm(1, 0, 0), u32::MAX);
        assert!(!m.has_room(ServiceLevel::Premium, u32::MAX, u32::MAX, u32::MAX));
        assert_eq!(m.index_ppm(u32::MAX, u32::MAX, 1), u32::MAX);
    }
}
