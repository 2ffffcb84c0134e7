//! The MA table (paper Table 1): one entry per MA, a heartbeat timer that
//! marks it inactive when it runs out. Entries are never deleted by the timer,
//! so a returning MA keeps its place and operators keep seeing it.

use crate::error::TableError;
use crate::load::LoadModel;
use lin6::ls::{Heartbeat, MaEntry, MaFlags, ServiceLevel};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaState {
    pub addr: Ipv6Addr,
    /// Where the MA's heartbeats come from; RTT requests and assignments go
    /// there.
    pub control: SocketAddrV6,
    pub capacity_kbps: u32,
    pub normal: u32,
    pub premium: u32,
    pub reported_load_ppm: u32,
    pub active: bool,
    pub ma_draining: bool,
    pub admin_drained: bool,
    /// When the heartbeat timer runs out.
    pub expires: Instant,
}

impl MaState {
    /// Whether new users of `level` may be sent here.
    pub fn eligible(&self, level: ServiceLevel, load: &LoadModel) -> bool {
        self.open() && load.has_room(level, self.normal, self.premium, self.capacity_kbps)
    }

    /// Active and taking users (neither it nor the operator drains it),
    /// room or not.
    pub fn open(&self) -> bool {
        self.active && !self.ma_draining && !self.admin_drained
    }
}

/// What a heartbeat or a relayed entry did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    /// Was inactive, is active again.
    Revived,
    Refreshed,
    /// A relayed entry said the MA is inactive and we had it active.
    Deactivated,
    Unchanged,
}

#[derive(Debug)]
pub struct MaTable {
    capacity: usize,
    hold: Duration,
    entries: BTreeMap<Ipv6Addr, MaState>,
    drained: BTreeSet<Ipv6Addr>,
}

impl MaTable {
    pub fn new(
        capacity: usize,
        hold: Duration,
        drained: impl IntoIterator<Item = Ipv6Addr>,
    ) -> Self {
        MaTable {
            capacity,
            hold,
            entries: BTreeMap::new(),
            drained: drained.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, addr: &Ipv6Addr) -> Option<&MaState> {
        self.entries.get(addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MaState> {
        self.entries.values()
    }

    pub fn active_count(&self) -> usize {
        self.entries.values().filter(|e| e.active).count()
    }

    /// Users on active MAs, (normal, premium): what the pool serves now.
    pub fn users_by_level(&self) -> (u64, u64) {
        self.entries
            .values()
            .filter(|e| e.active)
            .fold((0, 0), |(n, p), e| {
                (n + u64::from(e.normal), p + u64::from(e.premium))
            })
    }

    /// Entries an operator has drained.
    pub fn drained_count(&self) -> usize {
        self.entries.values().filter(|e| e.admin_drained).count()
    }

    fn room_for_new(&self, addr: &Ipv6Addr) -> Result<(), TableError> {
        if !self.entries.contains_key(addr) && self.entries.len() >= self.capacity {
            return Err(TableError::Full {
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    /// A heartbeat resets the timer and replaces the counts: the MA knows how
    /// many users it really has, the LS only what it sent there.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        control: SocketAddrV6,
        hb: &Heartbeat,
    ) -> Result<Change, TableError> {
        self.room_for_new(&hb.ma_addr)?;
        let state = MaState {
            addr: hb.ma_addr,
            control,
            capacity_kbps: hb.capacity_kbps,
            normal: hb.normal,
            premium: hb.premium,
            reported_load_ppm: hb.load_ppm,
            active: true,
            ma_draining: hb.draining,
            admin_drained: self.drained.contains(&hb.ma_addr),
            expires: now + self.hold,
        };
        Ok(match self.entries.insert(hb.ma_addr, state) {
            None => Change::New,
            Some(old) if !old.active => Change::Revived,
            Some(_) => Change::Refreshed,
        })
    }

    /// Applies an entry relayed by a peer LS. Its timer is relative, so the
    /// entry expires here when it would have expired there.
    pub fn apply_relayed(&mut self, now: Instant, e: &MaEntry) -> Result<Change, TableError> {
        self.room_for_new(&e.ma_addr)?;
        let remaining = Duration::from_millis(e.remaining_ms.into()).min(self.hold);
        let active = e.flags.active && !remaining.is_zero();
        let state = MaState {
            addr: e.ma_addr,
            control: e.control,
            capacity_kbps: e.capacity_kbps,
            normal: e.normal,
            premium: e.premium,
            reported_load_ppm: e.load_ppm,
            active,
            ma_draining: e.flags.ma_draining,
            // Draining is this LS operator's decision, or the peer's.
            admin_drained: e.flags.admin_drained || self.drained.contains(&e.ma_addr),
            expires: now + remaining,
        };
        Ok(match self.entries.insert(e.ma_addr, state) {
            None => Change::New,
            Some(old) if old.active && !active => Change::Deactivated,
            Some(old) if !old.active && active => Change::Revived,
            Some(old) if old == state => Change::Unchanged,
            Some(_) => Change::Refreshed,
        })
    }

    /// Marks every MA whose timer ran out inactive and returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<Ipv6Addr> {
        let mut gone = Vec::new();
        for e in self.entries.values_mut() {
            if e.active && e.expires <= now {
                e.active = false;
                gone.push(e.addr);
            }
        }
        gone
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| e.active)
            .map(|e| e.expires)
            .min()
    }

    /// Operator drain: the MA stays active for its current users but gets no
    /// new ones. Returns false if the MA is unknown (the flag is still kept
    /// for when it appears).
    pub fn set_drained(&mut self, addr: Ipv6Addr, drained: bool) -> bool {
        if drained {
            self.drained.insert(addr);
        } else {
            self.drained.remove(&addr);
        }
        match self.entries.get_mut(&addr) {
            Some(e) => {
                e.admin_drained = drained;
                true
            }
            None => false,
        }
    }

    /// Counts a user sent to `addr` until the MA's next heartbeat replaces the
    /// counts with its own.
    pub fn assign(&mut self, addr: &Ipv6Addr, level: ServiceLevel) -> bool {
        match self.entries.get_mut(addr) {
            Some(e) => {
                match level {
                    ServiceLevel::Normal => e.normal = e.normal.saturating_add(1),
                    ServiceLevel::Premium => e.premium = e.premium.saturating_add(1),
                }
                true
            }
            None => false,
        }
    }

    pub fn eligible(&self, level: ServiceLevel, load: &LoadModel) -> Vec<&MaState> {
        self.entries
            .values()
            .filter(|e| e.eligible(level, load))
            .collect()
    }

    /// The wire form of one entry, timer relative to `now`.
    pub fn to_entry(&self, now: Instant, addr: &Ipv6Addr) -> Option<MaEntry> {
        self.entries.get(addr).map(|e| wire_entry(now, e))
    }

    pub fn to_entries(&self, now: Instant) -> Vec<MaEntry> {
        self.entries.values().map(|e| wire_entry(now, e)).collect()
    }

    pub fn snapshot(&self, now: Instant, load: &LoadModel) -> Vec<MaView> {
        self.entries
            .values()
            .map(|e| MaView {
                addr: e.addr,
                control: SocketAddr::V6(e.control),
                active: e.active,
                ma_draining: e.ma_draining,
                admin_drained: e.admin_drained,
                capacity_kbps: e.capacity_kbps,
                normal: e.normal,
                premium: e.premium,
                load_ppm: load.index_ppm(e.normal, e.premium, e.capacity_kbps),
                reported_load_ppm: e.reported_load_ppm,
                timer_ms: remaining_ms(now, e),
            })
            .collect()
    }
}

fn remaining_ms(now: Instant, e: &MaState) -> u32 {
    if !e.active {
        return 0;
    }
    e.expires
        .saturating_duration_since(now)
        .as_millis()
        .min(u128::from(u32::MAX)) as u32
}

fn wire_entry(now: Instant, e: &MaState) -> MaEntry {
    MaEntry {
        ma_addr: e.addr,
        control: e.control,
        flags: MaFlags {
            active: e.active,
            admin_drained: e.admin_drained,
            ma_draining: e.ma_draining,
        },
        capacity_kbps: e.capacity_kbps,
        normal: e.normal,
        premium: e.premium,
        load_ppm: e.reported_load_ppm,
        remaining_ms: remaining_ms(now, e),
    }
}

/// What operators (and `lin6ctl -j`) see of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaView {
    pub addr: Ipv6Addr,
    pub control: SocketAddr,
    pub active: bool,
    pub ma_draining: bool,
    pub admin_drained: bool,
    pub capacity_kbps: u32,
    pub normal: u32,
    pub premium: u32,
    /// Computed by this LS from the counts.
    pub load_ppm: u32,
    /// As the MA last reported it.
    pub reported_load_ppm: u32,
    pub timer_ms: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadConfig;

    fn hb(n: u16) -> Heartbeat {
        Heartbeat {
            ma_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n),
            capacity_kbps: 10_000,
            normal: 0,
            premium: 0,
            load_ppm: 0,
            draining: false,
        }
    }

    fn ctl(port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0)
    }

    fn load() -> LoadModel {
        LoadModel::from_config(&LoadConfig::default())
    }

    #[test]
    fn heartbeat_makes_an_ma_active_and_expiry_marks_it_inactive_without_deleting() {
        let t0 = Instant::now();
        let mut t = MaTable::new(4, Duration::from_secs(30), []);
        assert_eq!(t.heartbeat(t0, ctl(1), &hb(1)).unwrap(), Change::New);
        assert!(t.get(&hb(1).ma_addr).unwrap().active);
        assert!(t.expire(t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(t.expire(t0 + Duration::from_secs(30)), vec![hb(1).ma_addr]);
        assert_eq!(t.len(), 1);
        assert!(!t.get(&hb(1).ma_addr).unwrap().active);
        // A later heartbeat revives it.
        let t1 = t0 + Duration::from_secs(40);
        assert_eq!(t.heartbeat(t1, ctl(1), &hb(1)).unwrap(), Change::Revived);
        assert!(t.expire(t1 + Duration::from_secs(29)).is_empty());
    }

    #[test]
    fn a_heartbeat_resets_the_timer() {
        let t0 = Instant::now();
        let mut t = MaTable::new(4, Duration::from_secs(30), []);
        t.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        t.heartbeat(t0 + Duration::from_secs(20), ctl(1), &hb(1))
            .unwrap();
        assert!(t.expire(t0 + Duration::from_secs(45)).is_empty());
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(50)));
    }

    #[test]
    fn a_full_table_refuses_new_mas_but_still_refreshes_known_ones() {
        let t0 = Instant::now();
        let mut t = MaTable::new(2, Duration::from_secs(30), []);
        t.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        t.heartbeat(t0, ctl(2), &hb(2)).unwrap();
        t.expire(t0 + Duration::from_secs(31));
        // Inactive entries still count: they are not deleted.
        let err = t.heartbeat(t0, ctl(3), &hb(3)).unwrap_err();
        assert_eq!(err, TableError::Full { capacity: 2 });
        assert!(err.to_string().contains("ma_table.capacity"));
        assert_eq!(t.heartbeat(t0, ctl(1), &hb(1)).unwrap(), Change::Revived);
    }

    #[test]
    fn drained_and_draining_mas_are_not_eligible() {
        let t0 = Instant::now();
        let mut t = MaTable::new(4, Duration::from_secs(30), [hb(2).ma_addr]);
        t.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        t.heartbeat(t0, ctl(2), &hb(2)).unwrap();
        let mut d = hb(3);
        d.draining = true;
        t.heartbeat(t0, ctl(3), &d).unwrap();
        let e: Vec<_> = t
            .eligible(ServiceLevel::Normal, &load())
            .iter()
            .map(|e| e.addr)
            .collect();
        assert_eq!(e, vec![hb(1).ma_addr]);
        assert!(t.set_drained(hb(1).ma_addr, true));
        assert!(t.eligible(ServiceLevel::Normal, &load()).is_empty());
        t.set_drained(hb(2).ma_addr, false);
        assert_eq!(t.eligible(ServiceLevel::Normal, &load()).len(), 1);
    }

    #[test]
    fn assignments_count_until_the_next_heartbeat_overrides_them() {
        let t0 = Instant::now();
        let mut t = MaTable::new(4, Duration::from_secs(30), []);
        t.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        t.assign(&hb(1).ma_addr, ServiceLevel::Premium);
        t.assign(&hb(1).ma_addr, ServiceLevel::Normal);
        let e = t.get(&hb(1).ma_addr).unwrap();
        assert_eq!((e.normal, e.premium), (1, 1));
        t.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        let e = t.get(&hb(1).ma_addr).unwrap();
        assert_eq!((e.normal, e.premium), (0, 0));
    }

    #[test]
    fn relayed_entries_keep_the_remaining_time_and_inactive_state() {
        let t0 = Instant::now();
        let mut a = MaTable::new(4, Duration::from_secs(30), []);
        a.heartbeat(t0, ctl(1), &hb(1)).unwrap();
        let later = t0 + Duration::from_secs(10);
        let entry = a.to_entry(later, &hb(1).ma_addr).unwrap();
        assert_eq!(entry.remaining_ms, 20_000);
        let mut b = MaTable::new(4, Duration::from_secs(30), []);
        assert_eq!(b.apply_relayed(later, &entry).unwrap(), Change::New);
        assert_eq!(b.next_expiry(), Some(t0 + Duration::from_secs(30)));
        a.expire(t0 + Duration::from_secs(30));
        let dead = a.to_entry(later, &hb(1).ma_addr).unwrap();
        assert!(!dead.flags.active);
        assert_eq!(b.apply_relayed(later, &dead).unwrap(), Change::Deactivated);
        assert!(!b.get(&hb(1).ma_addr).unwrap().active);
    }
}
