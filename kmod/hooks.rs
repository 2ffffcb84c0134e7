// SPDX-License-Identifier: GPL-2.0

//! The netfilter hooks: where packets meet the translation rules.
//!
//! LOCAL_OUT runs last, after every other hook has seen the LIN6
//! addresses the sockets used; PRE_ROUTING runs before defragmentation and
//! conntrack, so everything above IPv6 sees LIN6 addresses both ways.

use crate::addr::{In6, NodeId, Prefix};
use crate::flows;
use crate::state::{now_secs, Lin6Net};
use crate::stats::Counter;
use crate::xlat::{self, In, Out};
use kernel::net::netfilter::{priority, HookSkb, HookState, Ipv6Hook, Ipv6HookFn, Verdict};
use kernel::net::skbuff::{proto, Ipv6Header, SkBuff, IPV6_HDR_LEN};
use kernel::percpu::cycles;
use kernel::sync::rcu;

/// Neighbour Discovery and MLD speak of the link's real addresses: never
/// translate them (RS/RA/NS/NA/redirect 133-137, MLD 130-132 and 143).
/// `nexthdr`: the fixed header's; TCP or UDP there is the whole answer,
/// which spares locating the transport header again for nearly every
/// packet.
fn is_nd_or_mld(skb: &SkBuff, nexthdr: u8) -> bool {
    if matches!(nexthdr, proto::TCP | proto::UDP) {
        return false;
    }
    let Some(t) = skb.ipv6_transport() else {
        return false;
    };
    if t.proto != proto::ICMPV6 || t.later_fragment {
        return false;
    }
    let mut ty = [0u8; 1];
    skb.copy_bits(t.offset, &mut ty).is_ok() && matches!(ty[0], 130..=137 | 143)
}

/// Where the ICMPv6 error message starts, if the packet is one right behind
/// its fixed header `hdr` (as the stack sends them).
#[inline]
fn icmp6_error_at(skb: &SkBuff, hdr: &Ipv6Header) -> Option<usize> {
    if hdr.nexthdr != proto::ICMPV6 {
        return None;
    }
    let at = hdr.offset + IPV6_HDR_LEN;
    let mut ty = [0u8; 1];
    skb.copy_bits(at, &mut ty).ok()?;
    // Types below 128 are errors, which quote the packet they are about.
    (ty[0] < 128).then_some(at)
}

/// Rewrites the packet an ICMPv6 error at `at` quotes with `rule`; a quote
/// too short to hold addresses stays as it is.
fn rewrite_quoted(
    ns: &Lin6Net,
    skb: &mut SkBuff,
    at: usize,
    rule: impl FnOnce(&In6, &In6) -> xlat::Quoted,
) -> bool {
    let Some(q) = skb.icmp6_quoted_ipv6_header(at) else {
        return true;
    };
    let (src, dst) = rule(&q.saddr, &q.daddr);
    if src.is_none() && dst.is_none() {
        return true;
    }
    if skb
        .rewrite_icmp6_quoted_addrs(at, src.as_ref(), dst.as_ref())
        .is_ok()
    {
        true
    } else {
        ns.stats.inc(Counter::DropMalformed);
        false
    }
}

/// Puts the addresses of the packet whose fixed header is `hdr` under the
/// prefixes `src` and `dst` (their Node IDs stay); a packet too short to
/// rewrite is dropped.
fn rewrite(ns: &Lin6Net, skb: &mut SkBuff, hdr: &Ipv6Header, src: Prefix, dst: Prefix) -> bool {
    let (src, dst) = (src.0.to_be_bytes(), dst.0.to_be_bytes());
    if skb
        .rewrite_ipv6_prefixes(hdr, Some(&src), Some(&dst))
        .is_ok()
    {
        true
    } else {
        ns.stats.inc(Counter::DropMalformed);
        false
    }
}

/// Applies `rules` (the verdict, and whether the packet was translated) in
/// the namespace's LIN6 state (none yet: the packet passes); with
/// `measure_cycles=1`, adds the cycles they took to the counters when they
/// translated the packet (the paper's Table 4 figure). Inlined into each
/// hook, so that the rules are a direct call.
#[inline(always)]
fn run(
    skb: HookSkb<'_>,
    state: &HookState<'_>,
    rules: impl FnOnce(&Lin6Net, HookSkb<'_>, &HookState<'_>) -> (Verdict, bool),
) -> Verdict {
    let Some(ns) = Lin6Net::get(state.net()) else {
        return Verdict::Accept;
    };
    if !crate::MEASURE_CYCLES.get() {
        return rules(ns, skb, state).0;
    }
    let start = cycles();
    let (verdict, translated) = rules(ns, skb, state);
    if translated {
        ns.stats.add(Counter::Cycles, cycles().wrapping_sub(start));
        ns.stats.inc(Counter::CyclesPackets);
    }
    verdict
}

pub(crate) struct OutHook;

impl Ipv6HookFn for OutHook {
    const HOOK: Ipv6Hook = Ipv6Hook::LocalOut;
    const PRIORITY: i32 = priority::LAST - 1;

    fn hook(skb: HookSkb<'_>, state: &HookState<'_>) -> Verdict {
        run(skb, state, output)
    }
}

/// The output rules applied to one packet; says whether it was translated.
fn output(ns: &Lin6Net, mut skb: HookSkb<'_>, state: &HookState<'_>) -> (Verdict, bool) {
    let net = state.net();
    let Some(hdr) = skb.ipv6_header() else {
        return (Verdict::Accept, false);
    };
    let Ipv6Header { saddr, daddr, .. } = hdr;
    let guard = rcu::read_lock();
    let node = ns.node.get(&guard);
    let Some(me) = node.id else {
        return (Verdict::Accept, false);
    };
    let table = ns.table.get(&guard);
    // `route`: the mapping's cached route, when the packet goes where the
    // mapping says (a pool's flow pinned elsewhere is routed afresh).
    let (src, dst, route) =
        match xlat::output(node, ns.locator(), table, now_secs(), &saddr, &daddr) {
            Out::Pass => return (Verdict::Accept, false),
            Out::NoLocator => {
                ns.stats.inc(Counter::DropNoLocator);
                return (Verdict::Drop, false);
            }
            Out::Translate {
                src,
                dst,
                route,
                pool: false,
            } => (src, dst, Some(route)),
            Out::Translate {
                src,
                dst,
                route,
                pool: true,
            } => {
                let peer = NodeId::of(&daddr);
                let packet = flows::classify(&skb, me, peer, icmp6_error_at(&skb, &hdr));
                match ns.pinned_prefix(&packet, Some(dst)) {
                    Some(p) => (src, p, (p == dst).then_some(route)),
                    None => (src, dst, Some(route)),
                }
            }
            Out::Miss { src, peer } => {
                // A pool's mapping may expire or go while its flows run: a
                // pinned flow goes on to its prefix; anything else waits.
                let packet = flows::classify(&skb, me, peer, icmp6_error_at(&skb, &hdr));
                if let Some(p) = ns.pinned_prefix(&packet, None) {
                    (src, p, None)
                } else {
                    ns.stats.inc(Counter::Misses);
                    return match skb.steal() {
                        Ok((skb, verdict)) => {
                            ns.queue_packet(net, peer, &daddr, skb);
                            (verdict, false)
                        }
                        Err(verdict) => {
                            ns.stats.inc(Counter::DropNoMapping);
                            (verdict, false)
                        }
                    };
                }
            }
        };
    if let Some(at) = icmp6_error_at(&skb, &hdr) {
        let peer = NodeId::of(&daddr);
        let rule = |s: &In6, d: &In6| {
            let (qs, qd) = xlat::quoted_output(node, ns.locator(), table, now_secs(), s, d);
            // The quoted packet came from where this error goes (for a
            // pool, the flow's site rather than the mapping's).
            let from_peer = node.is_mobile_lin6(s) && NodeId::of(s) == peer;
            (if from_peer { Some(dst.join(peer)) } else { qs }, qd)
        };
        if !rewrite_quoted(ns, &mut skb, at, rule) {
            return (Verdict::Drop, false);
        }
    }
    if !rewrite(ns, &mut skb, &hdr, src, dst) {
        return (Verdict::Drop, false);
    }
    // The route was chosen for the LIN6 destination: find the one to the
    // locator.
    let rerouted = match route {
        Some(r) => skb.reroute_cached(state, r.dst_cache()),
        None => skb.reroute(state),
    };
    if rerouted.is_err() {
        ns.stats.inc(Counter::DropNoRoute);
        return (Verdict::Drop, false);
    }
    ns.stats.inc(Counter::TranslatedOut);
    (Verdict::Accept, true)
}

pub(crate) struct InHook;

impl Ipv6HookFn for InHook {
    const HOOK: Ipv6Hook = Ipv6Hook::PreRouting;
    const PRIORITY: i32 = priority::CONNTRACK_DEFRAG - 10;

    fn hook(skb: HookSkb<'_>, state: &HookState<'_>) -> Verdict {
        run(skb, state, input)
    }
}

/// The input rules applied to one packet; says whether it was translated.
fn input(ns: &Lin6Net, mut skb: HookSkb<'_>, state: &HookState<'_>) -> (Verdict, bool) {
    let net = state.net();
    let Some(hdr) = skb.ipv6_header() else {
        return (Verdict::Accept, false);
    };
    let Ipv6Header { saddr, daddr, .. } = hdr;
    let guard = rcu::read_lock();
    let node = ns.node.get(&guard);
    if node.id.is_none() {
        return (Verdict::Accept, false);
    }
    match xlat::input(node, ns.table.get(&guard), now_secs(), &saddr, &daddr) {
        // An error from a plain node (a router's Packet Too Big, say) about
        // a LIN6 packet we sent: the outer packet is plain, the quote LIN6.
        In::Pass if node.is_own_locator(&daddr) => {
            if let Some(at) = icmp6_error_at(&skb, &hdr) {
                let rule = |s: &In6, d: &In6| xlat::quoted_input(node, s, d);
                if !rewrite_quoted(ns, &mut skb, at, rule) {
                    return (Verdict::Drop, false);
                }
            }
            (Verdict::Accept, false)
        }
        In::Pass => (Verdict::Accept, false),
        In::Translate { src, dst, check } => {
            if is_nd_or_mld(&skb, hdr.nexthdr) {
                return (Verdict::Accept, false);
            }
            if let Some(at) = icmp6_error_at(&skb, &hdr) {
                let rule = |s: &In6, d: &In6| xlat::quoted_input(node, s, d);
                if !rewrite_quoted(ns, &mut skb, at, rule) {
                    return (Verdict::Drop, false);
                }
            }
            if !rewrite(ns, &mut skb, &hdr, src, dst) {
                return (Verdict::Drop, false);
            }
            if let Some((peer, reason)) = check {
                ns.stats.inc(Counter::Misses);
                ns.report_source(net, peer, &saddr, reason);
            }
            ns.stats.inc(Counter::TranslatedIn);
            (Verdict::Accept, true)
        }
    }
}
