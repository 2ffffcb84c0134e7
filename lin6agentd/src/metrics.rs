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
    pub cache_misses: AtomicU64,
    /// Change notifications (PostgreSQL) or change-log entries (SQLite) applied.
    pub changes_applied: AtomicU64,
    /// Times the whole cache was dropped because changes may have been missed.
    pub cache_resets: AtomicU64,
    pub send_errors: AtomicU64,
    pub gauge_mappings: AtomicU64,
    pub gauge_cache_entries: AtomicU64,
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
