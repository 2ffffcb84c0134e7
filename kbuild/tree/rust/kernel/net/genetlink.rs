// SPDX-License-Identifier: GPL-2.0

//! Generic netlink families.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h)
//!
//! A family is a `static` [`Family`], with `static` arrays of [`Policy`],
//! [`Op`] and [`McGroup`] that describe it to the core. Every operation of
//! a family goes through one dispatcher, [`FamilyOps::doit`] or
//! [`FamilyOps::dumpit`], which gets the command number.

use crate::{
    bindings,
    error::{to_result, Error},
    net::netns::Net,
    prelude::*,
    str::CStr,
    types::Opaque,
    ThisModule,
};
use core::{ffi::c_int, marker::PhantomData, mem, ptr};

/// An attribute policy: the type and length checks the core applies to an
/// attribute before any handler sees it.
#[repr(transparent)]
pub struct Policy(bindings::nla_policy);

// SAFETY: policies are immutable after construction; the only pointer they
// can hold (a nested policy) points at another `static`.
unsafe impl Sync for Policy {}

const fn policy(ty: u32, validation: u32, len: u16) -> bindings::nla_policy {
    // SAFETY: an all-zero `nla_policy` is valid (NLA_UNSPEC, no checks).
    let mut p: bindings::nla_policy = unsafe { mem::zeroed() };
    p.type_ = ty as u8;
    p.validation_type = validation as u8;
    p.len = len;
    p
}

impl Policy {
    /// No such attribute: rejected under strict validation.
    pub const fn reject() -> Self {
        Self(policy(bindings::NLA_REJECT, 0, 0))
    }
    /// An attribute number that is not used (accepted, never read).
    pub const fn unspec() -> Self {
        Self(policy(bindings::NLA_UNSPEC, 0, 0))
    }
    /// A `u8`.
    pub const fn u8() -> Self {
        Self(policy(bindings::NLA_U8, 0, 0))
    }
    /// A `u32`.
    pub const fn u32() -> Self {
        Self(policy(bindings::NLA_U32, 0, 0))
    }
    /// A `u64`.
    pub const fn u64() -> Self {
        Self(policy(bindings::NLA_U64, 0, 0))
    }
    /// A flag (no payload).
    pub const fn flag() -> Self {
        Self(policy(bindings::NLA_FLAG, 0, 0))
    }
    /// Exactly `len` bytes of binary data.
    pub const fn exact_len(len: u16) -> Self {
        let mut p = policy(
            bindings::NLA_BINARY,
            bindings::nla_policy_validation_NLA_VALIDATE_RANGE,
            0,
        );
        p.__bindgen_anon_1.__bindgen_anon_1.min = len as i16;
        p.__bindgen_anon_1.__bindgen_anon_1.max = len as i16;
        Self(p)
    }
    /// A NUL-terminated string of at most `max` bytes.
    pub const fn nul_string(max: u16) -> Self {
        Self(policy(bindings::NLA_NUL_STRING, 0, max))
    }
    /// A nest of attributes checked against `nested` (`max` its last type).
    pub const fn nested(nested: &'static [Policy]) -> Self {
        let mut p = policy(bindings::NLA_NESTED, 0, (nested.len() - 1) as u16);
        p.__bindgen_anon_1.nested_policy = nested.as_ptr().cast();
        Self(p)
    }
}

/// A command of a family.
#[repr(transparent)]
pub struct Op(bindings::genl_small_ops);

// SAFETY: immutable after construction; holds function pointers only.
unsafe impl Sync for Op {}

impl Op {
    /// A command answered by [`FamilyOps::doit`] and/or [`FamilyOps::dumpit`].
    /// `admin`: the caller needs CAP_NET_ADMIN.
    pub const fn new<T: FamilyOps>(cmd: u8, doit: bool, dump: bool, admin: bool) -> Self {
        // SAFETY: an all-zero `genl_small_ops` is valid (no handlers).
        let mut o: bindings::genl_small_ops = unsafe { mem::zeroed() };
        o.cmd = cmd;
        if doit {
            o.doit = Some(doit_trampoline::<T>);
        }
        if dump {
            o.dumpit = Some(dumpit_trampoline::<T>);
        }
        o.flags = if admin {
            bindings::GENL_ADMIN_PERM as u8
        } else {
            0
        };
        Self(o)
    }
}

/// A multicast group of a family.
#[repr(transparent)]
pub struct McGroup(bindings::genl_multicast_group);

// SAFETY: immutable after construction; plain data.
unsafe impl Sync for McGroup {}

impl McGroup {
    /// A group named `name` (at most 15 bytes).
    pub const fn new(name: &[u8]) -> Self {
        // SAFETY: an all-zero group is valid (empty name).
        let mut g: bindings::genl_multicast_group = unsafe { mem::zeroed() };
        let mut i = 0;
        while i < name.len() && i < g.name.len() - 1 {
            g.name[i] = name[i] as _;
            i += 1;
        }
        Self(g)
    }

    /// Only CAP_NET_ADMIN may listen.
    pub const fn admin_only(mut self) -> Self {
        self.0.flags |= bindings::GENL_MCAST_CAP_NET_ADMIN;
        self
    }
}

/// What a family's commands do.
pub trait FamilyOps: Sized + 'static {
    /// The family name (at most 15 bytes).
    const NAME: &'static CStr;
    /// The family version.
    const VERSION: u32;
    /// The family's registration.
    fn family() -> &'static Family<Self>;
    /// The attribute policy, indexed by attribute type (0 unused).
    fn policy() -> &'static [Policy];
    /// The commands.
    fn ops() -> &'static [Op];
    /// The multicast groups.
    fn mcgroups() -> &'static [McGroup];
    /// Handles a request (a "do").
    fn doit(cmd: u8, info: &mut Info<'_>) -> Result;
    /// Fills one part of a dump; returns whether more parts follow.
    fn dumpit(_cmd: u8, _dump: &mut Dump<'_>) -> Result<bool> {
        Err(EOPNOTSUPP)
    }
}

/// A generic netlink family; declare it as a `static`.
pub struct Family<T: FamilyOps> {
    raw: Opaque<bindings::genl_family>,
    _t: PhantomData<T>,
}

// SAFETY: the core writes `raw` only while registering and unregistering, and
// serialises that itself; afterwards it is read-only for us.
unsafe impl<T: FamilyOps> Sync for Family<T> {}

impl<T: FamilyOps> Family<T> {
    /// A family, not yet registered.
    pub const fn new() -> Self {
        Self {
            raw: Opaque::uninit(),
            _t: PhantomData,
        }
    }

    fn as_ptr(&self) -> *mut bindings::genl_family {
        self.raw.get()
    }

    /// Registers the family in every namespace (`netnsok`).
    pub fn register(&'static self, module: &'static ThisModule) -> Result<FamilyRegistration<T>> {
        let (policy, ops, groups) = (T::policy(), T::ops(), T::mcgroups());
        if policy.is_empty() || ops.len() > u8::MAX as usize || groups.len() > u8::MAX as usize {
            return Err(EINVAL);
        }
        // SAFETY: the family is registered once per module load, before any
        // callback can run, so nothing else accesses `raw`; all-zero is a
        // valid starting point, and every pointer stored refers to statics.
        unsafe {
            let f = self.as_ptr();
            f.write(mem::zeroed());
            let name = T::NAME.as_bytes();
            for (i, b) in name.iter().take((*f).name.len() - 1).enumerate() {
                (*f).name[i] = *b as _;
            }
            (*f).version = T::VERSION;
            (*f).maxattr = (policy.len() - 1) as u32;
            (*f).policy = policy.as_ptr().cast();
            (*f).set_netnsok(1);
            (*f).small_ops = ops.as_ptr().cast();
            (*f).n_small_ops = ops.len() as u8;
            (*f).mcgrps = groups.as_ptr().cast();
            (*f).n_mcgrps = groups.len() as u8;
            (*f).module = module.as_ptr();
            to_result(bindings::genl_register_family(f))?;
        }
        Ok(FamilyRegistration { family: self })
    }

    /// Whether anyone in `net` listens to multicast group `group`.
    pub fn has_listeners(&self, net: &Net, group: u32) -> bool {
        // SAFETY: the family is registered (events are sent only while the
        // registration lives); `group` is checked by the C side.
        unsafe { bindings::genl_has_listeners(self.as_ptr(), net.as_ptr(), group) != 0 }
    }

    /// A message for a multicast event; send it with [`Family::multicast`].
    /// Uses atomic allocations: callable from the packet path.
    pub fn event(&self, cmd: u8) -> Result<Message> {
        Message::new(bindings::GFP_ATOMIC, |skb| {
            // SAFETY: `skb` is fresh and ours; the family is registered.
            unsafe { bindings::genlmsg_put(skb, 0, 0, self.as_ptr(), 0, cmd) }
        })
    }

    /// Sends `msg` to group `group` in `net`.
    pub fn multicast(&self, net: &Net, group: u32, msg: Message) -> Result {
        let skb = msg.finish();
        // SAFETY: `skb` is a finished message that the call consumes, even
        // on error; the family is registered.
        let ret = unsafe {
            bindings::genlmsg_multicast_netns(
                self.as_ptr(),
                net.as_ptr(),
                skb,
                0,
                group,
                bindings::GFP_ATOMIC,
            )
        };
        // Nobody listening is not a failure for an event source.
        if ret == -(bindings::ESRCH as c_int) {
            return Ok(());
        }
        to_result(ret)
    }
}

impl<T: FamilyOps> Default for Family<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Unregisters a [`Family`] when dropped.
pub struct FamilyRegistration<T: FamilyOps> {
    family: &'static Family<T>,
}

impl<T: FamilyOps> Drop for FamilyRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `Family::register`; after this returns no
        // handler of the family runs any more.
        unsafe { bindings::genl_unregister_family(self.family.as_ptr()) };
    }
}

/// A received attribute.
#[derive(Clone, Copy)]
pub struct Attr<'a>(&'a bindings::nlattr);

impl<'a> Attr<'a> {
    /// The payload.
    pub fn bytes(&self) -> &'a [u8] {
        // SAFETY: the core validated the attribute's length against the
        // message; the payload follows the header for `nla_len` bytes.
        unsafe {
            let p = bindings::nla_data(self.0) as *const u8;
            let len = bindings::nla_len(self.0) as usize;
            core::slice::from_raw_parts(p, len)
        }
    }
    /// The payload as a `u8` (the policy guaranteed the size).
    pub fn as_u8(&self) -> u8 {
        self.bytes().first().copied().unwrap_or(0)
    }
    /// The payload as a host-order `u32` (the policy guaranteed the size).
    pub fn as_u32(&self) -> u32 {
        self.bytes()
            .get(..4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// The payload as a host-order `u64` (the policy guaranteed the size).
    pub fn as_u64(&self) -> u64 {
        let mut v = [0u8; 8];
        if let Some(b) = self.bytes().get(..8) {
            v.copy_from_slice(b);
        }
        u64::from_ne_bytes(v)
    }
    /// The payload as exactly `N` bytes, if it has that length.
    pub fn as_array<const N: usize>(&self) -> Option<[u8; N]> {
        self.bytes().try_into().ok()
    }
}

/// A request being handled.
pub struct Info<'a> {
    raw: &'a mut bindings::genl_info,
    maxattr: u32,
}

impl<'a> Info<'a> {
    /// The namespace the request came from.
    pub fn net(&self) -> &'a Net {
        // SAFETY: the requesting socket's namespace outlives the request.
        unsafe { Net::from_raw(bindings::genl_info_net(self.raw)) }
    }

    /// Attribute `ty`, if the request carries it.
    pub fn attr(&self, ty: u16) -> Option<Attr<'a>> {
        if u32::from(ty) > self.maxattr || self.raw.attrs.is_null() {
            return None;
        }
        // SAFETY: `attrs` has `maxattr + 1` entries, filled by the core.
        unsafe { (*self.raw.attrs.add(ty as usize)).as_ref().map(Attr) }
    }

    /// Attribute `ty`, or `EINVAL` with an extack message naming it.
    pub fn require(&mut self, ty: u16, msg: &'static CStr) -> Result<Attr<'a>> {
        match self.attr(ty) {
            Some(a) => Ok(a),
            None => Err(self.fail(EINVAL, msg)),
        }
    }

    /// Sets the extack message that goes back with the error; returns `err`.
    pub fn fail(&mut self, err: Error, msg: &'static CStr) -> Error {
        // SAFETY: `extack` is null or valid for the request; the message is
        // static, as the C side requires (it stores the pointer).
        unsafe {
            if let Some(ext) = self.raw.extack.as_mut() {
                ext._msg = msg.as_char_ptr();
            }
        }
        err
    }

    /// A reply to this request.
    pub fn reply(&mut self, cmd: u8) -> Result<Message> {
        let family = self.raw.family;
        let info: *mut bindings::genl_info = self.raw;
        Message::new(bindings::GFP_KERNEL, |skb| {
            // SAFETY: `skb` is fresh and ours; `info` and its family are
            // valid during the request.
            unsafe {
                bindings::genlmsg_put(skb, (*info).snd_portid, (*info).snd_seq, family, 0, cmd)
            }
        })
    }

    /// Sends `msg` back to the requester.
    pub fn send(&mut self, msg: Message) -> Result {
        let skb = msg.finish();
        // SAFETY: `skb` is a finished message, consumed by the call.
        to_result(unsafe { bindings::genlmsg_reply(skb, self.raw) })
    }
}

/// A message being built; freed if dropped unsent.
pub struct Message {
    skb: *mut bindings::sk_buff,
    hdr: *mut core::ffi::c_void,
}

// SAFETY: the message is exclusively owned; the skb may be sent or freed from
// any context.
unsafe impl Send for Message {}

impl Message {
    fn new(
        gfp: bindings::gfp_t,
        put: impl FnOnce(*mut bindings::sk_buff) -> *mut core::ffi::c_void,
    ) -> Result<Self> {
        // SAFETY: allocating a netlink skb has no preconditions.
        let skb = unsafe { bindings::genlmsg_new(bindings::NLMSG_GOODSIZE, gfp) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        let hdr = put(skb);
        if hdr.is_null() {
            // SAFETY: the skb is ours and unsent.
            unsafe { bindings::nlmsg_free(skb) };
            return Err(EMSGSIZE);
        }
        Ok(Self { skb, hdr })
    }

    fn finish(self) -> *mut bindings::sk_buff {
        let skb = self.skb;
        // SAFETY: `hdr` is the header `genlmsg_put` returned for this skb.
        unsafe { bindings::genlmsg_end(skb, self.hdr) };
        mem::forget(self);
        skb
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: an unsent message still owns its skb.
        unsafe { bindings::nlmsg_free(self.skb) };
    }
}

/// An open nest.
pub struct Nest(*mut bindings::nlattr);

mod sealed {
    /// The message under construction; not nameable outside this module,
    /// so only this module's types can implement [`super::PutAttrs`].
    pub trait Skb {
        fn skb(&self) -> *mut crate::bindings::sk_buff;
    }
}

/// Appending attributes to a message being built ([`Message`] and
/// [`DumpEntry`]). Every method fails with `EMSGSIZE` when the message is
/// full.
pub trait PutAttrs: sealed::Skb {
    /// Appends attribute `ty` with payload `data`.
    fn put(&mut self, ty: u16, data: &[u8]) -> Result {
        let len = c_int::try_from(data.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: `skb()` is a message we are building; `data` is valid for
        // `len` bytes.
        to_result(unsafe { bindings::nla_put(self.skb(), ty as c_int, len, data.as_ptr().cast()) })
    }
    /// Appends a `u8`.
    fn put_u8(&mut self, ty: u16, v: u8) -> Result {
        self.put(ty, &[v])
    }
    /// Appends a host-order `u32`.
    fn put_u32(&mut self, ty: u16, v: u32) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }
    /// Appends a host-order `u64`, padded with attribute `pad` for alignment.
    fn put_u64(&mut self, ty: u16, v: u64, pad: u16) -> Result {
        let b = v.to_ne_bytes();
        // SAFETY: as in `put`; 8 bytes of payload.
        to_result(unsafe {
            bindings::nla_put_64bit(self.skb(), ty as c_int, 8, b.as_ptr().cast(), pad as c_int)
        })
    }
    /// Opens a nest; attributes put until [`PutAttrs::nest_end`] go inside.
    fn nest_start(&mut self, ty: u16) -> Result<Nest> {
        // SAFETY: `skb()` is a message we are building.
        let n = unsafe { bindings::nla_nest_start(self.skb(), ty as c_int) };
        if n.is_null() {
            Err(EMSGSIZE)
        } else {
            Ok(Nest(n))
        }
    }
    /// Closes a nest.
    fn nest_end(&mut self, nest: Nest) {
        // SAFETY: `nest` was opened on this message (a `Nest` comes only
        // from `nest_start`) and nothing was cancelled since.
        unsafe { bindings::nla_nest_end(self.skb(), nest.0) };
    }
}

impl sealed::Skb for Message {
    fn skb(&self) -> *mut bindings::sk_buff {
        self.skb
    }
}

impl PutAttrs for Message {}

/// One part of a dump being filled.
pub struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: &'a mut bindings::netlink_callback,
    family: *const bindings::genl_family,
}

impl<'a> Dump<'a> {
    /// The namespace the dump was asked from.
    pub fn net(&self) -> &'a Net {
        // SAFETY: the requesting socket, and so its namespace, outlives the
        // dump.
        unsafe { Net::from_raw(bindings::netlink_cb_net(self.cb)) }
    }

    /// Where the previous part stopped (zero at the start).
    pub fn cursor(&self) -> u64 {
        // SAFETY: `args` has six entries, ours for the dump's duration.
        unsafe { *bindings::netlink_cb_args(ptr::from_ref(&*self.cb).cast_mut()) as u64 }
    }

    /// Records where the next part starts.
    pub fn set_cursor(&mut self, c: u64) {
        // SAFETY: as in `cursor`.
        unsafe { *bindings::netlink_cb_args(self.cb) = c as _ };
    }

    /// Adds one message to this part; `fill` puts its attributes. Returns
    /// `Ok(false)` if it did not fit (the part is full: stop and return
    /// "more").
    pub fn entry(
        &mut self,
        cmd: u8,
        fill: impl FnOnce(&mut DumpEntry<'_>) -> Result,
    ) -> Result<bool> {
        // SAFETY: `cb` and its request skb are valid during the dump.
        let (portid, seq) = unsafe {
            (
                bindings::netlink_cb_portid(self.cb),
                bindings::netlink_cb_seq(self.cb),
            )
        };
        // SAFETY: `skb` is the dump's output buffer; the family is ours.
        let hdr = unsafe {
            bindings::genlmsg_put(
                self.skb,
                portid,
                seq,
                self.family,
                bindings::NLM_F_MULTI as c_int,
                cmd,
            )
        };
        if hdr.is_null() {
            return Ok(false);
        }
        let mut e = DumpEntry {
            skb: self.skb,
            _p: PhantomData,
        };
        match fill(&mut e) {
            Ok(()) => {
                // SAFETY: `hdr` was returned by `genlmsg_put` on this skb.
                unsafe { bindings::genlmsg_end(self.skb, hdr) };
                Ok(true)
            }
            Err(err) => {
                // SAFETY: as above; takes the partial message off again.
                unsafe { bindings::genlmsg_cancel(self.skb, hdr) };
                if err == EMSGSIZE {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }
}

/// One message of a dump being filled.
pub struct DumpEntry<'a> {
    skb: *mut bindings::sk_buff,
    _p: PhantomData<&'a ()>,
}

impl sealed::Skb for DumpEntry<'_> {
    fn skb(&self) -> *mut bindings::sk_buff {
        self.skb
    }
}

impl PutAttrs for DumpEntry<'_> {}

/// # Safety
///
/// Called by the core, as a `genl_ops::doit`, with a request and its info
/// valid for the call.
unsafe extern "C" fn doit_trampoline<T: FamilyOps>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: the core passes a valid request for the duration of the call.
    let raw = unsafe { &mut *info };
    // SAFETY: `genlhdr` is set for every request that reaches an op.
    let cmd = unsafe { (*raw.genlhdr).cmd };
    let maxattr = (T::policy().len() - 1) as u32;
    let mut info = Info { raw, maxattr };
    match T::doit(cmd, &mut info) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the core, as a `genl_ops::dumpit`, with a reply buffer and a
/// dump callback valid for the call.
unsafe extern "C" fn dumpit_trampoline<T: FamilyOps>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: the core passes a valid output skb and callback state.
    let cb = unsafe { &mut *cb };
    // SAFETY: a genetlink dump's request starts with the genetlink header.
    let cmd = unsafe { bindings::netlink_cb_genl_cmd(cb) };
    let mut dump = Dump {
        skb,
        cb,
        family: T::family().as_ptr(),
    };
    match T::dumpit(cmd, &mut dump) {
        // SAFETY: `skb` is valid; a non-zero length asks for another part.
        Ok(true) => unsafe { (*skb).len as c_int },
        Ok(false) => 0,
        Err(e) => e.to_errno(),
    }
}
