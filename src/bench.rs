//! What the daemons' load generators (`lin6agentd bench-query`, `lsd bench`)
//! report in common: answers per second and per CPU second, and latency
//! percentiles. Each report adds its own counts around these.

use serde::Serialize;
use std::fmt;

/// Latency percentiles of every answer timed, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50_us: u32,
    pub p90_us: u32,
    pub p99_us: u32,
    pub p999_us: u32,
    pub max_us: u32,
}

impl Latency {
    /// Sorts `us` and picks the percentiles (nearest rank).
    pub fn of(mut us: Vec<u32>) -> Latency {
        us.sort_unstable();
        Latency {
            p50_us: percentile(&us, 0.50),
            p90_us: percentile(&us, 0.90),
            p99_us: percentile(&us, 0.99),
            p999_us: percentile(&us, 0.999),
            max_us: us.last().copied().unwrap_or(0),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {} p90 {} p99 {} p99.9 {} max {}",
            self.p50_us, self.p90_us, self.p99_us, self.p999_us, self.max_us
        )
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Answers over a measured window, and the CPU the whole process got in it:
/// on a shared machine that is what tells a slow server from a busy host.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub answers: u64,
    pub seconds: f64,
    pub answers_per_s: f64,
    pub cpu_seconds: f64,
    /// Answers per CPU second used: what each core the process gets buys.
    pub answers_per_cpu_s: f64,
    /// Client threads, each with `window` requests in flight.
    pub threads: usize,
    pub window: usize,
}

impl Rate {
    pub fn new(
        answers: u64,
        seconds: f64,
        cpu_seconds: f64,
        threads: usize,
        window: usize,
    ) -> Rate {
        let per = |d: f64| if d > 0.0 { answers as f64 / d } else { 0.0 };
        Rate {
            answers,
            seconds,
            answers_per_s: per(seconds),
            cpu_seconds,
            answers_per_cpu_s: per(cpu_seconds),
            threads,
            window,
        }
    }
}

impl fmt::Display for Rate {
    /// Two lines: the rate at the concurrency used, then the CPU it took.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} answers in {:.2} s: {:.0} answers/s ({} threads x {} in flight)",
            self.answers, self.seconds, self.answers_per_s, self.threads, self.window
        )?;
        let cores = if self.seconds > 0.0 {
            self.cpu_seconds / self.seconds
        } else {
            0.0
        };
        write!(
            f,
            "cpu {:.2} s used ({:.2} cores): {:.0} answers per cpu-second",
            self.cpu_seconds, cores, self.answers_per_cpu_s
        )
    }
}

/// User + system CPU seconds this process has used so far.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass, which lives for the
    // call; all-zero is a valid rusage to start from.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always a valid target.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut v: Vec<u32> = (1..=1000).rev().collect();
        v.swap(3, 700);
        let l = Latency::of(v);
        assert_eq!((l.p50_us, l.p99_us, l.max_us), (501, 990, 1000));
        assert_eq!(Latency::of(Vec::new()), Latency::default());
    }

    #[test]
    fn rates_are_per_wall_and_per_cpu_second_and_zero_for_an_empty_window() {
        let r = Rate::new(1000, 2.0, 0.5, 2, 8);
        assert_eq!((r.answers_per_s, r.answers_per_cpu_s), (500.0, 2000.0));
        let z = Rate::new(10, 0.0, 0.0, 1, 1);
        assert_eq!((z.answers_per_s, z.answers_per_cpu_s), (0.0, 0.0));
        assert!(
            r.to_string()
                .contains("500 answers/s (2 threads x 8 in flight)")
        );
    }

    #[test]
    fn cpu_seconds_grow_with_work() {
        let a = process_cpu_seconds();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_seconds() >= a);
    }
}
