//! The outgoing sequence number of an LS or MA (the LS messages' replay
//! protection): it starts at the wall clock in milliseconds (mod 2^32) and
//! never falls behind it, so that a restarted sender, which starts again
//! from the clock, is newer than what receivers remember of it.
//!
//! Plain "one more each message" would put a sender that sends more than
//! 1000 messages a second ever further ahead of the clock, and after a
//! restart it would stay behind its old self, dropped as a replay, until it
//! had sent as many again. Following the clock leaves it behind only by
//! what it sent beyond 1000 a second in its last busy stretch.

use crate::auth::serial_newer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSequence {
    last: u32,
}

/// The lower bound at `unix` (seconds): the clock in ms mod 2^32, to the second.
fn floor(unix: u32) -> u32 {
    unix.wrapping_mul(1000)
}

impl ClockSequence {
    /// Starts at the clock: `unix` seconds and `subsec_ms` milliseconds.
    pub fn starting_at(unix: u32, subsec_ms: u32) -> ClockSequence {
        ClockSequence {
            last: floor(unix).wrapping_add(subsec_ms),
        }
    }

    /// Starts at the system clock.
    pub fn now() -> ClockSequence {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ClockSequence::starting_at(d.as_secs() as u32, d.subsec_millis())
    }

    /// The next number at `unix` (seconds): one more than the last, or the
    /// clock's floor if that is newer.
    pub fn next(&mut self, unix: u32) -> u32 {
        let f = floor(unix);
        self.last = if serial_newer(f, self.last) {
            f
        } else {
            self.last.wrapping_add(1)
        };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_within_a_second_and_jumps_to_the_clock_after() {
        let mut s = ClockSequence::starting_at(100, 500);
        assert_eq!(s.next(100), 100_501);
        assert_eq!(s.next(100), 100_502);
        assert_eq!(s.next(101), 101_000, "the clock's floor is newer");
        assert_eq!(s.next(101), 101_001);
    }

    #[test]
    fn a_busy_sender_runs_ahead_and_a_quiet_one_comes_back_to_the_clock() {
        let mut s = ClockSequence::starting_at(100, 0);
        let mut last = 0;
        for _ in 0..3000 {
            last = s.next(100);
        }
        assert_eq!(last, 103_000, "3000 messages in one second");
        assert_eq!(s.next(102), 103_001, "still ahead: counts on");
        assert_eq!(s.next(104), 104_000, "the clock caught up");
    }

    #[test]
    fn a_restart_after_the_clock_caught_up_is_newer_than_the_old_sender() {
        let mut old = ClockSequence::starting_at(100, 0);
        let mut before = 0;
        for _ in 0..1500 {
            before = old.next(100);
        }
        let mut restarted = ClockSequence::starting_at(102, 0);
        assert!(serial_newer(restarted.next(102), before));
    }

    #[test]
    fn survives_the_wrap_of_u32() {
        let unix = u32::MAX / 1000 + 1; // ms past 2^32
        let mut s = ClockSequence::starting_at(unix - 1, 999);
        let a = s.next(unix - 1);
        let b = s.next(unix);
        assert!(serial_newer(b, a));
    }
}
