//! Users the LS sent to this MA (LSS_MA_ASSIGN), counted against the load
//! index the heartbeats report, and when their session ends.
//!
//! A user is counted from its assignment. It stays while its mapping (in
//! this MA's database, or the database the pool's MAs share) is live, and
//! goes when that mapping expires or is withdrawn; a user whose mapping never
//! shows up goes `grace` after the assignment. Bounded: at most `max` users,
//! further assignments are refused (and counted by the caller).

use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct User {
    pub level: ServiceLevel,
    /// Unix seconds of the last assignment.
    pub assigned_at: u64,
    /// Unix seconds after which the user is checked against its mapping.
    pub until: u64,
}

/// What an assignment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    New,
    /// Already counted; its level changed (shaping must follow).
    LevelChanged,
    /// Already counted at this level; only its timer was renewed.
    Renewed,
    /// At `max` users: refused.
    Full,
}

#[derive(Debug)]
pub struct Users {
    map: HashMap<NodeId, User>,
    max: usize,
    grace: u64,
}

impl Users {
    pub fn new(max: usize, grace_s: u64) -> Users {
        Users {
            map: HashMap::new(),
            max,
            grace: grace_s,
        }
    }

    pub fn assign(&mut self, node: NodeId, level: ServiceLevel, now: u64) -> Assigned {
        let until = now.saturating_add(self.grace);
        if let Some(u) = self.map.get_mut(&node) {
            let changed = u.level != level;
            u.level = level;
            u.assigned_at = now;
            u.until = u.until.max(until);
            return if changed {
                Assigned::LevelChanged
            } else {
                Assigned::Renewed
            };
        }
        if self.map.len() >= self.max {
            return Assigned::Full;
        }
        self.map.insert(
            node,
            User {
                level,
                assigned_at: now,
                until,
            },
        );
        Assigned::New
    }

    /// Users whose timer ran out: the caller looks up their mappings and
    /// calls [`Users::extend`] or [`Users::remove`].
    pub fn due(&self, now: u64) -> Vec<NodeId> {
        self.map
            .iter()
            .filter(|(_, u)| u.until <= now)
            .map(|(n, _)| *n)
            .collect()
    }

    /// The user's mapping is live until `until`.
    pub fn extend(&mut self, node: NodeId, until: u64) {
        if let Some(u) = self.map.get_mut(&node) {
            u.until = u.until.max(until);
        }
    }

    pub fn remove(&mut self, node: NodeId) -> Option<User> {
        self.map.remove(&node)
    }

    pub fn count(&self, level: ServiceLevel) -> u32 {
        self.map.values().filter(|u| u.level == level).count() as u32
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, node: NodeId) -> Option<User> {
        self.map.get(&node).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (NodeId, User)> + '_ {
        self.map.iter().map(|(n, u)| (*n, *u))
    }
}

/// Load in parts per million of `capacity`, the formula lsd uses
/// (docs/lsd.md, "Load index"): the bandwidth committed to the users.
pub fn load_ppm(
    normal: u32,
    premium: u32,
    normal_kbps: u32,
    premium_kbps: u32,
    capacity: u32,
) -> u32 {
    if capacity == 0 {
        return 1_000_000;
    }
    let used =
        u64::from(normal) * u64::from(normal_kbps) + u64::from(premium) * u64::from(premium_kbps);
    (used.saturating_mul(1_000_000) / u64::from(capacity)).min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u64) -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0000 | i)
    }

    #[test]
    fn assignments_count_per_level_and_the_table_is_bounded() {
        let mut u = Users::new(2, 60);
        assert_eq!(u.assign(n(1), ServiceLevel::Normal, 100), Assigned::New);
        assert_eq!(u.assign(n(2), ServiceLevel::Premium, 100), Assigned::New);
        assert_eq!(u.assign(n(3), ServiceLevel::Normal, 100), Assigned::Full);
        assert_eq!(u.assign(n(1), ServiceLevel::Normal, 110), Assigned::Renewed);
        assert_eq!(
            u.assign(n(1), ServiceLevel::Premium, 120),
            Assigned::LevelChanged
        );
        assert_eq!(
            (
                u.count(ServiceLevel::Normal),
                u.count(ServiceLevel::Premium)
            ),
            (0, 2)
        );
    }

    #[test]
    fn a_user_is_due_after_its_grace_and_a_live_mapping_extends_it() {
        let mut u = Users::new(10, 60);
        u.assign(n(1), ServiceLevel::Normal, 100);
        assert!(u.due(159).is_empty());
        assert_eq!(u.due(160), vec![n(1)]);
        u.extend(n(1), 500);
        assert!(u.due(499).is_empty());
        u.remove(n(1));
        assert!(u.is_empty());
    }

    #[test]
    fn load_matches_lsds_formula() {
        // docs/lsd.md: C = 10 000, 13 normal users at 500 kbit/s -> 0.65.
        assert_eq!(load_ppm(13, 0, 500, 2_000, 10_000), 650_000);
        assert_eq!(load_ppm(0, 1, 500, 2_000, 0), 1_000_000);
    }
}
