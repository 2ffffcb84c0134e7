//! Fuzzes the Mapping Update Reply decoder (plain 8 bytes or signed 44):
//! it must never panic, and whatever it accepts must re-encode to exactly
//! the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lin6::wire::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MaybeAuthenticated::<UpdateReply>::decode(data) {
        let mut v = Vec::new();
        m.encode(&mut v);
        assert_eq!(v, data);
    }
});
