//! Counters held by the daemon and their Prometheus text form. Atomics, so the
//! HTTP task can read them while the event loop writes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a datagram was dropped or a request refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a valid LS datagram: truncated, oversized, unknown type...
    Malformed,
    /// An authenticated type whose key ID we do not know.
    UnknownKey,
    /// The HMAC does not verify.
    BadTag,
    /// Sequence not newer, or timestamp outside the clock-skew window.
    Replay,
    /// A valid message of a type that does not belong on that socket.
    WrongSocket,
    /// A verified peer message from an address not in `peers`.
    UnknownPeer,
    /// An RTT reply nobody asked for, or for a finished decision.
    UnsolicitedRtt,
    /// A request over the per-prefix or global rate.
    RateLimited,
    /// A new MA while the MA table is full.
    MaTableFull,
    /// Too many decisions pending.
    Busy,
    /// Node ID not a subscriber.
    UnknownNode,
    /// Request for a pool this LS does not serve.
    WrongPool,
}

impl DropReason {
    pub const ALL: [DropReason; 12] = [
        DropReason::Malformed,
        DropReason::UnknownKey,
        DropReason::BadTag,
        DropReason::Replay,
        DropReason::WrongSocket,
        DropReason::UnknownPeer,
        DropReason::UnsolicitedRtt,
        DropReason::RateLimited,
        DropReason::MaTableFull,
        DropReason::Busy,
        DropReason::UnknownNode,
        DropReason::WrongPool,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::UnknownKey => "unknown_key",
            DropReason::BadTag => "bad_tag",
            DropReason::Replay => "replay",
            DropReason::WrongSocket => "wrong_socket",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::UnsolicitedRtt => "unsolicited_rtt",
            DropReason::RateLimited => "rate_limited",
            DropReason::MaTableFull => "ma_table_full",
            DropReason::Busy => "busy",
            DropReason::UnknownNode => "unknown_node",
            DropReason::WrongPool => "wrong_pool",
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub ma_requests: AtomicU64,
    pub cache_hits: AtomicU64,
    /// Requests from a user already sent to an MA from the same network.
    pub repeated_requests: AtomicU64,
    pub rtt_requests_sent: AtomicU64,
    pub rtt_replies: AtomicU64,
    pub decisions: AtomicU64,
    /// Decisions that ended without an MA (none eligible, none answered).
    pub decisions_failed: AtomicU64,
    pub heartbeats: AtomicU64,
    pub assigns_sent: AtomicU64,
    pub peer_updates_received: AtomicU64,
    pub peer_updates_sent: AtomicU64,
    pub sync_requests_received: AtomicU64,
    pub ma_inactivated: AtomicU64,
    pub send_errors: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
    pub gauge_ma_active: AtomicU64,
    pub gauge_ma_total: AtomicU64,
    pub gauge_answers: AtomicU64,
    pub gauge_pending: AtomicU64,
    pub gauge_peers_up: AtomicU64,
    pub gauge_users_normal: AtomicU64,
    pub gauge_users_premium: AtomicU64,
    pub gauge_ma_drained: AtomicU64,
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn count_drop(&self, why: DropReason) {
        let i = DropReason::ALL.iter().position(|d| *d == why).unwrap_or(0);
        self.drops[i].fetch_add(1, Relaxed);
    }

    pub fn drops(&self, why: DropReason) -> u64 {
        let i = DropReason::ALL.iter().position(|d| *d == why).unwrap_or(0);
        self.drops[i].load(Relaxed)
    }

    pub fn set(g: &AtomicU64, v: usize) {
        g.store(v as u64, Relaxed);
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(s, "# HELP lsd_{name} {help}\n# TYPE lsd_{name} counter");
            let _ = writeln!(s, "lsd_{name} {}", v.load(Relaxed));
        };
        counter(
            "ma_requests_total",
            "LSS_MA_REQUESTs received.",
            &self.ma_requests,
        );
        counter(
            "cache_hits_total",
            "Requests answered from the answer cache.",
            &self.cache_hits,
        );
        counter(
            "repeated_requests_total",
            "Requests answered with the MA the same user was sent to from the same network.",
            &self.repeated_requests,
        );
        counter(
            "rtt_requests_sent_total",
            "LSS_RTT_REQUESTs sent to MAs.",
            &self.rtt_requests_sent,
        );
        counter(
            "rtt_replies_total",
            "LSS_RTT_REPLYs accepted.",
            &self.rtt_replies,
        );
        counter(
            "decisions_total",
            "Heuristic decisions that chose an MA.",
            &self.decisions,
        );
        counter(
            "decisions_failed_total",
            "Decisions that found no MA.",
            &self.decisions_failed,
        );
        counter(
            "heartbeats_total",
            "Heartbeats accepted from MAs.",
            &self.heartbeats,
        );
        counter(
            "assigns_sent_total",
            "LSS_MA_ASSIGNs sent to MAs.",
            &self.assigns_sent,
        );
        counter(
            "peer_updates_received_total",
            "Table updates accepted from peers.",
            &self.peer_updates_received,
        );
        counter(
            "peer_updates_sent_total",
            "Table update datagrams sent to peers.",
            &self.peer_updates_sent,
        );
        counter(
            "sync_requests_received_total",
            "LSS_SYNC_REQUESTs answered.",
            &self.sync_requests_received,
        );
        counter(
            "ma_inactivated_total",
            "MAs marked inactive by their timer.",
            &self.ma_inactivated,
        );
        counter(
            "send_errors_total",
            "Datagrams the kernel refused to send.",
            &self.send_errors,
        );
        let _ = writeln!(
            s,
            "# HELP lsd_dropped_total Datagrams dropped or requests refused, by reason.\n# TYPE lsd_dropped_total counter"
        );
        for d in DropReason::ALL {
            let _ = writeln!(
                s,
                "lsd_dropped_total{{reason=\"{}\"}} {}",
                d.label(),
                self.drops(d)
            );
        }
        let mut gauge = |name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(s, "# HELP lsd_{name} {help}\n# TYPE lsd_{name} gauge");
            let _ = writeln!(s, "lsd_{name} {}", v.load(Relaxed));
        };
        gauge(
            "ma_active",
            "Active MAs in the MA table.",
            &self.gauge_ma_active,
        );
        gauge(
            "ma_entries",
            "MA table entries, inactive included.",
            &self.gauge_ma_total,
        );
        gauge(
            "answers",
            "Entries in the answer cache.",
            &self.gauge_answers,
        );
        gauge(
            "pending_decisions",
            "Decisions waiting for RTT replies.",
            &self.gauge_pending,
        );
        gauge("peers_up", "Peer LSs heard from.", &self.gauge_peers_up);
        gauge(
            "ma_drained",
            "MAs drained by an operator (no new users).",
            &self.gauge_ma_drained,
        );
        let _ = writeln!(
            s,
            "# HELP lsd_users Users on active MAs, by level (the MAs' counts plus users sent since).\n\
             # TYPE lsd_users gauge\nlsd_users{{level=\"normal\"}} {}\nlsd_users{{level=\"premium\"}} {}",
            self.gauge_users_normal.load(Relaxed),
            self.gauge_users_premium.load(Relaxed)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_shows_counters_and_every_drop_reason() {
        let m = Metrics::default();
        Metrics::inc(&m.cache_hits);
        m.count_drop(DropReason::BadTag);
        m.count_drop(DropReason::BadTag);
        let t = m.render();
        assert!(t.contains("lsd_cache_hits_total 1\n"), "{t}");
        assert!(
            t.contains("lsd_dropped_total{reason=\"bad_tag\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("lsd_dropped_total{reason=\"replay\"} 0\n"),
            "{t}"
        );
        assert_eq!(m.drops(DropReason::BadTag), 2);
    }
}
