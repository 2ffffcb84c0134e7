//! The body both table updates share (LSS_MATBL_UPDATE, LSS_ANSTBL_UPDATE):
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     flags     |     count     |           reserved            |
//! +---------------+---------------+-------------------------------+
//! |                 count x fixed-size entries                    |
//! +---------------------------------------------------------------+
//! ```
//! Flags bit 0 (0x01) FULL: part of a full dump answering LSS_SYNC_REQUEST.
//! Each message says only what one entry is.

use super::codec::Reader;
use super::{HEADER_LEN, LsError, MAX_DATAGRAM};
use crate::auth::TAG_LEN;

const PREFIX_LEN: usize = 4;
const FLAG_FULL: u8 = 0x01;

/// One entry of a table update, always `LEN` bytes on the wire.
pub(crate) trait TableEntry: Sized + Clone {
    const LEN: usize;
    /// The message, for errors ("MA table update").
    const WHAT: &'static str;
    /// Entries that fit one datagram of at most [`MAX_DATAGRAM`] bytes.
    const MAX: usize = (MAX_DATAGRAM - HEADER_LEN - TAG_LEN - PREFIX_LEN) / Self::LEN;
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self, LsError>;
}

/// A table in as many datagrams' worth of entries as it needs; at least one,
/// so that a full dump of an empty table still tells the peer "empty".
pub(crate) fn split<E: TableEntry>(entries: &[E]) -> Vec<Vec<E>> {
    if entries.is_empty() {
        return vec![Vec::new()];
    }
    entries.chunks(E::MAX).map(<[E]>::to_vec).collect()
}

pub(crate) fn body_len<E: TableEntry>(entries: &[E]) -> usize {
    PREFIX_LEN + entries.len() * E::LEN
}

fn check_count<E: TableEntry>(count: usize) -> Result<(), LsError> {
    if count > E::MAX {
        return Err(LsError::TooManyEntries {
            what: E::WHAT,
            got: count,
            max: E::MAX,
        });
    }
    Ok(())
}

pub(crate) fn validate<E: TableEntry>(entries: &[E]) -> Result<(), LsError> {
    check_count::<E>(entries.len())
}

pub(crate) fn encode<E: TableEntry>(full: bool, entries: &[E], out: &mut Vec<u8>) {
    out.push(if full { FLAG_FULL } else { 0 });
    // validate() has bounded the count well under 256.
    out.push(entries.len() as u8);
    out.extend_from_slice(&[0; 2]);
    for e in entries {
        e.put(out);
    }
}

/// `(full, entries)`; the count must match the body's length exactly.
pub(crate) fn decode<E: TableEntry>(buf: &[u8]) -> Result<(bool, Vec<E>), LsError> {
    let mut r = Reader::new(buf);
    let full = r.u8()? & FLAG_FULL != 0;
    let count = r.u8()? as usize;
    r.skip(2)?;
    check_count::<E>(count)?;
    if r.remaining() != count * E::LEN {
        return Err(LsError::LengthMismatch {
            declared: PREFIX_LEN + count * E::LEN,
            actual: buf.len(),
        });
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(E::get(&mut r)?);
    }
    r.finish()?;
    Ok((full, entries))
}
