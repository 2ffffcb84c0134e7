//! LS AnstblUpdate decoder: arbitrary bytes must decode or fail, never panic, and
//! whatever decodes must survive an encode/decode round trip unchanged.
//! The same bytes are also fed to the whole-datagram path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lin6::ls::{AnstblUpdate, BodyCodec, Frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = AnstblUpdate::decode_body(data) {
        let mut again = Vec::new();
        m.encode_body(&mut again);
        assert_eq!(again.len(), m.body_len());
        assert_eq!(AnstblUpdate::decode_body(&again).as_ref(), Ok(&m));
    }
    if let Ok(f) = Frame::parse(data) {
        let _ = f.body();
    }
});
