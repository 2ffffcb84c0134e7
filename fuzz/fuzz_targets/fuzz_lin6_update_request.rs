//! Fuzzes the Mapping Update Request decoders, bare and with the
//! authentication trailer: they must never panic, whatever they accept must
//! re-encode to exactly the input, and no input may verify under a key the
//! fuzzer does not know.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lin6::auth::Key;
use lin6::wire::*;

static KEY: LazyLock<Key> =
    LazyLock::new(|| Key::new(1, *b"fuzzing-key-that-is-long-enough!").unwrap());

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = UpdateRequest::decode(data) {
        assert_eq!(m.to_vec(), data);
    }
    if let Ok(a) = Authenticated::<UpdateRequest>::decode(data) {
        assert_eq!(a.to_vec(), data);
        assert!(!a.verify(&KEY), "forged tag verified");
    }
});
