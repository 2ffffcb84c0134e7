//! Wire codecs for the LIN6 control messages (draft-teraoka-ipng-lin6-02 §8),
//! exchanged between nodes (`lin6resolvd`) and Mapping Agents (`lin6agentd`).
//!
//! Every message has a fixed size and every integer is in network byte order.
//! The draft gives MA Query/Reply and Mapping Update Request/Reply the same
//! type values, so the services are told apart by UDP port:
//!
//! | port | service | messages |
//! |---|---|---|
//! | [`PORT_MA_REGISTRATION`] 7300 | MA registration | [`UpdateRequest`] (authenticated), [`UpdateReply`] |
//! | [`PORT_MA_QUERY`] 7301 | MA query service | [`MaQuery`], [`MaReply`] |
//! | [`PORT_RESOLVD`] 7302 | a node's lin6resolvd | [`MappingRefresh`] |
//!
//! Decoders are strict and canonical: a datagram of the wrong size, with the
//! wrong type, with an unknown code, or with a non-zero bit where the layout
//! requires zero is refused. So whatever decodes re-encodes to the very same
//! bytes, which is what lets [`Authenticated::verify`] recompute the HMAC from
//! the decoded message instead of carrying the raw datagram around.
//!
//! Mapping Update Requests always travel with an [`AuthTrailer`] (key ID +
//! HMAC-SHA-256): the MA decodes them as `Authenticated<UpdateRequest>`. A bare
//! 32-byte request is refused by that decoder, and a real 68-byte datagram is
//! refused by `UpdateRequest::decode`, so a mix-up fails closed.
//! See docs/protocol.md, "LIN6 messages", for the diagrams.

mod query;
mod refresh;
mod update;

pub use query::{MaQuery, MaReply, QueryAnswer, QueryCode};
pub use refresh::MappingRefresh;
pub use update::{UpdateCode, UpdateReply, UpdateRequest};

use thiserror::Error;

use crate::auth::{self, Key, TAG_LEN};

/// UDP port of an MA's registration service (Mapping Update Request/Reply).
pub const PORT_MA_REGISTRATION: u16 = 7300;
/// UDP port of an MA's query service (MA Query/Reply).
pub const PORT_MA_QUERY: u16 = 7301;
/// UDP port on which every node's lin6resolvd receives Mapping Refresh.
pub const PORT_RESOLVD: u16 = 7302;

/// Size of an [`AuthTrailer`]: key ID (4) + HMAC-SHA-256 tag (32).
pub const TRAILER_LEN: usize = 4 + TAG_LEN;

/// Why a datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("{message}: datagram of {got} bytes is truncated, expected {expected}")]
    Truncated {
        message: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{message}: datagram of {got} bytes is oversized, expected {expected}")]
    Oversized {
        message: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{message}: unexpected type {got:#04x}, expected {expected:#04x}")]
    UnknownType {
        message: &'static str,
        expected: u8,
        got: u8,
    },
    #[error("{message}: unknown code {code}")]
    UnknownCode { message: &'static str, code: u8 },
    #[error("{message}: field {field} must be zero")]
    NonZeroReserved {
        message: &'static str,
        field: &'static str,
    },
    #[error("{message}: authentication trailer does not verify with key {key_id}")]
    BadAuth { message: &'static str, key_id: u32 },
}

/// A fixed-size message: encode appends exactly [`Codec::LEN`] bytes, decode
/// accepts exactly that many.
pub trait Codec: Sized {
    /// Name used in errors and docs.
    const NAME: &'static str;
    /// Exact size of the encoded message.
    const LEN: usize;

    /// Appends the encoded message to `buf`.
    fn encode(&self, buf: &mut Vec<u8>);

    /// Decodes one datagram; never panics, whatever the input.
    fn decode(buf: &[u8]) -> Result<Self, WireError>;

    /// The encoded message in a fresh buffer.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::LEN);
        self.encode(&mut v);
        v
    }
}

/// Checks the length and returns the datagram as a fixed array, so the
/// field reads that follow are infallible.
pub(crate) fn exact<'a, const N: usize>(
    message: &'static str,
    buf: &'a [u8],
) -> Result<&'a [u8; N], WireError> {
    match buf.len() {
        n if n < N => Err(WireError::Truncated {
            message,
            expected: N,
            got: n,
        }),
        n if n > N => Err(WireError::Oversized {
            message,
            expected: N,
            got: n,
        }),
        _ => Ok(buf.try_into().expect("length checked above")),
    }
}

pub(crate) fn expect_type(message: &'static str, got: u8, expected: u8) -> Result<(), WireError> {
    if got == expected {
        Ok(())
    } else {
        Err(WireError::UnknownType {
            message,
            expected,
            got,
        })
    }
}

pub(crate) fn expect_zero<T: PartialEq + Default>(
    message: &'static str,
    field: &'static str,
    value: T,
) -> Result<(), WireError> {
    if value == T::default() {
        Ok(())
    } else {
        Err(WireError::NonZeroReserved { message, field })
    }
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// The 32-byte layout the draft shares between Mapping Update Request and
/// MA Query/Reply, before any per-message interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout32 {
    pub msg_type: u8,
    pub code: u8,
    pub flags: u16,
    pub sequence: u32,
    pub prefix: u64,
    pub node: u64,
    pub timestamp: u32,
    pub lifetime: u32,
}

impl Layout32 {
    pub const LEN: usize = 32;

    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.reserve(Self::LEN);
        buf.push(self.msg_type);
        buf.push(self.code);
        buf.extend_from_slice(&self.flags.to_be_bytes());
        buf.extend_from_slice(&self.sequence.to_be_bytes());
        buf.extend_from_slice(&self.prefix.to_be_bytes());
        buf.extend_from_slice(&self.node.to_be_bytes());
        buf.extend_from_slice(&self.timestamp.to_be_bytes());
        buf.extend_from_slice(&self.lifetime.to_be_bytes());
    }

    /// Parses the fields after checking size and type; the caller checks the
    /// rest, since which fields must be zero depends on the message.
    pub fn decode(message: &'static str, expected_type: u8, buf: &[u8]) -> Result<Self, WireError> {
        let b = exact::<32>(message, buf)?;
        expect_type(message, b[0], expected_type)?;
        Ok(Layout32 {
            msg_type: b[0],
            code: b[1],
            flags: be16(b, 2),
            sequence: be32(b, 4),
            prefix: be64(b, 8),
            node: be64(b, 16),
            timestamp: be32(b, 24),
            lifetime: be32(b, 28),
        })
    }
}

/// The authentication trailer that follows a message body: which key signed
/// it, and HMAC-SHA-256 over the body followed by the key ID.
///
/// The key ID is inside the HMAC so that a tag cannot be re-labelled as
/// coming from another key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthTrailer {
    pub key_id: u32,
    pub tag: [u8; TAG_LEN],
}

impl std::fmt::Debug for AuthTrailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: String = self.tag[..4].iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("AuthTrailer")
            .field("key_id", &self.key_id)
            .field("tag", &format_args!("{hex}…"))
            .finish()
    }
}

/// A message followed by an [`AuthTrailer`]: `M::LEN + 36` bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Authenticated<M> {
    pub msg: M,
    pub trailer: AuthTrailer,
}

impl<M: Codec> Authenticated<M> {
    /// Signs `msg` with `key`.
    pub fn sign(msg: M, key: &Key) -> Self {
        let body = msg.to_vec();
        let tag = auth::sign(key, &[&body, &key.id.to_be_bytes()]);
        Authenticated {
            msg,
            trailer: AuthTrailer {
                key_id: key.id,
                tag,
            },
        }
    }

    /// True if `key` is the key the trailer names and the tag verifies
    /// (constant time). Relies on decoding being canonical: the re-encoded
    /// message is byte for byte what was received.
    pub fn verify(&self, key: &Key) -> bool {
        let body = self.msg.to_vec();
        key.id == self.trailer.key_id
            && auth::verify(
                key,
                &[&body, &self.trailer.key_id.to_be_bytes()],
                &self.trailer.tag,
            )
    }

    /// The message, if the trailer verifies with `key`.
    pub fn into_verified(self, key: &Key) -> Result<M, WireError> {
        if self.verify(key) {
            Ok(self.msg)
        } else {
            Err(WireError::BadAuth {
                message: M::NAME,
                key_id: self.trailer.key_id,
            })
        }
    }
}

impl<M: Codec> Codec for Authenticated<M> {
    const NAME: &'static str = M::NAME;
    const LEN: usize = M::LEN + TRAILER_LEN;

    fn encode(&self, buf: &mut Vec<u8>) {
        self.msg.encode(buf);
        buf.extend_from_slice(&self.trailer.key_id.to_be_bytes());
        buf.extend_from_slice(&self.trailer.tag);
    }

    fn decode(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() < Self::LEN {
            return Err(WireError::Truncated {
                message: M::NAME,
                expected: Self::LEN,
                got: buf.len(),
            });
        }
        if buf.len() > Self::LEN {
            return Err(WireError::Oversized {
                message: M::NAME,
                expected: Self::LEN,
                got: buf.len(),
            });
        }
        let (body, trailer) = buf.split_at(M::LEN);
        let msg = M::decode(body)?;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&trailer[4..]);
        Ok(Authenticated {
            msg,
            trailer: AuthTrailer {
                key_id: be32(trailer, 0),
                tag,
            },
        })
    }
}

/// A message that may or may not carry a trailer, told apart by size. Used
/// for [`UpdateReply`]: the MA signs replies when it knows the node's key, but
/// cannot when the key is unknown or the request failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaybeAuthenticated<M> {
    Plain(M),
    Authenticated(Authenticated<M>),
}

impl<M: Codec + Copy> MaybeAuthenticated<M> {
    /// The message, whether or not it was signed. Check [`Self::verify`]
    /// before trusting it.
    pub fn msg(&self) -> M {
        match self {
            MaybeAuthenticated::Plain(m) => *m,
            MaybeAuthenticated::Authenticated(a) => a.msg,
        }
    }

    /// True only for a signed message whose trailer verifies with `key`.
    pub fn verify(&self, key: &Key) -> bool {
        match self {
            MaybeAuthenticated::Plain(_) => false,
            MaybeAuthenticated::Authenticated(a) => a.verify(key),
        }
    }

    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            MaybeAuthenticated::Plain(m) => m.encode(buf),
            MaybeAuthenticated::Authenticated(a) => a.encode(buf),
        }
    }

    /// Decodes `M::LEN` bytes as a plain message and `M::LEN + 36` as a
    /// signed one; any other size is an error.
    pub fn decode(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() <= M::LEN {
            M::decode(buf).map(MaybeAuthenticated::Plain)
        } else {
            Authenticated::decode(buf).map(MaybeAuthenticated::Authenticated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{NodeId, Prefix64};

    fn key(id: u32) -> Key {
        Key::new(id, *b"an-example-secret-of-32-bytes!!!").unwrap()
    }

    fn req() -> UpdateRequest {
        UpdateRequest {
            sequence: 42,
            prefix: "2001:db8:1:2::/64".parse::<Prefix64>().unwrap(),
            node: "201:4a00::1".parse::<NodeId>().unwrap(),
            timestamp: 1_700_000_000,
            lifetime: 300,
        }
    }

    #[test]
    fn signed_update_request_is_68_bytes_and_verifies() {
        let k = key(9);
        let a = Authenticated::sign(req(), &k);
        let bytes = a.to_vec();
        assert_eq!(bytes.len(), 68);
        assert_eq!(&bytes[32..36], &9u32.to_be_bytes());
        let d = Authenticated::<UpdateRequest>::decode(&bytes).unwrap();
        assert_eq!(d, a);
        assert_eq!(d.into_verified(&k).unwrap(), req());
    }

    #[test]
    fn update_request_with_flipped_hmac_bit_is_refused() {
        let k = key(9);
        let mut bytes = Authenticated::sign(req(), &k).to_vec();
        bytes[67] ^= 0x01;
        let d = Authenticated::<UpdateRequest>::decode(&bytes).unwrap();
        assert!(!d.verify(&k));
        assert_eq!(
            d.into_verified(&k),
            Err(WireError::BadAuth {
                message: "Mapping Update Request",
                key_id: 9
            })
        );
    }

    #[test]
    fn update_request_with_any_body_bit_flipped_is_refused() {
        let k = key(9);
        let good = Authenticated::sign(req(), &k).to_vec();
        for bit in 0..36 * 8 {
            let mut bytes = good.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            // Either the strict decoder refuses it, or the HMAC does.
            if let Ok(d) = Authenticated::<UpdateRequest>::decode(&bytes) {
                assert!(!d.verify(&k), "bit {bit} flipped still verifies");
            }
        }
    }

    #[test]
    fn update_request_signed_with_other_key_is_refused() {
        let a = Authenticated::sign(req(), &key(9));
        assert!(!a.verify(&key(10)), "key id differs");
        let same_id_other_secret = Key::new(9, *b"another-secret-of-sufficient-len").unwrap();
        assert!(!a.verify(&same_id_other_secret));
    }

    #[test]
    fn relabelled_key_id_does_not_verify() {
        // Same secret under two IDs: the ID is inside the HMAC, so a tag made
        // under ID 9 must not pass as ID 10.
        let mut a = Authenticated::sign(req(), &key(9));
        a.trailer.key_id = 10;
        assert!(!a.verify(&key(10)));
    }

    #[test]
    fn unauthenticated_update_request_is_refused_by_the_ma_decoder() {
        let bare = req().to_vec();
        assert_eq!(
            Authenticated::<UpdateRequest>::decode(&bare),
            Err(WireError::Truncated {
                message: "Mapping Update Request",
                expected: 68,
                got: 32
            })
        );
        // And the bare decoder does not swallow a signed datagram.
        let signed = Authenticated::sign(req(), &key(1)).to_vec();
        assert!(matches!(
            UpdateRequest::decode(&signed),
            Err(WireError::Oversized { .. })
        ));
    }

    #[test]
    fn update_reply_decodes_plain_and_signed_by_size() {
        let r = UpdateReply {
            code: UpdateCode::Ok,
            sequence: 7,
        };
        let k = key(3);
        let plain = MaybeAuthenticated::<UpdateReply>::decode(&r.to_vec()).unwrap();
        assert_eq!(plain, MaybeAuthenticated::Plain(r));
        assert!(!plain.verify(&k), "an unsigned reply never verifies");
        let signed = Authenticated::sign(r, &k).to_vec();
        assert_eq!(signed.len(), 44);
        let d = MaybeAuthenticated::<UpdateReply>::decode(&signed).unwrap();
        assert!(d.verify(&k));
        assert_eq!(d.msg(), r);
        let mut v = Vec::new();
        d.encode(&mut v);
        assert_eq!(v, signed);
        for len in [0, 7, 9, 43] {
            assert!(
                MaybeAuthenticated::<UpdateReply>::decode(&signed[..len]).is_err(),
                "{len} bytes accepted"
            );
        }
        let mut long = signed.clone();
        long.push(0);
        assert!(matches!(
            MaybeAuthenticated::<UpdateReply>::decode(&long),
            Err(WireError::Oversized { .. })
        ));
        assert!(matches!(
            MaybeAuthenticated::<UpdateReply>::decode(&signed[..20]),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn trailer_debug_does_not_print_the_whole_tag() {
        let a = Authenticated::sign(req(), &key(9));
        let s = format!("{:?}", a.trailer);
        assert!(s.contains("key_id: 9"));
        assert!(s.len() < 60, "{s}");
    }
}
