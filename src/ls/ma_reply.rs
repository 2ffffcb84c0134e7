//! LSS_MA_REPLY (0x05), LS -> user, unauthenticated.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     code      |     level     |           reserved            |
//! +---------------+---------------+-------------------------------+
//! |                 chosen MA address (128 bits)                  |
//! +---------------------------------------------------------------+
//! ```
//! 20 bytes. Code 0: use `MA address`; `level` is the service level the LS
//! assigned. Any other code: the MA address is `::` and level 0. The header
//! sequence echoes the request's.

use super::codec::{Reader, put_ipv6};
use super::{BodyCodec, LsError, MsgType, ServiceLevel};
use std::net::Ipv6Addr;

const LEN: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReplyCode {
    Ok = 0,
    /// The node ID is not a subscriber.
    UnknownNode = 1,
    /// No active MA has room for the user's level (or none answered in time).
    NoMaAvailable = 2,
    /// Too many requests from this network; retry later.
    RateLimited = 3,
    /// The LS is at its limit of decisions in progress; retry later.
    Busy = 4,
}

impl ReplyCode {
    fn from_u8(v: u8) -> Option<ReplyCode> {
        Some(match v {
            0 => ReplyCode::Ok,
            1 => ReplyCode::UnknownNode,
            2 => ReplyCode::NoMaAvailable,
            3 => ReplyCode::RateLimited,
            4 => ReplyCode::Busy,
            _ => return None,
        })
    }
}

/// Either an answer or the reason there is none; the type makes "code Ok
/// without an address" unrepresentable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaReply {
    Ok {
        ma_addr: Ipv6Addr,
        level: ServiceLevel,
    },
    Refused(ReplyCode),
}

impl MaReply {
    pub fn code(&self) -> ReplyCode {
        match self {
            MaReply::Ok { .. } => ReplyCode::Ok,
            MaReply::Refused(c) => *c,
        }
    }
}

impl BodyCodec for MaReply {
    const TYPE: MsgType = MsgType::MaReply;

    fn body_len(&self) -> usize {
        LEN
    }

    fn validate(&self) -> Result<(), LsError> {
        match self {
            MaReply::Refused(ReplyCode::Ok) => {
                Err(LsError::BadField("a refusal cannot carry code 0"))
            }
            _ => Ok(()),
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        let (code, level, addr) = match self {
            MaReply::Ok { ma_addr, level } => (0, *level as u8, *ma_addr),
            MaReply::Refused(c) => (*c as u8, 0, Ipv6Addr::UNSPECIFIED),
        };
        out.push(code);
        out.push(level);
        out.extend_from_slice(&[0; 2]);
        put_ipv6(out, &addr);
    }

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        let mut r = Reader::new(buf);
        let code = r.u8()?;
        let level = r.u8()?;
        r.skip(2)?;
        let addr = r.ipv6()?;
        r.finish()?;
        let code = ReplyCode::from_u8(code).ok_or(LsError::BadField("MA reply code"))?;
        Ok(match code {
            ReplyCode::Ok => {
                if addr.is_unspecified() {
                    return Err(LsError::BadField("MA reply code 0 with address ::"));
                }
                MaReply::Ok {
                    ma_addr: addr,
                    level: ServiceLevel::from_u8(level)
                        .ok_or(LsError::BadField("service level"))?,
                }
            }
            c => MaReply::Refused(c),
        })
    }
}
