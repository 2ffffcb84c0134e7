//! The shaper for Linux: nftables marks (through the nftnl crate) and HTB
//! classes (through `tc -batch`).
//!
//! - **Tagging** (nftables, family ip6, table `shaping.nft_table`, base chain
//!   `postrouting`, type filter, priority mangle): one rule per user,
//!   `@nh,256,64 == <Node ID> meta mark set <mark>` — the low 64 bits of the
//!   destination, so the tag holds for the user's LIN6 address and every
//!   locator it moves to (lin6.ko rewrites only the high 64 bits). The whole
//!   table is rebuilt in one netlink batch on every change (add table, delete
//!   it, add it again with the current rules): atomic, no rule handles to
//!   track, and O(users) per change, which assignments (a few per second at
//!   most) can afford.
//! - **Shaping** (HTB on `shaping.device`, which the agent owns): root class
//!   1:1 at the site's capacity; one class per level, 1:10 normal and 1:20
//!   premium, that share it; and under its level's class one leaf per user,
//!   1:<minor>, with rate = ceil = the level's rate, so each user gets its
//!   level's bandwidth and no more. An `fw` filter (the mark is its handle)
//!   sends packets with the user's mark to its leaf. On a kernel without
//!   cls_fw, `classifier: priority` has the same rule also set the packet's
//!   priority to the leaf's class ID, which HTB honours before any filter
//!   (`htb_classify`), and installs no filter. Unmarked traffic is not
//!   classified and leaves unshaped (HTB's direct queue).
//! - **Why tc -batch and not rtnetlink**: netlink-packet-route (what the
//!   rtnetlink crate builds on) models the fq_codel and ingress qdiscs and
//!   the u32, flower and matchall filters, but neither HTB (its options and
//!   rate tables) nor the fw filter. Encoding those by hand would duplicate
//!   iproute2's rate-table code; `tc -batch -` takes every command of one
//!   change in one process and stops at the first error.
//!
//! Marks are `0x6c36_0000 | minor` ("l6" in the high half), minors
//! 0x100..=0xfffe, so at most 65,279 users per device.

use crate::shaping::{Shaper, ShapingError};
use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use nftnl::{Batch, Chain, ChainType, Hook, MsgType, Policy, ProtoFamily, Rule, Table, nft_expr};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

const MARK_BASE: u32 = 0x6c36_0000;
const FIRST_MINOR: u16 = 0x100;
const LAST_MINOR: u16 = 0xfffe;
const NORMAL_CLASS: u16 = 0x10;
const PREMIUM_CLASS: u16 = 0x20;
/// NF_IP6_PRI_MANGLE: where marks are set by convention.
const PRIORITY_MANGLE: i32 = -150;

/// How a marked packet finds its user's HTB class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classifier {
    /// A `fw` filter per user: mark -> class.
    Fw,
    /// The nftables rule also sets skb->priority to the class ID; no filter
    /// (for kernels built without cls_fw).
    Priority,
}

/// `meta priority set` (nftnl 0.9 has no Meta::Priority): reads register 1.
struct SetPriority;

impl nftnl::expr::Expression for SetPriority {
    fn to_expr(&self, _rule: &Rule) -> std::ptr::NonNull<nftnl::nftnl_sys::nftnl_expr> {
        use nftnl::nftnl_sys as sys;
        // SAFETY: nftnl_expr_alloc returns an owned expression or NULL (the
        // rule takes ownership of what we return, as with nftnl's own
        // expressions); the setters only write into that expression.
        unsafe {
            let e = sys::nftnl_expr_alloc(c"meta".as_ptr());
            let Some(e) = std::ptr::NonNull::new(e) else {
                // What nftnl's own expressions do on allocation failure.
                std::process::abort();
            };
            sys::nftnl_expr_set_u32(
                e.as_ptr(),
                sys::NFTNL_EXPR_META_KEY as u16,
                libc::NFT_META_PRIORITY as u32,
            );
            sys::nftnl_expr_set_u32(
                e.as_ptr(),
                sys::NFTNL_EXPR_META_SREG as u16,
                libc::NFT_REG_1 as u32,
            );
            e
        }
    }
}

#[derive(Debug, Clone)]
pub struct Params {
    pub device: String,
    pub nft_table: String,
    pub tc: String,
    pub classifier: Classifier,
    pub capacity_kbps: u32,
    pub normal_kbps: u32,
    pub premium_kbps: u32,
}

#[derive(Debug, Default)]
struct State {
    users: BTreeMap<NodeId, (ServiceLevel, u16)>,
    root_ready: bool,
}

pub struct NftTc {
    p: Params,
    table: CString,
    state: Mutex<State>,
}

impl NftTc {
    /// Checks the names; installs nothing until the first user.
    pub fn new(p: Params) -> Result<NftTc, ShapingError> {
        let table = CString::new(p.nft_table.clone())
            .map_err(|_| ShapingError::Other("shaping.nft_table contains a NUL byte".into()))?;
        if p.device.is_empty() || p.device.len() > 15 || p.device.contains(char::is_whitespace) {
            return Err(ShapingError::Other(format!(
                "shaping.device {:?} is not an interface name",
                p.device
            )));
        }
        Ok(NftTc {
            p,
            table,
            state: Mutex::new(State::default()),
        })
    }

    pub fn mark(minor: u16) -> u32 {
        MARK_BASE | u32::from(minor)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rate(&self, level: ServiceLevel) -> u32 {
        match level {
            ServiceLevel::Normal => self.p.normal_kbps,
            ServiceLevel::Premium => self.p.premium_kbps,
        }
    }

    fn tc_batch(&self, lines: &[String]) -> Result<(), ShapingError> {
        let mut child = Command::new(&self.p.tc)
            .args(["-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ShapingError::Tc(format!("cannot run {}: {e}", self.p.tc)))?;
        if let Some(mut stdin) = child.stdin.take() {
            let text = lines.join("\n") + "\n";
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| ShapingError::Tc(format!("writing to tc: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| ShapingError::Tc(format!("waiting for tc: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ShapingError::Tc(format!(
                "`{}` failed: {} (commands: {})",
                self.p.tc,
                String::from_utf8_lossy(&out.stderr).trim(),
                lines.join("; ")
            )))
        }
    }

    fn root_lines(&self) -> Vec<String> {
        let d = &self.p.device;
        let cap = self.p.capacity_kbps.max(2);
        let half = cap / 2;
        vec![
            format!("qdisc replace dev {d} root handle 1: htb"),
            format!(
                "class replace dev {d} parent 1: classid 1:1 htb rate {cap}kbit ceil {cap}kbit"
            ),
            format!(
                "class replace dev {d} parent 1:1 classid 1:{NORMAL_CLASS:x} htb rate {half}kbit ceil {cap}kbit"
            ),
            format!(
                "class replace dev {d} parent 1:1 classid 1:{PREMIUM_CLASS:x} htb rate {half}kbit ceil {cap}kbit"
            ),
        ]
    }

    fn user_lines(&self, level: ServiceLevel, minor: u16) -> Vec<String> {
        let d = &self.p.device;
        let parent = match level {
            ServiceLevel::Normal => NORMAL_CLASS,
            ServiceLevel::Premium => PREMIUM_CLASS,
        };
        let r = self.rate(level);
        let b = leaf_burst_bytes(r);
        let mark = Self::mark(minor);
        let mut lines = vec![format!(
            "class replace dev {d} parent 1:{parent:x} classid 1:{minor:x} htb rate {r}kbit ceil {r}kbit burst {b} cburst {b}"
        )];
        if self.p.classifier == Classifier::Fw {
            lines.push(format!(
                "filter replace dev {d} parent 1: protocol ipv6 prio 1 handle {mark:#x} fw classid 1:{minor:x}"
            ));
        }
        lines
    }

    fn removal_lines(&self, minor: u16) -> Vec<String> {
        let d = &self.p.device;
        let mut lines = Vec::new();
        if self.p.classifier == Classifier::Fw {
            lines.push(format!(
                "filter del dev {d} parent 1: protocol ipv6 prio 1 handle {:#x} fw",
                Self::mark(minor)
            ));
        }
        lines.push(format!("class del dev {d} classid 1:{minor:x}"));
        lines
    }

    /// Replaces the table with one rule per user in `users`.
    fn nft_sync(&self, users: &BTreeMap<NodeId, (ServiceLevel, u16)>) -> Result<(), ShapingError> {
        let mut batch = Batch::new();
        let table = Table::new(&self.table, ProtoFamily::Ipv6);
        // Add first, so the delete cannot fail on a missing table.
        batch.add(&table, MsgType::Add);
        batch.add(&table, MsgType::Del);
        batch.add(&table, MsgType::Add);
        let mut chain = Chain::new(c"postrouting", &table);
        chain.set_hook(Hook::PostRouting, PRIORITY_MANGLE);
        chain.set_type(ChainType::Filter);
        chain.set_policy(Policy::Accept);
        batch.add(&chain, MsgType::Add);
        for (node, (_, minor)) in users {
            let mut rule = Rule::new(&chain);
            // Offsets in bytes despite the field names (nftnl passes them
            // through as NFTA_PAYLOAD_OFFSET/LEN): the destination's low 64
            // bits sit at bytes 32..40 of the IPv6 header.
            rule.add_expr(&nftnl::expr::Payload::Network(
                nftnl::expr::NetworkHeaderField::Raw {
                    offset_bits: 32,
                    length_bits: 8,
                },
            ));
            let id = node.to_bytes();
            rule.add_expr(&nft_expr!(cmp == &id[..]));
            rule.add_expr(&nftnl::expr::Immediate::new(
                Self::mark(*minor),
                nftnl::expr::Register::Reg1,
            ));
            rule.add_expr(&nft_expr!(meta mark set));
            if self.p.classifier == Classifier::Priority {
                // HTB reads a class ID from skb->priority: major 1, our minor.
                rule.add_expr(&nftnl::expr::Immediate::new(
                    0x0001_0000u32 | u32::from(*minor),
                    nftnl::expr::Register::Reg1,
                ));
                rule.add_expr(&SetPriority);
            }
            batch.add(&rule, MsgType::Add);
        }
        send(batch)
    }

    fn nft_delete(&self) -> Result<(), ShapingError> {
        let mut batch = Batch::new();
        let table = Table::new(&self.table, ProtoFamily::Ipv6);
        batch.add(&table, MsgType::Add);
        batch.add(&table, MsgType::Del);
        send(batch)
    }

    /// What is installed: (node, level, minor).
    pub fn installed(&self) -> Vec<(NodeId, ServiceLevel, u16)> {
        self.state()
            .users
            .iter()
            .map(|(n, (l, m))| (*n, *l, *m))
            .collect()
    }
}

fn send(batch: Batch) -> Result<(), ShapingError> {
    let batch = batch.finalize();
    let nft = |what: &str, e: std::io::Error| ShapingError::Nft(format!("{what}: {e}"));
    let socket = mnl::Socket::new(mnl::Bus::Netfilter).map_err(|e| nft("netlink socket", e))?;
    let portid = socket.portid();
    socket
        .send_all(&batch)
        .map_err(|e| nft("sending the batch", e))?;
    let mut buffer = vec![0; nftnl::nft_nlmsg_maxsize() as usize];
    let mut expected = batch.sequence_numbers();
    let mut left = expected.len();
    while left > 0 {
        let msgs = socket
            .recv(&mut buffer[..])
            .map_err(|e| nft("receiving acknowledgements", e))?;
        for m in msgs {
            let m = m.map_err(|e| nft("reading acknowledgements", e))?;
            let Some(seq) = expected.next() else {
                return Err(ShapingError::Nft(
                    "more acknowledgements than messages".into(),
                ));
            };
            left -= 1;
            match mnl::cb_run(m, seq, portid) {
                Ok(mnl::CbResult::Stop) => left = 0,
                Ok(_) => {}
                Err(e) => return Err(nft("the kernel refused the batch", e)),
            }
        }
    }
    Ok(())
}

impl Shaper for NftTc {
    fn install(&self, node: NodeId, level: ServiceLevel) -> Result<(), ShapingError> {
        let mut st = self.state();
        if !st.root_ready {
            self.tc_batch(&self.root_lines())?;
            st.root_ready = true;
        }
        let mut lines = Vec::new();
        let minor = match st.users.get(&node) {
            Some(&(l, _)) if l == level => return Ok(()),
            // A level change moves the leaf under the other level's class;
            // HTB cannot re-parent a class, so it goes and comes back.
            Some(&(_, m)) => {
                lines.extend(self.removal_lines(m));
                m
            }
            None => {
                let used: std::collections::BTreeSet<u16> =
                    st.users.values().map(|v| v.1).collect();
                (FIRST_MINOR..=LAST_MINOR)
                    .find(|m| !used.contains(m))
                    .ok_or_else(|| ShapingError::Other("no free HTB class minor left".into()))?
            }
        };
        lines.extend(self.user_lines(level, minor));
        // Class and filter first, mark second: a marked packet always finds
        // its class.
        self.tc_batch(&lines)?;
        let mut next = st.users.clone();
        next.insert(node, (level, minor));
        if let Err(e) = self.nft_sync(&next) {
            let _ = self.tc_batch(&self.removal_lines(minor));
            st.users.remove(&node);
            return Err(e);
        }
        st.users = next;
        Ok(())
    }

    fn remove(&self, node: NodeId) -> Result<(), ShapingError> {
        let mut st = self.state();
        let Some(&(_, minor)) = st.users.get(&node) else {
            return Ok(());
        };
        let mut next = st.users.clone();
        next.remove(&node);
        // Mark first, class second: the reverse of install.
        self.nft_sync(&next)?;
        st.users = next;
        self.tc_batch(&self.removal_lines(minor))
    }

    fn clear(&self) -> Result<(), ShapingError> {
        let mut st = self.state();
        let nft = self.nft_delete();
        let del = self.tc_batch(&[format!("qdisc del dev {} root", self.p.device)]);
        // Without our qdisc (first start, or cleared already) there is
        // nothing to delete, and tc says so: not an error.
        let tc = if st.root_ready { del } else { Ok(()) };
        st.users.clear();
        st.root_ready = false;
        nft.and(tc)
    }
}

/// A user's bucket: 20 ms of its rate, at least two full-size packets. tc's
/// default for these rates is one packet (~1.6 kB), which loses rate
/// whenever the qdisc's watchdog fires late (a busy host, an emulated
/// guest): what could not be sent in time is gone, so the user gets less
/// than the level. A bigger bucket lets it catch up; over any span of
/// seconds the rate is still the level's.
fn leaf_burst_bytes(rate_kbps: u32) -> u32 {
    (rate_kbps / 8 * 20).max(3_200)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper(c: Classifier) -> NftTc {
        NftTc::new(Params {
            device: "eth0".into(),
            nft_table: "lin6_shaping".into(),
            tc: "tc".into(),
            classifier: c,
            capacity_kbps: 10_000,
            normal_kbps: 500,
            premium_kbps: 2_000,
        })
        .unwrap()
    }

    #[test]
    fn a_users_bucket_holds_20_ms_of_its_rate_and_at_least_two_packets() {
        assert_eq!(leaf_burst_bytes(6_000), 15_000);
        assert_eq!(leaf_burst_bytes(2_000), 5_000);
        assert_eq!(leaf_burst_bytes(500), 3_200);
    }

    #[test]
    fn a_user_gets_a_leaf_at_its_levels_rate_under_its_levels_class() {
        let s = shaper(Classifier::Fw);
        let l = s.user_lines(ServiceLevel::Premium, 0x100);
        assert_eq!(
            l[0],
            "class replace dev eth0 parent 1:20 classid 1:100 htb rate 2000kbit ceil 2000kbit burst 5000 cburst 5000"
        );
        assert_eq!(
            l[1],
            "filter replace dev eth0 parent 1: protocol ipv6 prio 1 handle 0x6c360100 fw classid 1:100"
        );
        let u = shaper(Classifier::Priority).user_lines(ServiceLevel::Normal, 0x101);
        assert_eq!(u.len(), 1, "no filter in priority mode: {u:?}");
        assert!(
            u[0].contains("parent 1:10 classid 1:101 htb rate 500kbit"),
            "{u:?}"
        );
    }

    #[test]
    fn bad_device_names_are_refused() {
        let mut p = shaper(Classifier::Fw).p;
        p.device = "eth0; reboot".into();
        assert!(NftTc::new(p).is_err());
    }
}
