//! Load-sharing (LS) protocol: the messages between Mapping Agents, users and
//! Load Sharing servers (paper §IV, Table 3), plus one extension, `LSS_MA_ASSIGN`.
//!
//! Every datagram is a 16-byte [`Header`], a per-type body and, for the types
//! that [`MsgType::authenticated`] says so, a 32-byte HMAC-SHA-256 trailer over
//! header and body ([`crate::auth::sign`]). The layouts, ports and the reasons
//! behind them are in `docs/protocol.md`.
//!
//! Receiving is two steps on purpose: [`Frame::parse`] checks the framing only,
//! so the caller can look the key up and verify the tag *before* any body is
//! decoded or any replay state is touched; [`Frame::body`] then decodes.
//! [`decode`] does both for callers that have a key at hand.

mod anstbl_update;
mod codec;
mod heartbeat;
mod ma_assign;
mod ma_reply;
mod ma_request;
mod matbl_update;
mod rtt_reply;
mod rtt_request;
mod sequence;
mod sync_request;
mod table;

pub use anstbl_update::{AnsEntry, AnstblUpdate, MAX_ANS_ENTRIES};
pub use heartbeat::Heartbeat;
pub use ma_assign::MaAssign;
pub use ma_reply::{MaReply, ReplyCode};
pub use ma_request::MaRequest;
pub use matbl_update::{MAX_MA_ENTRIES, MaEntry, MaFlags, MatblUpdate};
pub use rtt_reply::{RttReply, RttStatus};
pub use rtt_request::{DEFAULT_PROBES, RttRequest};
pub use sequence::ClockSequence;
pub use sync_request::SyncRequest;

pub use crate::addr::NodeId;
use crate::auth::{self, Key, TAG_LEN};
use codec::Reader;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The only version this code speaks.
pub const VERSION: u8 = 1;
/// Bytes in the common header.
pub const HEADER_LEN: usize = 16;
/// Largest datagram we send or accept: the IPv6 minimum MTU (1280) less the
/// IPv6 and UDP headers, so no LS message ever needs fragmentation.
pub const MAX_DATAGRAM: usize = 1232;
/// UDP port for MA <-> LS and user <-> LS messages.
pub const PORT_LS: u16 = 7310;
/// UDP port for LS <-> LS replication.
pub const PORT_PEER: u16 = 7311;

/// Message types. 0x01..=0x08 are the paper's values (Table 3); 0x09 is ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    Heartbeat = 0x01,
    RttRequest = 0x02,
    RttReply = 0x03,
    MaRequest = 0x04,
    MaReply = 0x05,
    MatblUpdate = 0x06,
    AnstblUpdate = 0x07,
    SyncRequest = 0x08,
    /// LS -> MA: "this node ID at this level was sent to you" (paper §IV.B
    /// step 4 says the LS notifies the MA but names no message for it).
    MaAssign = 0x09,
}

impl MsgType {
    pub fn from_u8(v: u8) -> Option<MsgType> {
        Some(match v {
            0x01 => MsgType::Heartbeat,
            0x02 => MsgType::RttRequest,
            0x03 => MsgType::RttReply,
            0x04 => MsgType::MaRequest,
            0x05 => MsgType::MaReply,
            0x06 => MsgType::MatblUpdate,
            0x07 => MsgType::AnstblUpdate,
            0x08 => MsgType::SyncRequest,
            0x09 => MsgType::MaAssign,
            _ => return None,
        })
    }

    /// Whether datagrams of this type carry a key ID and an HMAC trailer.
    ///
    /// Everything between MAs and LSs, and among LSs, is authenticated with the
    /// cluster key. The user's request and its reply are not: the answer only
    /// names which MA to register with, and that MA checks the user against the
    /// subscriber database and its per-node key. Forged requests are bounded by
    /// rate limits in the LS (see docs/lsd.md).
    pub fn authenticated(self) -> bool {
        !matches!(self, MsgType::MaRequest | MsgType::MaReply)
    }
}

/// Subscription level. Its bandwidth comes from LS configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum ServiceLevel {
    Normal = 0,
    Premium = 1,
}

impl ServiceLevel {
    pub fn from_u8(v: u8) -> Option<ServiceLevel> {
        match v {
            0 => Some(ServiceLevel::Normal),
            1 => Some(ServiceLevel::Premium),
            _ => None,
        }
    }
}

impl fmt::Display for ServiceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceLevel::Normal => "normal",
            ServiceLevel::Premium => "premium",
        })
    }
}

impl FromStr for ServiceLevel {
    type Err = LsError;
    fn from_str(s: &str) -> Result<Self, LsError> {
        match s {
            "normal" => Ok(ServiceLevel::Normal),
            "premium" => Ok(ServiceLevel::Premium),
            _ => Err(LsError::BadField("service level (normal|premium)")),
        }
    }
}

/// Why a datagram could not be built or accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LsError {
    #[error("truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    #[error("datagram of {0} bytes exceeds the {MAX_DATAGRAM}-byte limit")]
    Oversized(usize),
    #[error("unsupported version {0}")]
    BadVersion(u8),
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    #[error("length field says {declared} body bytes, datagram carries {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("{what}: {got} entries, at most {max} per datagram")]
    TooManyEntries {
        what: &'static str,
        got: usize,
        max: usize,
    },
    #[error("invalid field: {0}")]
    BadField(&'static str),
    #[error("message type {0:?} must be authenticated but no key was given")]
    KeyRequired(MsgType),
    #[error("message type {0:?} is unauthenticated but carries key ID {1}")]
    UnexpectedKey(MsgType, u32),
    #[error("unknown key ID {0}")]
    UnknownKey(u32),
    #[error("authentication tag does not verify")]
    BadTag,
}

/// The common header. `length` counts body bytes only, not header or trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub msg_type: MsgType,
    pub length: u16,
    /// Per-sender, increasing (serial arithmetic); replay protection for
    /// authenticated types, request/reply matching for MA_REQUEST.
    pub sequence: u32,
    /// Seconds since the Unix epoch, truncated to 32 bits.
    pub timestamp: u32,
    /// 0 on unauthenticated types.
    pub key_id: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = VERSION;
        b[1] = self.msg_type as u8;
        b[2..4].copy_from_slice(&self.length.to_be_bytes());
        b[4..8].copy_from_slice(&self.sequence.to_be_bytes());
        b[8..12].copy_from_slice(&self.timestamp.to_be_bytes());
        b[12..16].copy_from_slice(&self.key_id.to_be_bytes());
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Header, LsError> {
        let mut r = Reader::new(buf);
        let version = r.u8()?;
        if version != VERSION {
            return Err(LsError::BadVersion(version));
        }
        let t = r.u8()?;
        let msg_type = MsgType::from_u8(t).ok_or(LsError::UnknownType(t))?;
        Ok(Header {
            msg_type,
            length: r.u16()?,
            sequence: r.u32()?,
            timestamp: r.u32()?,
            key_id: r.u32()?,
        })
    }
}

/// A decoded body of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Heartbeat(Heartbeat),
    RttRequest(RttRequest),
    RttReply(RttReply),
    MaRequest(MaRequest),
    MaReply(MaReply),
    MatblUpdate(MatblUpdate),
    AnstblUpdate(AnstblUpdate),
    SyncRequest(SyncRequest),
    MaAssign(MaAssign),
}

/// One message body's wire form.
pub trait BodyCodec: Sized {
    const TYPE: MsgType;
    /// Exact number of bytes [`BodyCodec::encode_body`] appends.
    fn body_len(&self) -> usize;
    /// Appends the body. Callers must have checked [`BodyCodec::validate`].
    fn encode_body(&self, out: &mut Vec<u8>);
    /// Decodes exactly `buf`; trailing bytes are an error.
    fn decode_body(buf: &[u8]) -> Result<Self, LsError>;
    /// Refuses values that cannot be encoded (e.g. too many entries).
    fn validate(&self) -> Result<(), LsError> {
        Ok(())
    }
}

macro_rules! body_dispatch {
    ($($v:ident),*) => {
        impl Body {
            pub fn msg_type(&self) -> MsgType {
                match self { $(Body::$v(_) => MsgType::$v,)* }
            }
            fn body_len(&self) -> usize {
                match self { $(Body::$v(b) => b.body_len(),)* }
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                match self { $(Body::$v(b) => b.encode_body(out),)* }
            }
            fn validate(&self) -> Result<(), LsError> {
                match self { $(Body::$v(b) => b.validate(),)* }
            }
            /// Decodes a body of type `t` from exactly `buf`.
            pub fn decode(t: MsgType, buf: &[u8]) -> Result<Body, LsError> {
                match t { $(MsgType::$v => Ok(Body::$v($v::decode_body(buf)?)),)* }
            }
        }
        $(impl From<$v> for Body {
            fn from(b: $v) -> Body { Body::$v(b) }
        })*
    };
}
body_dispatch!(
    Heartbeat,
    RttRequest,
    RttReply,
    MaRequest,
    MaReply,
    MatblUpdate,
    AnstblUpdate,
    SyncRequest,
    MaAssign
);

/// A whole message: header fields the sender chooses, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub sequence: u32,
    pub timestamp: u32,
    pub body: Body,
}

impl Message {
    pub fn new(sequence: u32, timestamp: u32, body: impl Into<Body>) -> Message {
        Message {
            sequence,
            timestamp,
            body: body.into(),
        }
    }

    /// Encodes the message. Authenticated types need `key` and are signed with
    /// it; unauthenticated types must get `None`, so a caller cannot believe it
    /// protected something the receiver will never check.
    pub fn encode(&self, key: Option<&Key>) -> Result<Vec<u8>, LsError> {
        let t = self.body.msg_type();
        self.body.validate()?;
        let key_id = match (t.authenticated(), key) {
            (true, Some(k)) => k.id,
            (true, None) => return Err(LsError::KeyRequired(t)),
            (false, Some(k)) => return Err(LsError::UnexpectedKey(t, k.id)),
            (false, None) => 0,
        };
        let body_len = self.body.body_len();
        let total = HEADER_LEN + body_len + if key.is_some() { TAG_LEN } else { 0 };
        if total > MAX_DATAGRAM {
            return Err(LsError::Oversized(total));
        }
        let header = Header {
            msg_type: t,
            length: body_len as u16,
            sequence: self.sequence,
            timestamp: self.timestamp,
            key_id,
        };
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&header.encode());
        self.body.encode_body(&mut out);
        debug_assert_eq!(out.len(), HEADER_LEN + body_len);
        if let Some(k) = key {
            let tag = auth::sign(k, &[&out]);
            out.extend_from_slice(&tag);
        }
        Ok(out)
    }
}

/// A datagram whose framing is valid; its body is not decoded yet and its tag
/// (if any) not verified yet.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub header: Header,
    signed: &'a [u8],
    body: &'a [u8],
    tag: Option<&'a [u8]>,
}

impl<'a> Frame<'a> {
    /// Checks version, type, size limits and that the length field accounts for
    /// every byte of the datagram.
    pub fn parse(buf: &'a [u8]) -> Result<Frame<'a>, LsError> {
        if buf.len() > MAX_DATAGRAM {
            return Err(LsError::Oversized(buf.len()));
        }
        let header = Header::decode(buf)?;
        let t = header.msg_type;
        if !t.authenticated() && header.key_id != 0 {
            return Err(LsError::UnexpectedKey(t, header.key_id));
        }
        let tag_len = if t.authenticated() { TAG_LEN } else { 0 };
        let declared = header.length as usize;
        let need = HEADER_LEN + declared + tag_len;
        if buf.len() < need {
            return Err(LsError::Truncated {
                need,
                have: buf.len(),
            });
        }
        if buf.len() > need {
            return Err(LsError::LengthMismatch {
                declared,
                actual: buf.len() - HEADER_LEN - tag_len,
            });
        }
        let signed_end = HEADER_LEN + declared;
        Ok(Frame {
            header,
            signed: &buf[..signed_end],
            body: &buf[HEADER_LEN..signed_end],
            tag: (tag_len > 0).then(|| &buf[signed_end..]),
        })
    }

    /// Whether the trailer verifies under `key`. Frames of unauthenticated
    /// types never verify, and neither does a key whose ID is not the header's.
    pub fn verify(&self, key: &Key) -> bool {
        match self.tag {
            Some(tag) => key.id == self.header.key_id && auth::verify(key, &[self.signed], tag),
            None => false,
        }
    }

    /// Decodes the body. Call [`Frame::verify`] first on authenticated types.
    pub fn body(&self) -> Result<Body, LsError> {
        Body::decode(self.header.msg_type, self.body)
    }

    pub fn message(&self) -> Result<Message, LsError> {
        Ok(Message {
            sequence: self.header.sequence,
            timestamp: self.header.timestamp,
            body: self.body()?,
        })
    }
}

/// Parses, authenticates (looking the key up by the header's key ID) and
/// decodes. Replay checks are the caller's: they need per-sender state.
pub fn decode<'k>(
    buf: &[u8],
    lookup: impl FnOnce(u32) -> Option<&'k Key>,
) -> Result<Message, LsError> {
    let frame = Frame::parse(buf)?;
    if frame.header.msg_type.authenticated() {
        let id = frame.header.key_id;
        let key = lookup(id).ok_or(LsError::UnknownKey(id))?;
        if !frame.verify(key) {
            return Err(LsError::BadTag);
        }
    }
    frame.message()
}
