//! Byte-level helpers shared by the message codecs. Every read is bounds
//! checked and reports how much was missing, so no decoder can panic.

use super::LsError;
use std::net::Ipv6Addr;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], LsError> {
        let end = self.pos + N;
        let s = self.buf.get(self.pos..end).ok_or(LsError::Truncated {
            need: end,
            have: self.buf.len(),
        })?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, LsError> {
        Ok(self.bytes::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, LsError> {
        Ok(u16::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, LsError> {
        Ok(u32::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn ipv6(&mut self) -> Result<Ipv6Addr, LsError> {
        Ok(Ipv6Addr::from(self.bytes::<16>()?))
    }

    /// Reserved fields are sent as zero and ignored on receipt, so a later
    /// version can use them without breaking this one.
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), LsError> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(LsError::Truncated {
                need: end,
                have: self.buf.len(),
            });
        }
        self.pos = end;
        Ok(())
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bodies have fixed or count-derived sizes; extra bytes mean the sender
    /// and we disagree on the layout, which must not pass silently.
    pub(crate) fn finish(self) -> Result<(), LsError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(LsError::LengthMismatch {
                declared: self.buf.len(),
                actual: self.pos,
            })
        }
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_ipv6(out: &mut Vec<u8>, a: &Ipv6Addr) {
    out.extend_from_slice(&a.octets());
}
