//! Counters and their Prometheus text form. Atomics, so the query workers,
//! the registration tasks and the HTTP task never share a lock.

use lin6::wire::UpdateCode;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a registration got no code 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not a valid 68-byte Mapping Update Request: dropped, no reply.
    Malformed,
    AuthFailed,
    UnknownNode,
    Disabled,
    Stale,
    Replayed,
    /// Too many registrations in flight: dropped, the node retries.
    Busy,
    /// The database failed: dropped, the node retries.
    DbError,
}

impl Reject {
    pub const ALL: [Reject; 8] = [
        Reject::Malformed,
        Reject::AuthFailed,
        Reject::UnknownNode,
        Reject::Disabled,
        Reject::Stale,
        Reject::Replayed,
        Reject::Busy,
        Reject::DbError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::AuthFailed => "auth_failed",
            Reject::UnknownNode => "unknown_node",
            Reject::Disabled => "disabled",
            Reject::Stale => "stale_timestamp",
            Reject::Replayed => "replayed_sequence",
            Reject::Busy => "busy",
            Reject::DbError => "db_error",
        }
    }

    pub fn of_code(c: UpdateCode) -> Option<Reject> {
        Some(match c {
            UpdateCode::Ok => return None,
            UpdateCode::AuthenticationFailed => Reject::AuthFailed,
            UpdateCode::UnknownNode => Reject::UnknownNode,
            UpdateCode::SubscriberDisabled => Reject::Disabled,
            UpdateCode::StaleTimestamp => Reject::Stale,
            UpdateCode::ReplayedSequence => Reject::Replayed,
        })
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub registrations_accepted: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
    /// Queries answered with a mapping / with "no mapping exists".
    pub queries_found: AtomicU64,
    pub queries_not_found: AtomicU64,
    pub queries_malformed: AtomicU64,
    /// Queries dropped because `query.max_db_lookups` were in flight.
    pub queries_busy: AtomicU64,
    pub queries_db_error: AtomicU64,
    pub cache_hits: AtomicU64,
    /// Queries answered with a registration still being committed.
    pub queries_early: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Change notifications (PostgreSQL) or change-log entries (SQLite) applied.
    pub changes_applied: AtomicU64,
    /// Times the whole cache was dropped because changes may have been missed.
    pub cache_resets: AtomicU64,
    pub send_errors: AtomicU64,
    pub gauge_mappings: AtomicU64,
    pub gauge_cache_entries: AtomicU64,
    // The MA side of the LS protocol (ls_client.rs).
    pub ls_heartbeats_sent: AtomicU64,
    pub ls_heartbeat_acks: AtomicU64,
    pub ls_failovers: AtomicU64,
    /// DNS lookups of the pool's LS list (ls_discovery.rs), and those that
    /// found nothing usable.
    pub ls_discovery_lookups: AtomicU64,
    pub ls_discovery_failures: AtomicU64,
    pub ls_rtt_requests: AtomicU64,
    pub ls_rtt_replies: AtomicU64,
    /// RTT requests dropped because `ls.rtt.max_concurrent` were running.
    pub ls_rtt_busy: AtomicU64,
    pub ls_rtt_errors: AtomicU64,
    pub ls_assigns: AtomicU64,
    /// Assignments refused because `ls.max_users` users are counted.
    pub ls_assigns_refused: AtomicU64,
    ls_dropped: [AtomicU64; LsDrop::ALL.len()],
    pub ls_send_errors: AtomicU64,
    pub gauge_ls_users_normal: AtomicU64,
    pub gauge_ls_users_premium: AtomicU64,
    pub shaping_installs: AtomicU64,
    pub shaping_removals: AtomicU64,
    pub shaping_errors: AtomicU64,
}

/// Why a datagram on the LS socket was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LsDrop {
    /// Not a valid LS datagram, or a body that does not decode.
    Malformed,
    /// Unauthenticated type, unknown key ID or a tag that does not verify.
    Unauthenticated,
    /// Sequence not newer, or timestamp outside `ls.clock_skew_s`.
    Replay,
    /// A type the MA never receives.
    WrongType,
    /// An assignment or acknowledgement naming another MA.
    NotOurs,
}

impl LsDrop {
    pub const ALL: [LsDrop; 5] = [
        LsDrop::Malformed,
        LsDrop::Unauthenticated,
        LsDrop::Replay,
        LsDrop::WrongType,
        LsDrop::NotOurs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LsDrop::Malformed => "malformed",
            LsDrop::Unauthenticated => "unauthenticated",
            LsDrop::Replay => "replay",
            LsDrop::WrongType => "wrong_type",
            LsDrop::NotOurs => "not_ours",
        }
    }
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn reject(&self, why: Reject) {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].fetch_add(1, Relaxed);
    }

    pub fn rejected(&self, why: Reject) -> u64 {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].load(Relaxed)
    }

    pub fn ls_drop(&self, why: LsDrop) {
        let i = LsDrop::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.ls_dropped[i].fetch_add(1, Relaxed);
    }

    pub fn ls_dropped(&self, why: LsDrop) -> u64 {
        let i = LsDrop::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.ls_dropped[i].load(Relaxed)
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                s,
                "# HELP lin6agentd_{name} {help}\n# TYPE lin6agentd_{name} counter\nlin6agentd_{name} {}",
                v.load(Relaxed)
            );
        };
        counter(
            "registrations_accepted_total",
            "Mapping Update Requests answered with code 0.",
            &self.registrations_accepted,
        );
        counter(
            "cache_hits_total",
            "MA Queries answered from memory.",
            &self.cache_hits,
        );
        counter(
            "queries_early_total",
            "MA Queries answered with the node's registration while it was being committed.",
            &self.queries_early,
        );
        counter(
            "cache_misses_total",
            "MA Queries that went to the database.",
            &self.cache_misses,
        );
        counter(
            "changes_applied_total",
            "Mapping change notifications applied to the cache.",
            &self.changes_applied,
        );
        counter(
            "cache_resets_total",
            "Cache dropped because change notifications may have been lost.",
            &self.cache_resets,
        );
        counter(
            "send_errors_total",
            "Replies the kernel refused to send.",
            &self.send_errors,
        );
        for (name, help, v) in [
            (
                "ls_heartbeats_sent_total",
                "Heartbeats sent to the current LS.",
                &self.ls_heartbeats_sent,
            ),
            (
                "ls_heartbeat_acks_total",
                "Heartbeat acknowledgements received from an LS.",
                &self.ls_heartbeat_acks,
            ),
            (
                "ls_failovers_total",
                "Switches to the next LS after the current one stopped acknowledging.",
                &self.ls_failovers,
            ),
            (
                "ls_discovery_lookups_total",
                "DNS lookups of the pool's LS list (ls.discovery).",
                &self.ls_discovery_lookups,
            ),
            (
                "ls_discovery_failures_total",
                "LS list lookups that failed or found no ls= list (the last list is kept).",
                &self.ls_discovery_failures,
            ),
            (
                "ls_rtt_requests_total",
                "Authenticated LSS_RTT_REQUESTs received.",
                &self.ls_rtt_requests,
            ),
            (
                "ls_rtt_replies_total",
                "LSS_RTT_REPLYs sent.",
                &self.ls_rtt_replies,
            ),
            (
                "ls_rtt_busy_total",
                "RTT requests dropped at the concurrency limit.",
                &self.ls_rtt_busy,
            ),
            (
                "ls_rtt_errors_total",
                "RTT requests that could not be measured (no ICMPv6 socket).",
                &self.ls_rtt_errors,
            ),
            (
                "ls_assigns_total",
                "LSS_MA_ASSIGNs accepted.",
                &self.ls_assigns,
            ),
            (
                "ls_assigns_refused_total",
                "LSS_MA_ASSIGNs refused at ls.max_users.",
                &self.ls_assigns_refused,
            ),
            (
                "ls_send_errors_total",
                "LS datagrams the kernel refused to send.",
                &self.ls_send_errors,
            ),
            (
                "shaping_installs_total",
                "Users whose shaping was installed.",
                &self.shaping_installs,
            ),
            (
                "shaping_removals_total",
                "Users whose shaping was removed.",
                &self.shaping_removals,
            ),
            (
                "shaping_errors_total",
                "Shaping commands that failed or were dropped.",
                &self.shaping_errors,
            ),
        ] {
            counter(name, help, v);
        }
        let _ = writeln!(
            s,
            "# HELP lin6agentd_ls_dropped_total LS datagrams dropped, by reason.\n\
             # TYPE lin6agentd_ls_dropped_total counter"
        );
        for r in LsDrop::ALL {
            let _ = writeln!(
                s,
                "lin6agentd_ls_dropped_total{{reason=\"{}\"}} {}",
                r.label(),
                self.ls_dropped(r)
            );
        }
        let _ = writeln!(
            s,
            "# HELP lin6agentd_ls_users Users the LS sent here, by level.\n# TYPE lin6agentd_ls_users gauge\n\
             lin6agentd_ls_users{{level=\"normal\"}} {}\nlin6agentd_ls_users{{level=\"premium\"}} {}",
            self.gauge_ls_users_normal.load(Relaxed),
            self.gauge_ls_users_premium.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP lin6agentd_registrations_rejected_total Mapping Update Requests refused or dropped, by reason.\n\
             # TYPE lin6agentd_registrations_rejected_total counter"
        );
        for r in Reject::ALL {
            let _ = writeln!(
                s,
                "lin6agentd_registrations_rejected_total{{reason=\"{}\"}} {}",
                r.label(),
                self.rejected(r)
            );
        }
        let _ = writeln!(
            s,
            "# HELP lin6agentd_queries_total MA Queries, by outcome.\n# TYPE lin6agentd_queries_total counter"
        );
        for (label, v) in [
            ("found", &self.queries_found),
            ("no_mapping", &self.queries_not_found),
            ("malformed", &self.queries_malformed),
            ("busy", &self.queries_busy),
            ("db_error", &self.queries_db_error),
        ] {
            let _ = writeln!(
                s,
                "lin6agentd_queries_total{{result=\"{label}\"}} {}",
                v.load(Relaxed)
            );
        }
        let mut gauge = |name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                s,
                "# HELP lin6agentd_{name} {help}\n# TYPE lin6agentd_{name} gauge\nlin6agentd_{name} {}",
                v.load(Relaxed)
            );
        };
        gauge(
            "mappings",
            "Live mappings in the database (all replicas).",
            &self.gauge_mappings,
        );
        gauge(
            "cache_entries",
            "Mappings held in this agent's memory.",
            &self.gauge_cache_entries,
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_shows_every_reason_and_outcome() {
        let m = Metrics::default();
        m.reject(Reject::Replayed);
        m.reject(Reject::Replayed);
        Metrics::inc(&m.queries_found);
        let t = m.render();
        assert!(
            t.contains("lin6agentd_registrations_rejected_total{reason=\"replayed_sequence\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("lin6agentd_registrations_rejected_total{reason=\"auth_failed\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("lin6agentd_queries_total{result=\"found\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("# TYPE lin6agentd_mappings gauge\n"), "{t}");
    }
}
