//! Fuzzes the address text parsers (Node ID, /64 prefix, OUI): they must
//! never panic, and whatever they accept must print to a form that parses
//! back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lin6::addr::{NodeId, Oui, Prefix64};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = s.parse::<NodeId>() {
        assert_eq!(n.to_string().parse::<NodeId>().unwrap(), n);
        assert_eq!(n.iid().to_string().parse::<NodeId>().unwrap(), n);
    }
    if let Ok(p) = s.parse::<Prefix64>() {
        assert_eq!(p.to_string().parse::<Prefix64>().unwrap(), p);
    }
    if let Ok(o) = s.parse::<Oui>() {
        assert_eq!(o.to_string().parse::<Oui>().unwrap(), o);
    }
});
