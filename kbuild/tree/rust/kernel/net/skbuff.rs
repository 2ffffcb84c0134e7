// SPDX-License-Identifier: GPL-2.0

//! Socket buffers, as far as an IPv6 address-rewriting hook needs them.
//!
//! C headers: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h),
//! [`include/net/ipv6.h`](srctree/include/net/ipv6.h)

use crate::{bindings, error::to_result, net::netns::Net, prelude::*, types::Opaque};
use core::ptr;

/// An IPv6 address in network byte order.
pub type In6Addr = [u8; 16];
/// The /64 prefix of an IPv6 address (its first 8 bytes), in network byte
/// order: what an identifier/locator translator (LIN6, ILA) rewrites.
pub type Ipv6Prefix = [u8; 8];

/// The fixed IPv6 header's length.
pub const IPV6_HDR_LEN: usize = 40;
const SADDR_OFF: usize = 8;
const DADDR_OFF: usize = 24;
/// The ICMPv6 header before an error message's quoted packet.
pub const ICMP6_HDR_LEN: usize = 8;

/// Upper-layer protocols (`IPPROTO_*`), as IPv6 next-header values.
pub mod proto {
    use crate::bindings;

    /// TCP.
    pub const TCP: u8 = bindings::IPPROTO_TCP as u8;
    /// UDP.
    pub const UDP: u8 = bindings::IPPROTO_UDP as u8;
    /// DCCP.
    pub const DCCP: u8 = bindings::IPPROTO_DCCP as u8;
    /// ICMPv6.
    pub const ICMPV6: u8 = bindings::IPPROTO_ICMPV6 as u8;
    /// SCTP.
    pub const SCTP: u8 = bindings::IPPROTO_SCTP as u8;
    /// UDP-Lite.
    pub const UDPLITE: u8 = bindings::IPPROTO_UDPLITE as u8;
}

/// ICMPv6 message types.
pub mod icmp6 {
    use crate::bindings;

    /// Echo request.
    pub const ECHO_REQUEST: u8 = bindings::ICMPV6_ECHO_REQUEST as u8;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = bindings::ICMPV6_ECHO_REPLY as u8;
}
/// A UDP checksum that computes to zero is sent as all ones (RFC 8200 8.1).
const CSUM_MANGLED_0: u16 = 0xffff;

/// The fixed IPv6 header fields a translator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Where the header starts, from `skb->data`: what
    /// [`SkBuff::rewrite_ipv6_prefixes`] takes, so that a hook finds the
    /// network header once per packet.
    pub offset: usize,
    /// The next header after the fixed header.
    pub nexthdr: u8,
    /// Source address.
    pub saddr: In6Addr,
    /// Destination address.
    pub daddr: In6Addr,
}

/// Where the transport header is, if the packet has one we can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// The upper-layer protocol (after extension headers).
    pub proto: u8,
    /// Offset of its header from `skb->data`.
    pub offset: usize,
    /// Whether this is a fragment other than the first: no transport header.
    pub later_fragment: bool,
}

/// A socket buffer that the caller may modify (a netfilter hook's packet).
#[repr(transparent)]
pub struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// Borrows the buffer behind `ptr` mutably.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid `sk_buff` that the caller owns or may modify (a
    /// netfilter hook's packet) for `'a`, and nothing else touches it then.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a mut SkBuff {
        // SAFETY: transparent wrapper; validity and exclusivity per contract.
        unsafe { &mut *ptr.cast() }
    }

    /// The raw pointer.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Total length of the data (linear and paged).
    #[inline]
    pub fn len(&self) -> u32 {
        // SAFETY: `self` is a valid skb.
        unsafe { (*self.as_ptr()).len }
    }

    /// Whether the buffer holds no data.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The network header, where the IPv6 hooks find it: at or after
    /// `skb->data`. One C call, which the per-packet paths make once.
    #[inline]
    fn network(&self) -> Option<Network> {
        let mut linear: crate::ffi::c_int = 0;
        // SAFETY: `self` is a valid skb; the helper only reads it and writes
        // the local `linear`.
        let ptr = unsafe { bindings::skb_network_linear(self.as_ptr(), &mut linear) };
        // SAFETY: `self` is a valid skb; `data` is a plain pointer field.
        let data = unsafe { (*self.as_ptr()).data };
        Some(Network {
            ptr,
            offset: (ptr as usize).checked_sub(data as usize)?,
            linear: usize::try_from(linear).unwrap_or(0),
        })
    }

    /// The fixed IPv6 header, if all of it sits in the linear area (the
    /// IPv6 stack guarantees that at PRE_ROUTING and LOCAL_OUT).
    #[inline]
    pub fn ipv6_header(&self) -> Option<Ipv6Header> {
        self.network()?.ipv6_header()
    }

    /// Finds the upper-layer header behind any extension headers.
    #[inline]
    pub fn ipv6_transport(&self) -> Option<Transport> {
        self.transport_behind(self.network()?)
    }

    #[inline]
    fn transport_behind(&self, n: Network) -> Option<Transport> {
        // Most packets have none: a transport right behind the fixed header
        // needs no walk (and no fragment header precedes it).
        if let Some(nexthdr) = n.ipv6_nexthdr() {
            if matches!(nexthdr, proto::TCP | proto::UDP | proto::ICMPV6) {
                return Some(Transport {
                    proto: nexthdr,
                    offset: n.offset + IPV6_HDR_LEN,
                    later_fragment: false,
                });
            }
        }
        self.transport_behind_extensions()
    }

    /// The upper-layer header found by walking the extension headers.
    fn transport_behind_extensions(&self) -> Option<Transport> {
        let mut offset: u32 = 0;
        let mut fragoff: u16 = 0;
        let mut flags: i32 = 0;
        // SAFETY: `self` is a valid IPv6 skb; the out-pointers are locals.
        let proto = unsafe {
            bindings::ipv6_find_hdr(self.as_ptr(), &mut offset, -1, &mut fragoff, &mut flags)
        };
        if proto < 0 {
            return None;
        }
        Some(Transport {
            proto: proto as u8,
            offset: offset as usize,
            later_fragment: fragoff != 0,
        })
    }

    /// Copies `buf.len()` bytes from `offset` (linear or paged data).
    #[inline]
    pub fn copy_bits(&self, offset: usize, buf: &mut [u8]) -> Result {
        let off = i32::try_from(offset).map_err(|_| EINVAL)?;
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `self` is a valid skb; the C side checks the range against
        // the data and writes at most `len` bytes to `buf`.
        to_result(unsafe {
            bindings::skb_copy_bits(self.as_ptr(), off, buf.as_mut_ptr().cast(), len)
        })
    }

    /// Makes the first `len` bytes private and linear, so they may be written.
    #[inline]
    pub fn ensure_writable(&mut self, len: usize) -> Result {
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `self` is an skb we may modify.
        to_result(unsafe { bindings::skb_ensure_writable(self.as_ptr(), len) })
    }

    /// [`Self::ensure_writable`] without the C call for what most packets
    /// are: a buffer that is no clone, whose first `len` bytes are linear.
    #[inline(always)]
    fn make_writable(&mut self, len: usize) -> Result {
        // SAFETY: `self` is a valid skb; `len`, `data_len` and the `cloned`
        // bit are plain fields (`data_len` never exceeds `len`).
        let (linear, cloned) = unsafe {
            let skb = &*self.as_ptr();
            (
                skb.len.wrapping_sub(skb.data_len) as usize,
                skb.cloned() != 0,
            )
        };
        if !cloned && linear >= len {
            return Ok(());
        }
        self.ensure_writable(len)
    }

    /// Rewrites the /64 prefix of the IPv6 source and/or destination
    /// address, keeping their interface identifiers, as an identifier/locator
    /// translator does (LIN6's Node IDs, ILA's identifiers); adjusts the TCP,
    /// UDP or ICMPv6 checksum for the pseudo-header change, so the wire and
    /// the receiver both see a valid checksum, CHECKSUM_PARTIAL included.
    /// Only the prefixes enter the checksum difference and only they are
    /// written: half the work of replacing whole addresses. Later fragments
    /// carry no transport header and only get the prefixes.
    ///
    /// `hdr` is the packet's own fixed header as [`Self::ipv6_header`] read
    /// it (not a quoted one): its offset and next header spare finding them
    /// again.
    pub fn rewrite_ipv6_prefixes(
        &mut self,
        hdr: &Ipv6Header,
        saddr: Option<&Ipv6Prefix>,
        daddr: Option<&Ipv6Prefix>,
    ) -> Result {
        // A network header lies within an skb's first 64 KiB, which keeps
        // the offsets below from overflowing whatever the caller passed.
        if hdr.offset > usize::from(u16::MAX) {
            return Err(EINVAL);
        }
        let behind = hdr.offset + IPV6_HDR_LEN;
        let csum_at = match hdr.nexthdr {
            // Most packets: the transport right behind the fixed header
            // (and so no fragment header before it).
            proto::TCP => Some((behind + 16, false)),
            proto::UDP => Some((behind + 6, true)),
            proto::ICMPV6 => Some((behind + 2, false)),
            _ => match self.transport_behind_extensions() {
                Some(t) if !t.later_fragment => match t.proto {
                    proto::TCP => Some((t.offset + 16, false)),
                    proto::UDP => Some((t.offset + 6, true)),
                    proto::ICMPV6 => Some((t.offset + 2, false)),
                    _ => None,
                },
                _ => None,
            },
        };
        // The fixed header, and the transport header as far as its checksum
        // field; a transport header cut short fails here, before anything
        // was written.
        let writable = csum_at.map_or(behind, |(off, _)| off + 2);
        self.make_writable(writable)?;
        // SAFETY: `self` is a valid skb; `data` is a plain pointer field.
        // `make_writable` may have moved the data, not the offsets, and
        // made the first `writable` bytes, the fixed header among them,
        // linear and private to us.
        let data = unsafe { (*self.as_ptr()).data };
        // SAFETY: the fixed header lies at its offset within that area.
        let hdr = unsafe { data.add(hdr.offset) };
        // Each prefix as one native-endian word (see `csum_replace64`).
        let word = |p: &Ipv6Prefix| u64::from_ne_bytes(*p);
        // SAFETY: both prefixes lie within the fixed header (above).
        let (old_s, old_d) = unsafe {
            (
                hdr.add(SADDR_OFF).cast::<u64>().read_unaligned(),
                hdr.add(DADDR_OFF).cast::<u64>().read_unaligned(),
            )
        };

        if let Some((off, udp)) = csum_at {
            let mut acc = 0;
            if let Some(new) = saddr {
                acc = csum_replace64(acc, old_s, word(new));
            }
            if let Some(new) = daddr {
                acc = csum_replace64(acc, old_d, word(new));
            }
            let diff = csum_fold64(acc);
            let partial = self.checksum_partial();
            // SAFETY: the checksum field's 2 bytes end at `writable`.
            let sum = unsafe { data.add(off).cast::<u16>() };
            // SAFETY: as above.
            let old = unsafe { sum.read_unaligned() };
            // As `inet_proto_csum_replace_by_diff` with a pseudo-header
            // change, inline: a packet whose checksum the device finishes
            // holds the pseudo-header's sum, not yet complemented; any
            // other holds the complemented checksum. `skb->csum` of a
            // CHECKSUM_COMPLETE packet stays valid: it covers the IPv6
            // header too, and the field's change cancels the addresses'.
            let new = if partial {
                !csum_fold(csum_add32(diff, u32::from(old)))
            } else if udp && old == 0 {
                // UDP's zero means "no checksum": leave it so.
                0
            } else {
                match csum_fold(csum_add32(diff, !u32::from(old))) {
                    0 if udp => CSUM_MANGLED_0,
                    v => v,
                }
            };
            // SAFETY: as above.
            unsafe { sum.write_unaligned(new) };
        }

        // SAFETY: the fixed header lies within the writable area (above).
        unsafe {
            if let Some(new) = saddr {
                hdr.add(SADDR_OFF).cast::<u64>().write_unaligned(word(new));
            }
            if let Some(new) = daddr {
                hdr.add(DADDR_OFF).cast::<u64>().write_unaligned(word(new));
            }
        }
        Ok(())
    }

    /// The IPv6 header of the packet an ICMPv6 error message quotes (its
    /// "invoking packet", RFC 4443 2.4), which starts 8 bytes into the
    /// ICMPv6 message at `icmp_offset`; `None` if the message is too short.
    pub fn icmp6_quoted_ipv6_header(&self, icmp_offset: usize) -> Option<Ipv6Header> {
        let mut h = [0u8; IPV6_HDR_LEN];
        self.copy_bits(icmp_offset + ICMP6_HDR_LEN, &mut h).ok()?;
        let mut hdr = Ipv6Header {
            offset: icmp_offset + ICMP6_HDR_LEN,
            nexthdr: h[6],
            saddr: [0; 16],
            daddr: [0; 16],
        };
        hdr.saddr.copy_from_slice(&h[SADDR_OFF..SADDR_OFF + 16]);
        hdr.daddr.copy_from_slice(&h[DADDR_OFF..DADDR_OFF + 16]);
        Some(hdr)
    }

    /// Rewrites the addresses of the packet an ICMPv6 error message at
    /// `icmp_offset` quotes, and adjusts the ICMPv6 checksum, which covers
    /// the quote as data (so not as a pseudo-header: with CHECKSUM_PARTIAL
    /// the field needs no change, with CHECKSUM_COMPLETE the packet's sum
    /// stays what it was).
    pub fn rewrite_icmp6_quoted_addrs(
        &mut self,
        icmp_offset: usize,
        saddr: Option<&In6Addr>,
        daddr: Option<&In6Addr>,
    ) -> Result {
        let old = self.icmp6_quoted_ipv6_header(icmp_offset).ok_or(EINVAL)?;
        let quote = icmp_offset + ICMP6_HDR_LEN;
        self.ensure_writable(quote + IPV6_HDR_LEN)?;
        // SAFETY: `ensure_writable` made the first `quote + 40` bytes from
        // `skb->data` linear and private to us; the checksum field (bytes
        // 2-3 of the ICMPv6 header) and the quoted addresses lie within.
        unsafe {
            let data = (*self.as_ptr()).data;
            let sum = data.add(icmp_offset + 2).cast::<u16>();
            let mut acc = 0;
            for (old, new) in [(&old.saddr, saddr), (&old.daddr, daddr)] {
                if let Some(new) = new {
                    for (old, new) in addr_words(old).into_iter().zip(addr_words(new)) {
                        acc = csum_replace64(acc, old, new);
                    }
                }
            }
            let diff = csum_fold64(acc);
            bindings::inet_proto_csum_replace_by_diff(sum, self.as_ptr(), diff, false, true);
            write_ipv6_addrs(data.add(quote), saddr, daddr);
        }
        Ok(())
    }

    /// Whether the transport checksum is left for the device to finish.
    #[inline]
    pub fn checksum_partial(&self) -> bool {
        // SAFETY: `self` is a valid skb.
        unsafe { bindings::skb_ip_summed(self.as_ptr()) == bindings::CHECKSUM_PARTIAL as u8 }
    }
}

/// Where the network header is, and how much of the packet from it is
/// linear.
#[derive(Clone, Copy)]
struct Network {
    ptr: *mut u8,
    /// Its offset from `skb->data`.
    offset: usize,
    /// Bytes from it to the end of the linear area.
    linear: usize,
}

impl Network {
    #[inline]
    fn ipv6_nexthdr(&self) -> Option<u8> {
        if self.linear < IPV6_HDR_LEN {
            return None;
        }
        // SAFETY: the fixed header lies in the linear area (checked above)
        // of a packet we hold.
        Some(unsafe { *self.ptr.add(6) })
    }

    #[inline]
    fn ipv6_header(&self) -> Option<Ipv6Header> {
        if self.linear < IPV6_HDR_LEN {
            return None;
        }
        let mut h = Ipv6Header {
            offset: self.offset,
            nexthdr: 0,
            saddr: [0; 16],
            daddr: [0; 16],
        };
        // SAFETY: the 40 bytes from `ptr` are in the linear area (checked
        // above) of a packet we hold; unaligned reads of plain bytes.
        unsafe {
            h.nexthdr = *self.ptr.add(6);
            ptr::copy_nonoverlapping(self.ptr.add(SADDR_OFF), h.saddr.as_mut_ptr(), 16);
            ptr::copy_nonoverlapping(self.ptr.add(DADDR_OFF), h.daddr.as_mut_ptr(), 16);
        }
        Some(h)
    }
}

/// Writes the given addresses into the IPv6 header at `hdr`.
///
/// # Safety
///
/// The 40 bytes from `hdr` are writable by the caller.
#[inline(always)]
unsafe fn write_ipv6_addrs(hdr: *mut u8, saddr: Option<&In6Addr>, daddr: Option<&In6Addr>) {
    for (new, at) in [(saddr, SADDR_OFF), (daddr, DADDR_OFF)] {
        if let Some(new) = new {
            // SAFETY: both address fields end within the header's 40 bytes,
            // which the caller vouches for.
            unsafe { ptr::copy_nonoverlapping(new.as_ptr(), hdr.add(at), new.len()) };
        }
    }
}

/// Adds to the checksum difference `acc` what replacing the word `old`
/// with `new` makes: `old` complemented and `new`, in ones' complement, as
/// `inet_proto_csum_replace16` forms it. Over native-endian 64-bit words,
/// which gives the same ones' complement sum as 16-bit words in a fraction
/// of the additions.
#[inline(always)]
fn csum_replace64(acc: u64, old: u64, new: u64) -> u64 {
    csum_add64(csum_add64(acc, !old), new)
}

/// A 64-bit checksum difference folded to a `__wsum`.
#[inline(always)]
fn csum_fold64(acc: u64) -> bindings::__wsum {
    csum_add32(acc as u32, (acc >> 32) as u32)
}

/// An address as two native-endian 64-bit words (which half is which does
/// not matter to a sum).
#[inline(always)]
fn addr_words(a: &In6Addr) -> [u64; 2] {
    let w = u128::from_ne_bytes(*a);
    [w as u64, (w >> 64) as u64]
}

/// Ones' complement addition of 64-bit words (the carry wraps around).
#[inline(always)]
fn csum_add64(a: u64, b: u64) -> u64 {
    let (sum, carry) = a.overflowing_add(b);
    sum.wrapping_add(u64::from(carry))
}

/// Ones' complement addition of 32-bit words: the C `csum_add`.
#[inline(always)]
fn csum_add32(a: u32, b: u32) -> u32 {
    let (sum, carry) = a.overflowing_add(b);
    sum.wrapping_add(u32::from(carry))
}

/// A 32-bit sum folded to 16 bits and complemented: the C `csum_fold`.
#[inline(always)]
fn csum_fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// A socket buffer we own: freed when dropped, unless handed on.
pub struct OwnedSkb(core::ptr::NonNull<bindings::sk_buff>);

// SAFETY: an owned skb may be freed or sent from any context and CPU.
unsafe impl Send for OwnedSkb {}

impl OwnedSkb {
    /// Takes ownership of `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid skb whose one reference the caller hands over.
    pub unsafe fn from_raw(ptr: *mut bindings::sk_buff) -> Self {
        // SAFETY: per contract, `ptr` is valid and so not null.
        Self(unsafe { core::ptr::NonNull::new_unchecked(ptr) })
    }

    /// The buffer.
    pub fn skb(&mut self) -> &mut SkBuff {
        // SAFETY: we own the skb exclusively.
        unsafe { SkBuff::from_raw(self.0.as_ptr()) }
    }

    fn into_raw(self) -> *mut bindings::sk_buff {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// Sends a locally generated packet again from the start of the output
    /// path (LOCAL_OUT hooks included), on behalf of its socket, if any.
    /// The packet is consumed either way.
    pub fn ipv6_local_out(self, net: &Net) -> Result {
        let skb = self.into_raw();
        // SAFETY: `skb` is ours to hand over; its socket reference (if any)
        // is kept alive by the skb itself; `net` is live.
        to_result(unsafe { bindings::ip6_local_out(net.as_ptr(), bindings::skb_sk(skb), skb) })
    }
}

impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: we own the one reference.
        unsafe { bindings::kfree_skb(self.0.as_ptr()) };
    }
}
