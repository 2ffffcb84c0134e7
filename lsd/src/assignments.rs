//! Which MA each user was sent to, from which /64: a user that asks again
//! from the same network (its resolver's retry of a request whose reply
//! was still on its way, or a fresh resolution) gets the same MA and is not
//! counted on it a second time. Counting it again would be wrong twice
//! over: the MA it fills may then look full for the user's own level,
//! sending the retry to another site, where it is counted as well. A user
//! that moved asks from a new /64 and gets a fresh decision. Entries live
//! as long as answers do; bounded like the answer cache, the one closest to
//! expiry making room.

use lin6::addr::{NodeId, Prefix64};
use lin6::ls::ServiceLevel;
use std::net::Ipv6Addr;
use std::time::Duration;
use tokio::time::Instant;

use lin6::ttl_map::TtlMap;

#[derive(Debug)]
pub struct Assignments {
    ttl: Duration,
    map: TtlMap<(NodeId, Prefix64), (Ipv6Addr, ServiceLevel), Instant>,
}

impl Assignments {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Assignments {
            ttl,
            map: TtlMap::new(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The MA `node` was sent to from `prefix` at `level`, if that is recent.
    pub fn get(
        &self,
        now: Instant,
        node: NodeId,
        prefix: Prefix64,
        level: ServiceLevel,
    ) -> Option<Ipv6Addr> {
        self.map
            .get(now, &(node, prefix))
            .filter(|(_, l)| *l == level)
            .map(|(ma, _)| *ma)
    }

    pub fn insert(
        &mut self,
        now: Instant,
        node: NodeId,
        prefix: Prefix64,
        level: ServiceLevel,
        ma: Ipv6Addr,
    ) {
        self.map
            .insert(now, (node, prefix), (ma, level), now + self.ttl);
    }

    /// Forgets every user sent to `ma` (it went inactive: they must be
    /// decided afresh); returns how many.
    pub fn drop_ma(&mut self, ma: &Ipv6Addr) -> usize {
        self.map.retain(|_, (m, _)| m != ma)
    }

    pub fn expire(&mut self, now: Instant) -> usize {
        self.map.expire(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> NodeId {
        NodeId::from_u64(0x0201_4a00_0000_0000 | n)
    }

    fn prefix(s: &str) -> Prefix64 {
        Prefix64::of(s.parse().unwrap())
    }

    const MA1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x51, 0, 0, 0, 0, 0xa);
    const MA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x52, 0, 0, 0, 0, 0xa);

    #[test]
    fn the_same_user_from_the_same_network_gets_its_ma_back_until_it_expires() {
        let now = Instant::now();
        let mut a = Assignments::new(8, Duration::from_secs(120));
        let (u, p) = (node(1), prefix("2001:db8:a1::21"));
        a.insert(now, u, p, ServiceLevel::Premium, MA1);
        assert_eq!(a.get(now, u, p, ServiceLevel::Premium), Some(MA1));
        let later = now + Duration::from_secs(119);
        assert_eq!(a.get(later, u, p, ServiceLevel::Premium), Some(MA1));
        let expired = now + Duration::from_secs(120);
        assert_eq!(a.get(expired, u, p, ServiceLevel::Premium), None);
    }

    #[test]
    fn a_moved_user_another_level_or_another_user_is_decided_afresh() {
        let now = Instant::now();
        let mut a = Assignments::new(8, Duration::from_secs(120));
        let (u, p) = (node(1), prefix("2001:db8:a1::21"));
        a.insert(now, u, p, ServiceLevel::Premium, MA1);
        assert_eq!(
            a.get(now, u, prefix("2001:db8:a2::21"), ServiceLevel::Premium),
            None
        );
        assert_eq!(a.get(now, u, p, ServiceLevel::Normal), None);
        assert_eq!(a.get(now, node(2), p, ServiceLevel::Premium), None);
    }

    #[test]
    fn an_inactive_ma_takes_its_users_with_it() {
        let now = Instant::now();
        let mut a = Assignments::new(8, Duration::from_secs(120));
        let p = prefix("2001:db8:a1::");
        a.insert(now, node(1), p, ServiceLevel::Normal, MA1);
        a.insert(now, node(2), p, ServiceLevel::Normal, MA2);
        assert_eq!(a.drop_ma(&MA1), 1);
        assert_eq!(a.get(now, node(1), p, ServiceLevel::Normal), None);
        assert_eq!(a.get(now, node(2), p, ServiceLevel::Normal), Some(MA2));
    }

    #[test]
    fn when_full_the_entry_closest_to_expiry_makes_room() {
        let now = Instant::now();
        let mut a = Assignments::new(2, Duration::from_secs(120));
        let p = prefix("2001:db8:a1::");
        a.insert(now, node(1), p, ServiceLevel::Normal, MA1);
        a.insert(
            now + Duration::from_secs(1),
            node(2),
            p,
            ServiceLevel::Normal,
            MA1,
        );
        a.insert(
            now + Duration::from_secs(2),
            node(3),
            p,
            ServiceLevel::Normal,
            MA2,
        );
        assert_eq!(a.len(), 2);
        let t = now + Duration::from_secs(2);
        assert_eq!(a.get(t, node(1), p, ServiceLevel::Normal), None);
        assert_eq!(a.get(t, node(2), p, ServiceLevel::Normal), Some(MA1));
        assert_eq!(a.get(t, node(3), p, ServiceLevel::Normal), Some(MA2));
    }
}
