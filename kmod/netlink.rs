// SPDX-License-Identifier: GPL-2.0

//! The "lin6" generic netlink family (spec: kmod/lin6.yaml).

use crate::addr::{In6, NodeId, Prefix};
use crate::state::{now_secs, Lin6Net};
use crate::stats::ALL as ALL_COUNTERS;
use crate::table::TableError;
use crate::uapi::{attr, cmd, map_flags, stats};
use crate::FAMILY;
use kernel::c_str;
use kernel::net::genetlink::{
    Dump, Family, FamilyOps, Info, McGroup, Message, Op, Policy, PutAttrs,
};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::rcu;

pub(crate) struct Lin6Genl;

const N_ATTRS: usize = attr::MAX as usize + 1;

const fn policy() -> [Policy; N_ATTRS] {
    // Reply-only attributes are refused in requests.
    let mut p = [const { Policy::reject() }; N_ATTRS];
    p[0] = Policy::unspec();
    p[attr::NODE_ID as usize] = Policy::u64();
    p[attr::LIN6_PREFIX as usize] = Policy::exact_len(16);
    p[attr::LOCATOR as usize] = Policy::exact_len(16);
    p[attr::PREFIX as usize] = Policy::exact_len(16);
    p[attr::LIFETIME as usize] = Policy::u32();
    p[attr::FLAGS as usize] = Policy::u32();
    p
}

static POLICY: [Policy; N_ATTRS] = policy();

static OPS: [Op; 7] = [
    Op::new::<Lin6Genl>(cmd::NODE_GET, true, false, false),
    Op::new::<Lin6Genl>(cmd::NODE_SET, true, false, true),
    Op::new::<Lin6Genl>(cmd::MAP_NEW, true, false, true),
    Op::new::<Lin6Genl>(cmd::MAP_DEL, true, false, true),
    Op::new::<Lin6Genl>(cmd::MAP_GET, true, true, false),
    Op::new::<Lin6Genl>(cmd::MAP_FLUSH, true, false, true),
    Op::new::<Lin6Genl>(cmd::STATS_GET, true, false, false),
];

// Events name the peers this node talks to: root only.
static GROUPS: [McGroup; 1] = [McGroup::new(b"events").admin_only()];

fn state<'a>(info: &mut Info<'a>) -> Result<&'a Lin6Net> {
    let net = info.net();
    Lin6Net::get(net).ok_or_else(|| info.fail(ENODEV, c_str!("lin6: no state for this namespace")))
}

/// A /64 given as a 16-byte address: its interface identifier must be zero.
fn prefix_attr(info: &mut Info<'_>, ty: u16, what: &'static CStr) -> Result<Option<Prefix>> {
    let Some(a) = info.attr(ty) else {
        return Ok(None);
    };
    let addr: In6 = a.as_array().ok_or(EINVAL)?;
    if NodeId::of(&addr).0 != 0 {
        return Err(info.fail(EINVAL, what));
    }
    Ok(Some(Prefix::of(&addr)))
}

fn table_error(info: &mut Info<'_>, e: TableError) -> Error {
    match e {
        TableError::Full => info.fail(ENOSPC, c_str!("mapping table is full")),
        TableError::NoSuchEntry => info.fail(ENOENT, c_str!("no mapping for this node-id")),
        TableError::NoMemory => ENOMEM,
    }
}

fn put_node(msg: &mut Message, ns: &Lin6Net) -> Result {
    let node = ns.node_now();
    if let Some(id) = node.id {
        msg.put_u64(attr::NODE_ID, id.0, attr::PAD)?;
        if let Some(loc) = ns.locator() {
            msg.put(attr::LOCATOR, &loc.join(id))?;
        }
    }
    msg.put(attr::LIN6_PREFIX, &node.lin6_prefix.to_in6())?;
    msg.put_u32(attr::CAPACITY, ns.capacity as u32)?;
    let guard = rcu::read_lock();
    msg.put_u32(
        attr::COUNT,
        ns.table.get(&guard).live_count(now_secs()) as u32,
    )
}

fn node_set(info: &mut Info<'_>, ns: &Lin6Net) -> Result {
    let id = info.attr(attr::NODE_ID).map(|a| NodeId(a.as_u64()));
    let lin6 = prefix_attr(
        info,
        attr::LIN6_PREFIX,
        c_str!("lin6-prefix must be a /64 (zero interface identifier)"),
    )?;
    let locator: Option<In6> = match info.attr(attr::LOCATOR) {
        Some(a) => Some(a.as_array().ok_or(EINVAL)?),
        None => None,
    };
    let old_id = ns.node_now().id;
    if id.is_none() && lin6.is_none() && locator.is_none() {
        return Err(info.fail(
            EINVAL,
            c_str!("nothing to set: give node-id, lin6-prefix or locator"),
        ));
    }
    let mut why: Option<&'static CStr> = None;
    let mut new_locator = None;
    let r = ns.update_node(|node| {
        if let Some(id) = id {
            if id.0 == 0 {
                why = Some(c_str!("node-id 0 is not a Node ID"));
                return Err(EINVAL);
            }
            node.id = Some(id);
        }
        if let Some(p) = lin6 {
            node.lin6_prefix = p;
        }
        if let Some(l) = locator {
            let Some(me) = node.id else {
                why = Some(c_str!("set node-id before the locator"));
                return Err(EINVAL);
            };
            let iid = NodeId::of(&l);
            if iid != me && iid.0 != 0 {
                why = Some(c_str!("locator's interface identifier is not this node-id"));
                return Err(EINVAL);
            }
            if Prefix::of(&l) == node.lin6_prefix {
                why = Some(c_str!("the locator prefix cannot be the LIN6 prefix"));
                return Err(EINVAL);
            }
            new_locator = Some(Prefix::of(&l));
        }
        Ok(())
    });
    if r.is_ok() {
        if new_locator.is_some() {
            ns.set_locator(new_locator);
        } else if id.is_some_and(|id| Some(id) != old_id) {
            // A new identity: the old locator was someone else's.
            ns.set_locator(None);
        }
    }
    match (r, why) {
        (Err(e), Some(msg)) => Err(info.fail(e, msg)),
        (r, _) => r,
    }
}

fn map_new(info: &mut Info<'_>, ns: &Lin6Net) -> Result {
    let id = NodeId(
        info.require(attr::NODE_ID, c_str!("node-id is required"))?
            .as_u64(),
    );
    let node = ns.node_now();
    if !id.is_mobile(node.mobile_oui) {
        return Err(info.fail(
            EINVAL,
            c_str!("node-id is not a mobile Node ID (OUI 02:01:4a)"),
        ));
    }
    let Some(prefix) = prefix_attr(
        info,
        attr::PREFIX,
        c_str!("prefix must be a /64 (zero interface identifier)"),
    )?
    else {
        return Err(info.fail(EINVAL, c_str!("prefix is required")));
    };
    if prefix == node.lin6_prefix {
        return Err(info.fail(EINVAL, c_str!("a mapping cannot point at the LIN6 prefix")));
    }
    let flags = info.attr(attr::FLAGS).map_or(0, |a| a.as_u32());
    if flags & !(map_flags::STATIC | map_flags::POOL) != 0 {
        return Err(info.fail(EINVAL, c_str!("unknown flags")));
    }
    let lifetime = info.attr(attr::LIFETIME).map_or(0, |a| a.as_u32());
    if flags & map_flags::STATIC != 0 && lifetime != 0 {
        return Err(info.fail(EINVAL, c_str!("a static mapping has no lifetime")));
    }
    let net = info.net();
    let pool = flags & map_flags::POOL != 0;
    ns.map_add(net, id, prefix, lifetime, pool)
        .map_err(|e| table_error(info, e))
}

fn map_get(info: &mut Info<'_>, ns: &Lin6Net) -> Result {
    let id = NodeId(
        info.require(attr::NODE_ID, c_str!("node-id is required"))?
            .as_u64(),
    );
    let now = now_secs();
    let found = {
        let guard = rcu::read_lock();
        ns.table.get(&guard).lookup(id, now).cloned()
    };
    let Some(m) = found else {
        return Err(table_error(info, TableError::NoSuchEntry));
    };
    let mut msg = info.reply(cmd::MAP_GET)?;
    msg.put_u64(attr::NODE_ID, m.node.0, attr::PAD)?;
    msg.put(attr::PREFIX, &m.prefix.to_in6())?;
    msg.put_u32(attr::LIFETIME, m.seconds_left(now))?;
    msg.put_u32(attr::FLAGS, m.flags())?;
    info.send(msg)
}

fn stats_get(info: &mut Info<'_>, ns: &Lin6Net) -> Result {
    let mut msg = info.reply(cmd::STATS_GET)?;
    let nest = msg.nest_start(attr::STATS)?;
    for (c, ty) in ALL_COUNTERS {
        msg.put_u64(ty, ns.stats.get(c), stats::PAD)?;
    }
    msg.nest_end(nest);
    info.send(msg)
}

impl FamilyOps for Lin6Genl {
    const NAME: &'static CStr = c_str!("lin6");
    const VERSION: u32 = crate::uapi::FAMILY_VERSION;

    fn family() -> &'static Family<Self> {
        &FAMILY
    }
    fn policy() -> &'static [Policy] {
        &POLICY
    }
    fn ops() -> &'static [Op] {
        &OPS
    }
    fn mcgroups() -> &'static [McGroup] {
        &GROUPS
    }

    fn doit(command: u8, info: &mut Info<'_>) -> Result {
        let ns = state(info)?;
        match command {
            cmd::NODE_GET => {
                let mut msg = info.reply(cmd::NODE_GET)?;
                put_node(&mut msg, ns)?;
                info.send(msg)
            }
            cmd::NODE_SET => node_set(info, ns),
            cmd::MAP_NEW => map_new(info, ns),
            cmd::MAP_DEL => {
                let id = NodeId(
                    info.require(attr::NODE_ID, c_str!("node-id is required"))?
                        .as_u64(),
                );
                ns.map_del(id).map_err(|e| table_error(info, e))
            }
            cmd::MAP_GET => map_get(info, ns),
            cmd::MAP_FLUSH => ns.map_flush().map_err(|e| table_error(info, e)),
            cmd::STATS_GET => stats_get(info, ns),
            _ => Err(info.fail(EOPNOTSUPP, c_str!("unknown command"))),
        }
    }

    fn dumpit(command: u8, dump: &mut Dump<'_>) -> Result<bool> {
        if command != cmd::MAP_GET {
            return Err(EOPNOTSUPP);
        }
        let Some(ns) = Lin6Net::get(dump.net()) else {
            return Err(ENODEV);
        };
        let now = now_secs();
        let guard = rcu::read_lock();
        let table = ns.table.get(&guard);
        // The cursor is an index into the snapshot; a table replaced between
        // two parts may shift it, as with any netlink dump of changing state.
        let from = dump.cursor() as usize;
        for (i, m) in table.live_from(from, now) {
            let fits = dump.entry(cmd::MAP_GET, |e| {
                e.put_u64(attr::NODE_ID, m.node.0, attr::PAD)?;
                e.put(attr::PREFIX, &m.prefix.to_in6())?;
                e.put_u32(attr::LIFETIME, m.seconds_left(now))?;
                e.put_u32(attr::FLAGS, m.flags())
            })?;
            if !fits {
                dump.set_cursor(i as u64);
                return Ok(true);
            }
        }
        Ok(false)
    }
}
