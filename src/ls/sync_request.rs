//! LSS_SYNC_REQUEST (0x08), LS -> LS, authenticated.
//!
//! Empty body. The first message an LS sends each peer (paper §IV.D); the peer
//! answers with its whole MA table (LSS_MATBL_UPDATE) and answer cache
//! (LSS_ANSTBL_UPDATE), both flagged as a full dump. An incremental "since
//! sequence" form was considered and left out: with at most a few LSs and
//! tables of tens of entries a full dump is a handful of datagrams, and it
//! needs no versioned tables. A later version can add a body; the length field
//! makes that detectable.

use super::codec::Reader;
use super::{BodyCodec, LsError, MsgType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncRequest;

impl BodyCodec for SyncRequest {
    const TYPE: MsgType = MsgType::SyncRequest;

    fn body_len(&self) -> usize {
        0
    }

    fn encode_body(&self, _out: &mut Vec<u8>) {}

    fn decode_body(buf: &[u8]) -> Result<Self, LsError> {
        Reader::new(buf).finish()?;
        Ok(SyncRequest)
    }
}
