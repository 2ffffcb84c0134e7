//! Fuzzes the lin6 TXT record parser (DNS discovery): it must never panic,
//! and whatever it accepts must survive a trip through the generator's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lin6::discovery::Lin6Txt;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(rec) = Lin6Txt::parse(text)
    {
        assert_eq!(Lin6Txt::parse(&rec.to_text()), Ok(rec));
    }
    // The multi-string path: split the input into character-strings.
    let strings: Vec<&[u8]> = data.chunks(7).collect();
    let _ = Lin6Txt::select([strings]);
});
