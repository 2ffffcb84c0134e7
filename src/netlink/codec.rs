//! Netlink framing, with no socket: attribute TLVs, the netlink and generic
//! netlink headers, and the kernel's ACK/error messages with their extended
//! ACK. Everything here works on byte slices so it can be tested (and fuzzed)
//! without a kernel; nothing here panics on any input.
//!
//! We frame messages ourselves instead of using neli's typed `Nlmsghdr`:
//! neli's deserializers compute lengths by unchecked subtraction (a short
//! error message from a buggy module would underflow), and the kernel's
//! echoed request in an error and the dump's `NLMSG_DONE` are simpler to get
//! right with explicit offsets. neli provides the socket (see `client.rs`).

use std::fmt;

/// `struct nlmsghdr`: len u32, type u16, flags u16, seq u32, pid u32.
pub const NLMSG_HDRLEN: usize = 16;
/// `struct genlmsghdr`: cmd u8, version u8, reserved u16.
pub const GENL_HDRLEN: usize = 4;
/// `struct nlattr`: len u16, type u16.
pub const NLA_HDRLEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
/// Types below this are netlink's own; families get ids from here up.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
/// In an error message: the echoed request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an error message: extended ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ACK attribute: a NUL-terminated message.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

/// The high bits of `nla_type` are flags, not part of the type.
pub const NLA_TYPE_MASK: u16 = 0x3fff;
pub const NLA_F_NESTED: u16 = 0x8000;

/// The generic netlink controller (`nlctrl`), which resolves family names.
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub const CTRL_ATTR_VERSION: u16 = 3;
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// What was wrong with bytes that claimed to be a netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedError(pub String);

impl fmt::Display for MalformedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MalformedError {}

fn malformed(what: impl Into<String>) -> MalformedError {
    MalformedError(what.into())
}

/// Builds a run of attributes. Offsets are kept relative to the start of the
/// whole netlink message so 64-bit values can be placed 8-byte aligned, as
/// the kernel's `nla_put_64bit` does.
#[derive(Debug, Clone)]
pub struct AttrWriter {
    buf: Vec<u8>,
    /// Where `buf` will start in the final message.
    base: usize,
}

impl AttrWriter {
    /// Attributes for the top level of a generic netlink message (they start
    /// after the netlink and generic netlink headers).
    pub fn genl() -> AttrWriter {
        AttrWriter {
            buf: Vec::new(),
            base: NLMSG_HDRLEN + GENL_HDRLEN,
        }
    }

    /// Attributes that will start `base` bytes into the message.
    pub fn at(base: usize) -> AttrWriter {
        AttrWriter {
            buf: Vec::new(),
            base,
        }
    }

    pub fn put(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        // An attribute longer than u16 cannot be expressed; none of ours
        // comes near (the largest is 16 bytes), so clip rather than panic.
        let len = (NLA_HDRLEN + payload.len()).min(usize::from(u16::MAX));
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&payload[..len - NLA_HDRLEN]);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn put_u16(&mut self, ty: u16, v: u16) -> &mut Self {
        self.put(ty, &v.to_ne_bytes())
    }

    pub fn put_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.put(ty, &v.to_ne_bytes())
    }

    /// A u64, preceded by a `pad` attribute of type `pad` if its payload would
    /// otherwise not be 8-byte aligned in the message.
    pub fn put_u64(&mut self, ty: u16, v: u64, pad: u16) -> &mut Self {
        if !(self.base + self.buf.len() + NLA_HDRLEN).is_multiple_of(8) {
            self.put(pad, &[]);
        }
        self.put(ty, &v.to_ne_bytes())
    }

    /// A NUL-terminated string, as the kernel's `NLA_NUL_STRING` expects.
    pub fn put_strz(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut b = Vec::with_capacity(s.len() + 1);
        b.extend_from_slice(s.as_bytes());
        b.push(0);
        self.put(ty, &b)
    }

    /// A nested attribute whose contents `f` writes.
    pub fn nest(&mut self, ty: u16, f: impl FnOnce(&mut AttrWriter)) -> &mut Self {
        let mut inner = AttrWriter::at(self.base + self.buf.len() + NLA_HDRLEN);
        f(&mut inner);
        self.put(ty | NLA_F_NESTED, &inner.buf)
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// One attribute: its type (flags masked off) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub ty: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    pub fn u16(&self) -> Result<u16, MalformedError> {
        self.array::<2>().map(u16::from_ne_bytes)
    }

    pub fn u32(&self) -> Result<u32, MalformedError> {
        self.array::<4>().map(u32::from_ne_bytes)
    }

    pub fn u64(&self) -> Result<u64, MalformedError> {
        self.array::<8>().map(u64::from_ne_bytes)
    }

    /// An exact-length binary payload.
    pub fn array<const N: usize>(&self) -> Result<[u8; N], MalformedError> {
        self.payload.try_into().map_err(|_| {
            malformed(format!(
                "attribute {} has {} bytes, expected {N}",
                self.ty,
                self.payload.len()
            ))
        })
    }

    /// A string, with its NUL terminator (and anything after it) dropped.
    pub fn str(&self) -> Result<&'a str, MalformedError> {
        let b = self.payload;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        std::str::from_utf8(&b[..end])
            .map_err(|_| malformed(format!("attribute {} is not UTF-8", self.ty)))
    }

    /// The attributes nested in this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

/// Iterates over a run of attributes. Stops with an error (once) at the
/// first attribute whose length does not fit.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Attrs<'a> {
    pub fn new(bytes: &'a [u8]) -> Attrs<'a> {
        Attrs {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, MalformedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        // Fewer than a header's worth of trailing bytes is padding the kernel
        // never sends, but nla_for_each_attr tolerates it, so we do too.
        if r.len() < NLA_HDRLEN {
            self.rest = &[];
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([r[0], r[1]]));
        let ty = u16::from_ne_bytes([r[2], r[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > r.len() {
            self.failed = true;
            return Some(Err(malformed(format!(
                "attribute {ty} claims {len} bytes, {} left",
                r.len()
            ))));
        }
        let payload = &r[NLA_HDRLEN..len];
        self.rest = r.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(Attr { ty, payload }))
    }
}

/// A netlink header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlHeader {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl NlHeader {
    pub fn parse(b: &[u8]) -> Result<NlHeader, MalformedError> {
        let h: &[u8; NLMSG_HDRLEN] = b
            .get(..NLMSG_HDRLEN)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| malformed("short netlink header"))?;
        Ok(NlHeader {
            len: u32::from_ne_bytes([h[0], h[1], h[2], h[3]]),
            ty: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
            pid: u32::from_ne_bytes([h[12], h[13], h[14], h[15]]),
        })
    }
}

/// A complete generic netlink request: headers, then `attrs` (built with
/// [`AttrWriter::genl`]).
pub fn genl_request(
    family: u16,
    flags: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    attrs: &[u8],
) -> Vec<u8> {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&(len as u32).to_ne_bytes());
    b.extend_from_slice(&family.to_ne_bytes());
    b.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    // Port 0 addresses the kernel; the kernel fills in our port on receipt.
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&[cmd, version, 0, 0]);
    b.extend_from_slice(attrs);
    b
}

/// A kernel error (or the success ACK, `errno == 0`) with its extended ACK
/// message, if the kernel gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Positive errno (the kernel sends it negated); 0 for success.
    pub errno: i32,
    pub msg: Option<String>,
}

/// One message received from the kernel, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A generic netlink message for `family`: command and attribute bytes.
    Genl {
        header: NlHeader,
        cmd: u8,
        version: u8,
        attrs: &'a [u8],
    },
    /// `NLMSG_ERROR`: an ACK (errno 0) or an error, for request `header.seq`.
    Ack { header: NlHeader, ack: Ack },
    /// `NLMSG_DONE`: the end of a dump, possibly with the dump's error.
    Done { header: NlHeader, ack: Ack },
    /// Anything else (`NLMSG_NOOP`, `NLMSG_OVERRUN`, other types).
    Other { header: NlHeader },
}

impl Message<'_> {
    pub fn header(&self) -> &NlHeader {
        match self {
            Message::Genl { header, .. }
            | Message::Ack { header, .. }
            | Message::Done { header, .. }
            | Message::Other { header } => header,
        }
    }
}

fn ext_ack_msg(tlvs: &[u8]) -> Option<String> {
    Attrs::new(tlvs)
        .map_while(Result::ok)
        .find(|a| a.ty == NLMSGERR_ATTR_MSG)
        .and_then(|a| a.str().ok().map(str::to_owned))
        .filter(|m| !m.is_empty())
}

fn read_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

/// Decodes an `NLMSG_ERROR` body: errno, echoed request, extended ACK.
fn parse_error_body(flags: u16, body: &[u8]) -> Result<Ack, MalformedError> {
    let err = read_i32(body).ok_or_else(|| malformed("short error message"))?;
    let echoed = body.get(4..).unwrap_or(&[]);
    let mut tlvs: &[u8] = &[];
    if flags & NLM_F_ACK_TLVS != 0 {
        let skip = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            let h = NlHeader::parse(echoed)?;
            align4(h.len as usize)
        };
        tlvs = echoed.get(skip..).unwrap_or(&[]);
    }
    Ok(Ack {
        errno: err.checked_neg().unwrap_or(i32::MAX),
        msg: ext_ack_msg(tlvs),
    })
}

/// Splits one received datagram into messages. Stops with an error (once)
/// at the first message whose length does not fit.
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages {
        rest: datagram,
        failed: false,
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, MalformedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let r = self.rest;
        let out = (|| {
            let header = NlHeader::parse(r)?;
            let len = header.len as usize;
            if len < NLMSG_HDRLEN || len > r.len() {
                return Err(malformed(format!(
                    "netlink message claims {len} bytes, {} left",
                    r.len()
                )));
            }
            let body = &r[NLMSG_HDRLEN..len];
            let msg = match header.ty {
                NLMSG_ERROR => Message::Ack {
                    header,
                    ack: parse_error_body(header.flags, body)?,
                },
                NLMSG_DONE => {
                    // Old kernels send an empty DONE; newer ones an errno and,
                    // with extended ACK, attributes right after it.
                    let err = read_i32(body).unwrap_or(0);
                    let tlvs = if header.flags & NLM_F_ACK_TLVS != 0 {
                        body.get(4..).unwrap_or(&[])
                    } else {
                        &[]
                    };
                    Message::Done {
                        header,
                        ack: Ack {
                            errno: err.checked_neg().unwrap_or(i32::MAX),
                            msg: ext_ack_msg(tlvs),
                        },
                    }
                }
                // NLMSG_NOOP, NLMSG_OVERRUN and the rest of the reserved range.
                t if t < NLMSG_MIN_TYPE => Message::Other { header },
                _ => {
                    let g = body
                        .get(..GENL_HDRLEN)
                        .ok_or_else(|| malformed("short generic netlink header"))?;
                    Message::Genl {
                        header,
                        cmd: g[0],
                        version: g[1],
                        attrs: &body[GENL_HDRLEN..],
                    }
                }
            };
            Ok((msg, align4(len)))
        })();
        match out {
            Ok((msg, used)) => {
                self.rest = r.get(used..).unwrap_or(&[]);
                Some(Ok(msg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// What `nlctrl` says about a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo {
    pub id: u16,
    pub version: u32,
    /// Multicast groups: name and the id to join.
    pub groups: Vec<(String, u32)>,
}

/// The attributes of a `CTRL_CMD_GETFAMILY` request for `name`.
pub fn getfamily_attrs(name: &str) -> Vec<u8> {
    let mut w = AttrWriter::genl();
    w.put_strz(CTRL_ATTR_FAMILY_NAME, name);
    w.into_bytes()
}

/// Decodes the controller's reply to `CTRL_CMD_GETFAMILY`.
pub fn parse_family(attrs: &[u8]) -> Result<FamilyInfo, MalformedError> {
    let mut id = None;
    let mut version = 0;
    let mut groups = Vec::new();
    for a in Attrs::new(attrs) {
        let a = a?;
        match a.ty {
            CTRL_ATTR_FAMILY_ID => id = Some(a.u16()?),
            CTRL_ATTR_VERSION => version = a.u32()?,
            CTRL_ATTR_MCAST_GROUPS => {
                for g in a.nested() {
                    let (mut name, mut gid) = (None, None);
                    for f in g?.nested() {
                        let f = f?;
                        match f.ty {
                            CTRL_ATTR_MCAST_GRP_NAME => name = Some(f.str()?.to_owned()),
                            CTRL_ATTR_MCAST_GRP_ID => gid = Some(f.u32()?),
                            _ => {}
                        }
                    }
                    if let (Some(n), Some(i)) = (name, gid) {
                        groups.push((n, i));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(FamilyInfo {
        id: id.ok_or_else(|| malformed("family reply without an id"))?,
        version,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_are_padded_and_round_trip() {
        let mut w = AttrWriter::at(0);
        w.put(7, &[1, 2, 3])
            .put_u32(8, 0xdead_beef)
            .put_strz(9, "lin6");
        let b = w.into_bytes();
        assert_eq!(b.len(), 8 + 8 + 12);
        let got: Vec<_> = Attrs::new(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(got[0].payload, &[1, 2, 3]);
        assert_eq!(got[1].u32().unwrap(), 0xdead_beef);
        assert_eq!(got[2].str().unwrap(), "lin6");
    }

    #[test]
    fn u64_is_padded_to_an_8_byte_boundary_in_the_message() {
        let mut w = AttrWriter::genl();
        w.put_u64(1, 7, 14);
        // The first attribute's payload is at 20 + 4 = 24: no pad needed.
        assert_eq!(w.len(), 12);
        w.put_u64(1, 8, 14);
        // Now at 32 + 4 = 36: a 4-byte pad attribute goes first.
        let b = w.into_bytes();
        assert_eq!(b.len(), 12 + 4 + 12);
        let tys: Vec<u16> = Attrs::new(&b).map(|a| a.unwrap().ty).collect();
        assert_eq!(tys, [1, 14, 1]);
    }

    #[test]
    fn nested_attributes_carry_the_nested_flag_and_parse_back() {
        let mut w = AttrWriter::genl();
        w.nest(9, |n| {
            n.put_u64(1, 42, 14);
        });
        let b = w.into_bytes();
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 9 | NLA_F_NESTED);
        let outer = Attrs::new(&b).next().unwrap().unwrap();
        assert_eq!(outer.ty, 9);
        let inner: Vec<_> = outer.nested().map(|a| a.unwrap()).collect();
        let v = inner.iter().find(|a| a.ty == 1).unwrap();
        assert_eq!(v.u64().unwrap(), 42);
    }

    #[test]
    fn attribute_with_bad_length_is_an_error_once() {
        let b = [200u8, 0, 1, 0, 0, 0, 0, 0];
        let mut it = Attrs::new(&b);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    fn error_msg(flags: u16, errno: i32, echoed: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + 4 + echoed.len() + tlvs.len();
        let mut b = Vec::new();
        b.extend_from_slice(&(len as u32).to_ne_bytes());
        b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&5u32.to_ne_bytes());
        b.extend_from_slice(&99u32.to_ne_bytes());
        b.extend_from_slice(&(-errno).to_ne_bytes());
        b.extend_from_slice(echoed);
        b.extend_from_slice(tlvs);
        b
    }

    #[test]
    fn error_with_full_echo_and_extack_message() {
        let req = genl_request(0x20, NLM_F_ACK, 5, 3, 1, &[1, 0, 0, 0]);
        let mut t = AttrWriter::at(0);
        t.put_strz(NLMSGERR_ATTR_MSG, "mapping table is full");
        let b = error_msg(NLM_F_ACK_TLVS, 28, &req, &t.into_bytes());
        let m: Vec<_> = messages(&b).collect::<Result<_, _>>().unwrap();
        let Message::Ack { header, ack } = &m[0] else {
            panic!("{m:?}")
        };
        assert_eq!(header.seq, 5);
        assert_eq!(ack.errno, 28);
        assert_eq!(ack.msg.as_deref(), Some("mapping table is full"));
    }

    #[test]
    fn error_with_capped_echo_and_plain_ack() {
        let req = genl_request(0x20, NLM_F_ACK, 5, 3, 1, &[]);
        let mut t = AttrWriter::at(0);
        t.put_strz(NLMSGERR_ATTR_MSG, "no mapping for this node-id");
        let b = error_msg(
            NLM_F_ACK_TLVS | NLM_F_CAPPED,
            2,
            &req[..NLMSG_HDRLEN],
            &t.into_bytes(),
        );
        let Some(Ok(Message::Ack { ack, .. })) = messages(&b).next() else {
            panic!()
        };
        assert_eq!(ack.errno, 2);
        assert_eq!(ack.msg.as_deref(), Some("no mapping for this node-id"));

        let ok = error_msg(NLM_F_CAPPED, 0, &req[..NLMSG_HDRLEN], &[]);
        let Some(Ok(Message::Ack { ack, .. })) = messages(&ok).next() else {
            panic!()
        };
        assert_eq!(
            ack,
            Ack {
                errno: 0,
                msg: None
            }
        );
    }

    #[test]
    fn family_reply_parses_id_version_and_groups() {
        let mut w = AttrWriter::genl();
        w.put_strz(CTRL_ATTR_FAMILY_NAME, "lin6")
            .put_u16(CTRL_ATTR_FAMILY_ID, 0x22)
            .put_u32(CTRL_ATTR_VERSION, 1)
            .nest(CTRL_ATTR_MCAST_GROUPS, |g| {
                g.nest(1, |e| {
                    e.put_strz(CTRL_ATTR_MCAST_GRP_NAME, "events")
                        .put_u32(CTRL_ATTR_MCAST_GRP_ID, 9);
                });
            });
        let f = parse_family(&w.into_bytes()).unwrap();
        assert_eq!(
            f,
            FamilyInfo {
                id: 0x22,
                version: 1,
                groups: vec![("events".into(), 9)]
            }
        );
    }
}
