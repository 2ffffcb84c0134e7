//! LSS_RTT_REPLY (0x03), MA -> LS, authenticated.
//!
//! ```text
//! +---------------------------------------------------------------+
//! |                        request ID                             |
//! +---------------+---------------+-------------------------------+
//! |    status     |   answered    |           reserved            |
//! +---------------+---------------+-------------------------------+
//! |                     mean RTT (microseconds)                   |
//! +---------------------------------------------------------------+
//! ```
//! 12 bytes. status 0: reachable, `mean RTT` is the mean over the `answered`
//! probes that came back; status 1: unreachable (no probe answered), mean RTT
//! is sent as 0 and ignored.

use super::codec::{Reader, put_u32};
use super::{BodyCodec, LsError, MsgType};

const LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RttStatus {
    /// Mean round-trip time in microseconds and how many probes answered.
    Reachable {
        mean_us: u32,
        answered: u8,
    },
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttReply {
    pub request_id: u32,
    pub status: RttStatus,
}

impl BodyCodec for RttReply {
    const TYPE: MsgType = MsgType::RttReply;

    fn body_len(&self) -> usize {
        LEN
    }

    fn validate(&self) -> Result<(), LsError> {
        match self.status {
            RttStatus::Reachable { answered: 0, .. } => Err(LsError::BadField(
                "a reachable RTT reply needs at least one answered probe",
            )),
            _ => Ok(()),
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.request_id);
        let (status, answered, mean) = match self.status {
            RttStatus::Reachable { mean_us, answered } => (0u8, answered, mean_us),
            RttStatus::Unreachable => (1, 0, 0),
        };
        out.push(status);
        out.push(answered);
        out.extend_from_slice(&[0; 2]);
        put_u32(out, mean);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let request_id = r.u32()?;
        let status = r.u8()?;
        let answered = r.u8()?;
        r.skip(2)?;
        let mean_us = r.u32()?;
        r.finish()?;
        let status = match status {
            0 => RttStatus::Reachable { mean_us, answered },
            1 => RttStatus::Unreachable,
            _ => return Err(LsError::BadField("RTT status")),
        };
        let m = RttReply { request_id, status };
        m.validate()?;
        Ok(m)
    }
}
