//! Message authentication for LIN6 and load-sharing messages.
//!
//! The LIN6 draft protects Mapping Updates with IPsec AH over pre-made security
//! associations. We carry the protection inside the message instead, as LISP's
//! Map-Register does: a key ID plus an HMAC-SHA-256 tag over the message, and a
//! sequence number and timestamp that a [`ReplayWindow`] checks against replay.
//!
//! Typical receive path: look the key up by its ID, [`verify`] the tag, and only
//! then feed `(sequence, timestamp)` to [`ReplayWindow::accept`]. Verifying first
//! matters: the window records state per key, and an unauthenticated sender must
//! not be able to advance it.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA-256 tag.
pub const TAG_LEN: usize = 32;

/// Shortest secret [`Key::new`] accepts. 128 bits: shorter keys make the HMAC
/// brute-forceable long before SHA-256 itself becomes the weak point.
pub const MIN_SECRET_LEN: usize = 16;

/// Default tolerance, in seconds, between a message's timestamp and our clock.
pub const DEFAULT_WINDOW_SECS: u32 = 30;

/// Why a key could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("secret of key {id} is {len} bytes, at least {MIN_SECRET_LEN} are required")]
    SecretTooShort { id: u32, len: usize },
    #[error("secret of key {id} is not valid hex: {reason}")]
    BadHex { id: u32, reason: &'static str },
}

/// A shared secret and the ID that names it on the wire.
///
/// The secret is private so that it can only be used through [`sign`] and
/// [`verify`], and `Debug` prints its length, never its bytes, so keys can sit
/// in logged config structs.
#[derive(Clone)]
pub struct Key {
    pub id: u32,
    secret: Vec<u8>,
}

impl Key {
    /// Builds a key; refuses secrets shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(id: u32, secret: impl Into<Vec<u8>>) -> Result<Key, AuthError> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(AuthError::SecretTooShort {
                id,
                len: secret.len(),
            });
        }
        Ok(Key { id, secret })
    }

    /// Builds a key from a hex string (upper or lower case, even number of
    /// digits, no prefix or separators), as written in config files.
    pub fn from_hex(id: u32, hex: &str) -> Result<Key, AuthError> {
        let bytes = hex.as_bytes();
        if !bytes.len().is_multiple_of(2) {
            return Err(AuthError::BadHex {
                id,
                reason: "odd number of digits",
            });
        }
        let mut secret = Vec::with_capacity(bytes.len() / 2);
        for pair in bytes.chunks_exact(2) {
            match (hex_digit(pair[0]), hex_digit(pair[1])) {
                (Some(hi), Some(lo)) => secret.push(hi << 4 | lo),
                _ => {
                    return Err(AuthError::BadHex {
                        id,
                        reason: "character outside 0-9a-fA-F",
                    });
                }
            }
        }
        Key::new(id, secret)
    }

    /// Length of the secret in bytes (the secret itself is never exposed).
    pub fn secret_len(&self) -> usize {
        self.secret.len()
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field(
                "secret",
                &format_args!("<{} bytes redacted>", self.secret.len()),
            )
            .finish()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// HMAC-SHA-256 over the concatenation of `parts`.
///
/// Taking parts lets callers authenticate a header and a body without copying
/// them into one buffer first.
pub fn sign(key: &Key, parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let mut mac = key.mac();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks `tag` against the HMAC of the concatenation of `parts`, in constant
/// time. A tag of the wrong length is refused.
pub fn verify(key: &Key, parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = key.mac();
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

/// Why [`ReplayWindow`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// The timestamp is further than the window from our clock, in either
    /// direction: an old capture, or a sender whose clock is off.
    #[error("stale timestamp {timestamp}: now is {now}, window is {window} s")]
    StaleTimestamp {
        timestamp: u32,
        now: u32,
        window: u32,
    },
    /// The sequence number is not newer than the last one accepted for this key.
    #[error("replayed sequence {sequence}: last accepted is {last}")]
    ReplayedSequence { sequence: u32, last: u32 },
}

/// Seconds since the Unix epoch, truncated to 32 bits, as carried in the
/// timestamp fields. Truncation is harmless: all comparisons wrap (RFC 1982).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// True if `a` is newer than `b` in 32-bit serial-number arithmetic (RFC 1982).
///
/// When the two are exactly 2^31 apart RFC 1982 leaves the order undefined; we
/// answer "not newer", so such a message is refused rather than accepted.
pub fn serial_newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

/// Replay protection: remembers the last accepted sequence number per key and
/// accepts a message only if its timestamp is within `window` seconds of now
/// and its sequence number is newer (RFC 1982 serial arithmetic, so it survives
/// u32 wraparound).
///
/// The first message from a key is accepted with any sequence number; the
/// timestamp window is what bounds replays across a restart of the receiver.
/// `K` names the key, normally its key ID; state grows by one entry per key, so
/// call [`ReplayWindow::accept`] only after the message's tag has verified.
#[derive(Debug, Clone)]
pub struct ReplayWindow<K = u32> {
    window: u32,
    last: HashMap<K, u32>,
}

impl<K: Hash + Eq> Default for ReplayWindow<K> {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_SECS)
    }
}

impl<K: Hash + Eq> ReplayWindow<K> {
    /// A window that tolerates `window_secs` of clock difference each way.
    /// Values of 2^31 or more would make "within the window" meaningless under
    /// wrapping arithmetic, so they are clamped to 2^31 - 1.
    pub fn new(window_secs: u32) -> Self {
        ReplayWindow {
            window: window_secs.min(i32::MAX as u32),
            last: HashMap::new(),
        }
    }

    /// The tolerance in seconds.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Checks a message without recording it.
    pub fn check(
        &self,
        key: &K,
        sequence: u32,
        timestamp: u32,
        now: u32,
    ) -> Result<(), ReplayError> {
        let skew = (timestamp.wrapping_sub(now) as i32).unsigned_abs();
        if skew > self.window {
            return Err(ReplayError::StaleTimestamp {
                timestamp,
                now,
                window: self.window,
            });
        }
        match self.last.get(key) {
            Some(&last) if !serial_newer(sequence, last) => {
                Err(ReplayError::ReplayedSequence { sequence, last })
            }
            _ => Ok(()),
        }
    }

    /// Checks a message and, if it passes, records its sequence number as the
    /// newest for `key`.
    pub fn accept(
        &mut self,
        key: K,
        sequence: u32,
        timestamp: u32,
        now: u32,
    ) -> Result<(), ReplayError> {
        self.check(&key, sequence, timestamp, now)?;
        self.last.insert(key, sequence);
        Ok(())
    }

    /// The last sequence number accepted for `key`, if any.
    pub fn last_sequence(&self, key: &K) -> Option<u32> {
        self.last.get(key).copied()
    }

    /// Drops the state of a key, e.g. when its subscriber is removed.
    pub fn forget(&mut self, key: &K) {
        self.last.remove(key);
    }

    /// Number of keys with recorded state.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True if no key has recorded state.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(7, *b"0123456789abcdef").unwrap()
    }

    #[test]
    fn secret_shorter_than_16_bytes_is_refused() {
        assert_eq!(
            Key::new(1, vec![0u8; 15]).unwrap_err(),
            AuthError::SecretTooShort { id: 1, len: 15 }
        );
        assert!(Key::new(1, vec![0u8; 16]).is_ok());
    }

    #[test]
    fn debug_output_does_not_contain_the_secret() {
        let k = Key::new(3, *b"SUPERSECRETVALUE").unwrap();
        let s = format!("{k:?}");
        assert!(!s.contains("SUPERSECRET"), "{s}");
        assert!(s.contains("16 bytes redacted"), "{s}");
        assert!(s.contains("id: 3"), "{s}");
    }

    #[test]
    fn from_hex_decodes_mixed_case() {
        let k = Key::from_hex(9, "000102030405060708090A0b0C0d0E0f").unwrap();
        let direct = Key::new(9, (0u8..16).collect::<Vec<_>>()).unwrap();
        assert_eq!(sign(&k, &[b"x"]), sign(&direct, &[b"x"]));
    }

    #[test]
    fn from_hex_refuses_odd_length_bad_chars_and_short_secrets() {
        assert!(matches!(
            Key::from_hex(1, "abc"),
            Err(AuthError::BadHex { .. })
        ));
        assert!(matches!(
            Key::from_hex(1, "zz0102030405060708090a0b0c0d0e0f"),
            Err(AuthError::BadHex { .. })
        ));
        assert!(matches!(
            Key::from_hex(1, "00010203"),
            Err(AuthError::SecretTooShort { len: 4, .. })
        ));
        // Multi-byte UTF-8 must be refused, not split mid-character.
        assert!(matches!(
            Key::from_hex(1, "é0102030405060708090a0b0c0d0e0f"),
            Err(AuthError::BadHex { .. })
        ));
    }

    #[test]
    fn sign_matches_rfc4231_test_case_7() {
        // RFC 4231 case 7 uses a 131-byte key, long enough for our minimum.
        let k = Key::new(0, vec![0xaa; 131]).unwrap();
        let msg: &[u8] = b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";
        let want = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
        let got: String = sign(&k, &[msg])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn sign_over_parts_equals_sign_over_concatenation() {
        let k = key();
        assert_eq!(
            sign(&k, &[b"hello ", b"world"]),
            sign(&k, &[b"hello world"])
        );
    }

    #[test]
    fn verify_accepts_own_tag_and_refuses_flipped_bit() {
        let k = key();
        let mut tag = sign(&k, &[b"msg"]);
        assert!(verify(&k, &[b"msg"], &tag));
        tag[31] ^= 1;
        assert!(!verify(&k, &[b"msg"], &tag));
    }

    #[test]
    fn verify_refuses_truncated_tag_and_other_key() {
        let k = key();
        let tag = sign(&k, &[b"msg"]);
        assert!(!verify(&k, &[b"msg"], &tag[..16]));
        assert!(!verify(&k, &[b"msg"], &[]));
        let other = Key::new(7, *b"0123456789abcdeF").unwrap();
        assert!(!verify(&other, &[b"msg"], &tag));
    }

    #[test]
    fn serial_newer_follows_rfc1982() {
        assert!(serial_newer(1, 0));
        assert!(!serial_newer(0, 1));
        assert!(!serial_newer(5, 5));
        assert!(serial_newer(0, u32::MAX));
        assert!(serial_newer(0x7fff_ffff, 0));
        assert!(
            !serial_newer(0x8000_0000, 0),
            "2^31 apart is undefined, refused"
        );
        assert!(
            !serial_newer(0, 0x8000_0000),
            "2^31 apart is undefined, refused"
        );
        assert!(serial_newer(0x8000_0001, 2));
    }

    #[test]
    fn replay_window_accepts_increasing_and_refuses_equal_or_older_sequence() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.window(), 30);
        w.accept(1u32, 10, 1000, 1000).unwrap();
        assert_eq!(
            w.accept(1, 10, 1000, 1000),
            Err(ReplayError::ReplayedSequence {
                sequence: 10,
                last: 10
            })
        );
        assert_eq!(
            w.accept(1, 9, 1000, 1000),
            Err(ReplayError::ReplayedSequence {
                sequence: 9,
                last: 10
            })
        );
        w.accept(1, 11, 1000, 1000).unwrap();
        assert_eq!(w.last_sequence(&1), Some(11));
    }

    #[test]
    fn replay_window_sequence_wraps_around_u32() {
        let mut w = ReplayWindow::default();
        w.accept(1u32, u32::MAX - 1, 50, 50).unwrap();
        w.accept(1, u32::MAX, 50, 50).unwrap();
        w.accept(1, 0, 50, 50).unwrap();
        w.accept(1, 1, 50, 50).unwrap();
        assert!(matches!(
            w.accept(1, u32::MAX, 50, 50),
            Err(ReplayError::ReplayedSequence { .. })
        ));
    }

    #[test]
    fn replay_window_keys_are_independent() {
        let mut w = ReplayWindow::default();
        w.accept(1u32, 100, 0, 0).unwrap();
        w.accept(2u32, 5, 0, 0).unwrap();
        assert_eq!(w.len(), 2);
        w.forget(&1);
        w.accept(1, 5, 0, 0).unwrap();
    }

    #[test]
    fn replay_window_edges_are_inclusive() {
        let mut w = ReplayWindow::new(30);
        w.accept(1u32, 1, 970, 1000).unwrap();
        w.accept(1, 2, 1030, 1000).unwrap();
        assert_eq!(
            w.accept(1, 3, 969, 1000),
            Err(ReplayError::StaleTimestamp {
                timestamp: 969,
                now: 1000,
                window: 30
            })
        );
        assert!(matches!(
            w.accept(1, 3, 1031, 1000),
            Err(ReplayError::StaleTimestamp { .. })
        ));
    }

    #[test]
    fn stale_message_does_not_advance_sequence() {
        let mut w = ReplayWindow::new(30);
        w.accept(1u32, 1, 1000, 1000).unwrap();
        assert!(w.accept(1, 50, 0, 1000).is_err());
        assert_eq!(w.last_sequence(&1), Some(1));
        w.accept(1, 2, 1000, 1000).unwrap();
    }

    #[test]
    fn replay_window_timestamp_comparison_wraps_around_u32() {
        let w: ReplayWindow = ReplayWindow::new(30);
        // now just after the wrap, timestamp just before it: 10 s apart.
        w.check(&1, 1, u32::MAX - 4, 5).unwrap();
        w.check(&1, 1, 5, u32::MAX - 4).unwrap();
        assert!(w.check(&1, 1, u32::MAX - 40, 5).is_err());
    }

    #[test]
    fn replay_window_huge_window_is_clamped() {
        let w: ReplayWindow = ReplayWindow::new(u32::MAX);
        assert_eq!(w.window(), i32::MAX as u32);
        w.check(&1, 1, 0, 0x7fff_ffff).unwrap();
    }

    #[test]
    fn zero_window_accepts_only_exact_time() {
        let w: ReplayWindow = ReplayWindow::new(0);
        w.check(&1, 1, 100, 100).unwrap();
        assert!(w.check(&1, 1, 101, 100).is_err());
        assert!(w.check(&1, 1, 99, 100).is_err());
    }
}
