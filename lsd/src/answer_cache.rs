//! The answer cache (paper Table 2): client /64 -> chosen MA, each with a
//! timeout. Deleted when the timeout runs out, and at once when its MA becomes
//! inactive. Bounded: when full, the answer closest to expiry makes room.

use lin6::addr::Prefix64;
use lin6::ls::AnsEntry;
use serde::Serialize;
use std::net::Ipv6Addr;
use std::time::Duration;
use tokio::time::Instant;

use lin6::ttl_map::TtlMap;

#[derive(Debug)]
pub struct AnswerCache {
    ttl: Duration,
    map: TtlMap<Prefix64, Ipv6Addr, Instant>,
}

impl AnswerCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        AnswerCache {
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

    /// A live answer; an expired one is treated as absent even before the
    /// sweep removes it.
    pub fn get(&self, now: Instant, prefix: Prefix64) -> Option<Ipv6Addr> {
        self.map.get(now, &prefix).copied()
    }

    pub fn insert(&mut self, now: Instant, prefix: Prefix64, ma: Ipv6Addr) {
        self.map.insert(now, prefix, ma, now + self.ttl);
    }

    /// Applies an answer relayed by a peer; zero seconds left withdraws it.
    /// The remaining time is capped at our own TTL so a peer with a longer
    /// setting cannot pin answers here.
    pub fn apply_relayed(&mut self, now: Instant, e: &AnsEntry) {
        if e.remaining_s == 0 {
            self.map.remove(&e.prefix);
            return;
        }
        let ttl = Duration::from_secs(e.remaining_s.into()).min(self.ttl);
        self.map.insert(now, e.prefix, e.ma_addr, now + ttl);
    }

    pub fn remove(&mut self, prefix: Prefix64) -> bool {
        self.map.remove(&prefix)
    }

    /// Drops every answer that points at `ma`; returns how many.
    pub fn drop_ma(&mut self, ma: &Ipv6Addr) -> usize {
        self.map.retain(|_, a| a != ma)
    }

    pub fn expire(&mut self, now: Instant) -> usize {
        self.map.expire(now)
    }

    pub fn to_entries(&self, now: Instant) -> Vec<AnsEntry> {
        let mut v: Vec<AnsEntry> = self
            .map
            .iter()
            .filter_map(|(p, ma, expires)| {
                let s = secs_left(now, expires);
                (s > 0).then_some(AnsEntry {
                    prefix: *p,
                    ma_addr: *ma,
                    remaining_s: s,
                })
            })
            .collect();
        v.sort_by_key(|e| e.prefix);
        v
    }

    pub fn to_entry(&self, now: Instant, prefix: Prefix64) -> Option<AnsEntry> {
        self.map
            .get_with_expiry(&prefix)
            .map(|(ma, expires)| AnsEntry {
                prefix,
                ma_addr: *ma,
                remaining_s: secs_left(now, expires),
            })
    }

    pub fn snapshot(&self, now: Instant) -> Vec<AnswerView> {
        self.to_entries(now)
            .into_iter()
            .map(|e| AnswerView {
                prefix: e.prefix.to_string(),
                ma: e.ma_addr,
                timer_s: e.remaining_s,
            })
            .collect()
    }
}

/// Rounded up, so an answer with 0.4 s left is not relayed as a withdrawal.
fn secs_left(now: Instant, expires: Instant) -> u32 {
    let d = expires.saturating_duration_since(now);
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.min(u64::from(u32::MAX)) as u32
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerView {
    pub prefix: String,
    pub ma: Ipv6Addr,
    pub timer_s: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u64) -> Prefix64 {
        Prefix64::from_u64(0x2001_0db8_0000_0000 + n)
    }
    fn ma(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, n)
    }

    #[test]
    fn an_answer_lives_until_its_timeout_and_is_then_deleted() {
        let t0 = Instant::now();
        let mut c = AnswerCache::new(8, Duration::from_secs(120));
        c.insert(t0, p(1), ma(1));
        assert_eq!(c.get(t0 + Duration::from_secs(119), p(1)), Some(ma(1)));
        assert_eq!(c.get(t0 + Duration::from_secs(120), p(1)), None);
        assert_eq!(c.expire(t0 + Duration::from_secs(120)), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn answers_of_an_inactive_ma_are_dropped_and_others_kept() {
        let t0 = Instant::now();
        let mut c = AnswerCache::new(8, Duration::from_secs(120));
        c.insert(t0, p(1), ma(1));
        c.insert(t0, p(2), ma(1));
        c.insert(t0, p(3), ma(2));
        assert_eq!(c.drop_ma(&ma(1)), 2);
        assert_eq!(c.get(t0, p(3)), Some(ma(2)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_full_cache_evicts_the_answer_closest_to_expiry() {
        let t0 = Instant::now();
        let mut c = AnswerCache::new(2, Duration::from_secs(120));
        c.insert(t0, p(1), ma(1));
        c.insert(t0 + Duration::from_secs(5), p(2), ma(1));
        c.insert(t0 + Duration::from_secs(6), p(3), ma(1));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(t0 + Duration::from_secs(6), p(1)), None);
        assert!(c.get(t0 + Duration::from_secs(6), p(3)).is_some());
    }

    #[test]
    fn relayed_answers_are_capped_at_our_ttl_and_zero_withdraws() {
        let t0 = Instant::now();
        let mut c = AnswerCache::new(8, Duration::from_secs(60));
        let e = AnsEntry {
            prefix: p(1),
            ma_addr: ma(1),
            remaining_s: 10_000,
        };
        c.apply_relayed(t0, &e);
        assert_eq!(c.get(t0 + Duration::from_secs(61), p(1)), None);
        c.apply_relayed(t0, &e);
        c.apply_relayed(
            t0,
            &AnsEntry {
                remaining_s: 0,
                ..e
            },
        );
        assert!(c.is_empty());
    }

    #[test]
    fn remaining_time_rounds_up_on_the_wire() {
        let t0 = Instant::now();
        let mut c = AnswerCache::new(8, Duration::from_secs(60));
        c.insert(t0, p(1), ma(1));
        let e = c
            .to_entry(t0 + Duration::from_millis(59_600), p(1))
            .unwrap();
        assert_eq!(e.remaining_s, 1);
    }
}
