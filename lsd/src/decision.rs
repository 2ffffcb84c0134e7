//! The heuristic decision procedure (paper §IV.B) as state: decisions waiting
//! for RTT replies, each with a deadline, and the choice among the replies.
//! Sending and receiving is the caller's; nothing here blocks or sleeps.

use lin6::addr::{NodeId, Prefix64};
use lin6::ls::{RttStatus, ServiceLevel};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv6Addr, SocketAddrV6};
use tokio::time::Instant;

/// Users waiting on one decision beyond which further ones get Busy.
pub const MAX_WAITERS: usize = 32;

/// A user waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    pub user: SocketAddrV6,
    pub sequence: u32,
    pub node: NodeId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: u32,
    pub prefix: Prefix64,
    pub level: ServiceLevel,
    pub waiters: Vec<Waiter>,
    /// Control address asked and not yet answered -> the MA it speaks for.
    /// Only these may answer.
    pub asked: BTreeMap<SocketAddrV6, Ipv6Addr>,
    /// Reachable answers so far: MA -> mean RTT in microseconds.
    pub rtts: BTreeMap<Ipv6Addr, u32>,
    pub answered: usize,
    pub deadline: Instant,
}

impl Pending {
    /// The lowest mean RTT among replies whose MA `still_ok` accepts (the
    /// table may have changed while we waited). Ties go to the lower address
    /// so that every LS would pick the same one.
    pub fn best(&self, mut still_ok: impl FnMut(&Ipv6Addr) -> bool) -> Option<Ipv6Addr> {
        self.rtts
            .iter()
            .filter(|(ma, _)| still_ok(ma))
            .min_by_key(|(ma, rtt)| (**rtt, **ma))
            .map(|(ma, _)| *ma)
    }
}

/// Why an RTT reply was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRejected {
    /// No decision with that ID (finished, expired or never asked).
    UnknownRequest,
    /// The sender is not a control address we asked for this decision.
    NotAsked,
}

#[derive(Debug)]
pub struct Decisions {
    max_pending: usize,
    next_id: u32,
    pending: HashMap<u32, Pending>,
    by_key: HashMap<(Prefix64, ServiceLevel), u32>,
}

impl Decisions {
    /// `seed` starts the request IDs somewhere unpredictable-ish, so a restart
    /// does not reuse the IDs of replies still in flight.
    pub fn new(max_pending: usize, seed: u32) -> Self {
        Decisions {
            max_pending,
            next_id: seed.max(1),
            pending: HashMap::new(),
            by_key: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds `w` to a decision already running for the same prefix and level,
    /// so that a burst of users on one network costs one round of probes.
    /// Returns false if there is none, or it has too many waiters.
    pub fn join(&mut self, prefix: Prefix64, level: ServiceLevel, w: Waiter) -> Option<bool> {
        let id = self.by_key.get(&(prefix, level))?;
        let p = self.pending.get_mut(id)?;
        if p.waiters.len() >= MAX_WAITERS {
            return Some(false);
        }
        p.waiters.push(w);
        Some(true)
    }

    pub fn is_full(&self) -> bool {
        self.pending.len() >= self.max_pending
    }

    /// Starts a decision; the caller sends one RTT request per `asked` entry
    /// with the returned ID. None if at the limit.
    pub fn start(
        &mut self,
        prefix: Prefix64,
        level: ServiceLevel,
        first: Waiter,
        asked: BTreeMap<SocketAddrV6, Ipv6Addr>,
        deadline: Instant,
    ) -> Option<u32> {
        if self.is_full() {
            return None;
        }
        let mut id = self.next_id;
        while id == 0 || self.pending.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.pending.insert(
            id,
            Pending {
                id,
                prefix,
                level,
                waiters: vec![first],
                asked,
                rtts: BTreeMap::new(),
                answered: 0,
                deadline,
            },
        );
        self.by_key.insert((prefix, level), id);
        Some(id)
    }

    /// Records a reply. Returns the finished decision once every asked MA
    /// has answered; `Ok(None)` while others are still outstanding.
    pub fn reply(
        &mut self,
        from: SocketAddrV6,
        id: u32,
        status: RttStatus,
    ) -> Result<Option<Pending>, ReplyRejected> {
        let p = self
            .pending
            .get_mut(&id)
            .ok_or(ReplyRejected::UnknownRequest)?;
        // Removing the sender makes a second reply from it "not asked", so a
        // replayed or duplicated reply cannot count twice.
        let ma = p.asked.remove(&from).ok_or(ReplyRejected::NotAsked)?;
        p.answered += 1;
        if let RttStatus::Reachable { mean_us, .. } = status {
            p.rtts.insert(ma, mean_us);
        }
        if p.asked.is_empty() {
            return Ok(self.finish(id));
        }
        Ok(None)
    }

    fn finish(&mut self, id: u32) -> Option<Pending> {
        let p = self.pending.remove(&id)?;
        if self.by_key.get(&(p.prefix, p.level)) == Some(&id) {
            self.by_key.remove(&(p.prefix, p.level));
        }
        Some(p)
    }

    /// Decisions whose deadline has passed, removed; they are decided with
    /// the replies they have.
    pub fn due(&mut self, now: Instant) -> Vec<Pending> {
        let ids: Vec<u32> = self
            .pending
            .values()
            .filter(|p| p.deadline <= now)
            .map(|p| p.id)
            .collect();
        ids.into_iter().filter_map(|id| self.finish(id)).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ctl(port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0)
    }
    fn ma(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n)
    }
    fn waiter() -> Waiter {
        Waiter {
            user: ctl(9),
            sequence: 1,
            node: NodeId::from_u64(1),
        }
    }
    fn up(us: u32) -> RttStatus {
        RttStatus::Reachable {
            mean_us: us,
            answered: 4,
        }
    }

    fn start(d: &mut Decisions, now: Instant) -> u32 {
        let asked = [(ctl(1), ma(1)), (ctl(2), ma(2)), (ctl(3), ma(3))].into();
        d.start(
            Prefix64::from_u64(1),
            ServiceLevel::Normal,
            waiter(),
            asked,
            now + Duration::from_millis(500),
        )
        .unwrap()
    }

    #[test]
    fn the_lowest_rtt_wins_once_every_ma_answered() {
        let t0 = Instant::now();
        let mut d = Decisions::new(8, 1);
        let id = start(&mut d, t0);
        assert_eq!(d.reply(ctl(1), id, up(900)), Ok(None));
        assert_eq!(d.reply(ctl(2), id, RttStatus::Unreachable), Ok(None));
        let p = d.reply(ctl(3), id, up(300)).unwrap().unwrap();
        assert_eq!(p.best(|_| true), Some(ma(3)));
        // A table change while waiting takes the winner out.
        assert_eq!(p.best(|m| *m != ma(3)), Some(ma(1)));
        assert!(d.is_empty());
    }

    #[test]
    fn replies_from_unasked_senders_duplicates_and_stale_ids_are_rejected() {
        let t0 = Instant::now();
        let mut d = Decisions::new(8, 1);
        let id = start(&mut d, t0);
        assert_eq!(d.reply(ctl(7), id, up(1)), Err(ReplyRejected::NotAsked));
        assert_eq!(
            d.reply(ctl(1), id + 1, up(1)),
            Err(ReplyRejected::UnknownRequest)
        );
        assert_eq!(d.reply(ctl(1), id, up(5)), Ok(None));
        assert_eq!(d.reply(ctl(1), id, up(1)), Err(ReplyRejected::NotAsked));
    }

    #[test]
    fn the_deadline_decides_with_partial_replies() {
        let t0 = Instant::now();
        let mut d = Decisions::new(8, 1);
        let id = start(&mut d, t0);
        d.reply(ctl(2), id, up(700)).unwrap();
        assert!(d.due(t0 + Duration::from_millis(499)).is_empty());
        let done = d.due(t0 + Duration::from_millis(500));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].best(|_| true), Some(ma(2)));
        assert_eq!(d.next_deadline(), None);
    }

    #[test]
    fn a_second_user_on_the_same_network_joins_instead_of_probing_again() {
        let t0 = Instant::now();
        let mut d = Decisions::new(8, 1);
        start(&mut d, t0);
        assert_eq!(
            d.join(Prefix64::from_u64(1), ServiceLevel::Normal, waiter()),
            Some(true)
        );
        assert_eq!(
            d.join(Prefix64::from_u64(1), ServiceLevel::Premium, waiter()),
            None
        );
        assert_eq!(
            d.join(Prefix64::from_u64(2), ServiceLevel::Normal, waiter()),
            None
        );
    }

    #[test]
    fn the_pending_limit_is_enforced() {
        let t0 = Instant::now();
        let mut d = Decisions::new(1, 1);
        start(&mut d, t0);
        assert!(d.is_full());
        let again = d.start(
            Prefix64::from_u64(9),
            ServiceLevel::Normal,
            waiter(),
            BTreeMap::new(),
            t0,
        );
        assert_eq!(again, None);
    }
}
