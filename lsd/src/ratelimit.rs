//! Token buckets, alone and keyed by client prefix. The LS's answer is cheap
//! but a decision makes every MA probe the user four times, so an unlimited
//! LS would be a traffic amplifier; these bound it.

use crate::config::Bucket;
use std::collections::HashMap;
use std::hash::Hash;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(b: Bucket, now: Instant) -> Self {
        TokenBucket {
            rate_per_s: b.rate_per_s,
            burst: f64::from(b.burst),
            tokens: f64::from(b.burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate_per_s).min(self.burst);
        self.last = now;
    }

    /// Takes `n` tokens if all are there; takes none otherwise.
    pub fn take(&mut self, now: Instant, n: u32) -> bool {
        self.refill(now);
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely, i.e. holds no information.
    fn is_idle(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// One bucket per key, at most `max_keys` of them. Full buckets carry no state
/// and are dropped to make room; if every tracked key is still limited the new
/// key is refused, so a flood of distinct prefixes cannot reset its own limits.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    spec: Bucket,
    max_keys: usize,
    buckets: HashMap<K, TokenBucket>,
}

impl<K: Hash + Eq + Copy> KeyedLimiter<K> {
    pub fn new(spec: Bucket, max_keys: usize) -> Self {
        KeyedLimiter {
            spec,
            max_keys,
            buckets: HashMap::new(),
        }
    }

    pub fn take(&mut self, now: Instant, key: K, n: u32) -> bool {
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.max_keys {
            self.buckets.retain(|_, b| !b.is_idle(now));
            if self.buckets.len() >= self.max_keys {
                return false;
            }
        }
        self.buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(self.spec, now))
            .take(now, n)
    }

    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SPEC: Bucket = Bucket {
        rate_per_s: 2.0,
        burst: 3,
    };

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(SPEC, t0);
        assert!(b.take(t0, 1) && b.take(t0, 1) && b.take(t0, 1));
        assert!(!b.take(t0, 1));
        assert!(!b.take(t0 + Duration::from_millis(400), 1));
        assert!(b.take(t0 + Duration::from_millis(500), 1));
    }

    #[test]
    fn taking_more_than_available_takes_nothing() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(SPEC, t0);
        assert!(!b.take(t0, 4));
        assert!(b.take(t0, 3));
    }

    #[test]
    fn keys_are_limited_independently() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::new(SPEC, 16);
        for _ in 0..3 {
            assert!(l.take(t0, 1u64, 1));
        }
        assert!(!l.take(t0, 1u64, 1));
        assert!(l.take(t0, 2u64, 1));
    }

    #[test]
    fn a_full_limiter_refuses_new_keys_unless_some_bucket_is_idle() {
        let t0 = Instant::now();
        let mut l = KeyedLimiter::new(SPEC, 2);
        assert!(l.take(t0, 1u64, 1));
        assert!(l.take(t0, 2u64, 1));
        assert!(!l.take(t0, 3u64, 1));
        // After 0.5 s both buckets are full again and can be forgotten.
        assert!(l.take(t0 + Duration::from_millis(500), 3u64, 1));
        assert_eq!(l.tracked(), 1);
    }
}
