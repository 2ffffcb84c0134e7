//! Fuzzes the MA Reply decoder: it must never panic, and whatever it accepts
//! must re-encode to exactly the input (the HMAC check depends on that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lin6::wire::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = <MaReply>::decode(data) {
        assert_eq!(m.to_vec(), data);
    }
});
