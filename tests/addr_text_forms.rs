//! Property tests for address text forms and the prefix/Node ID split.

use std::net::Ipv6Addr;

use lin6::addr::{
    Lin6Params, Locator, NodeId, NodeKind, Oui, Prefix64, is_lin6_address, join, split,
};
use proptest::prelude::*;

/// Makes an interface-ID string valid as the tail of an address whose first
/// four groups are written out, so std's parser can check our syntax.
fn as_full_address(iid: &str) -> String {
    if iid.starts_with("::") {
        format!("1:2:3:4{iid}")
    } else {
        format!("1:2:3:4:{iid}")
    }
}

proptest! {
    #[test]
    fn node_id_eui64_form_round_trips(v in any::<u64>()) {
        let n = NodeId::from_u64(v);
        prop_assert_eq!(n.to_string().parse::<NodeId>().unwrap(), n);
        prop_assert_eq!(n.to_string().replace(':', "-").parse::<NodeId>().unwrap(), n);
        prop_assert_eq!(n.to_string().to_uppercase().parse::<NodeId>().unwrap(), n);
    }

    #[test]
    fn node_id_iid_form_round_trips(v in any::<u64>()) {
        let n = NodeId::from_u64(v);
        let s = n.iid().to_string();
        prop_assert_eq!(s.parse::<NodeId>().unwrap(), n);
    }

    #[test]
    fn node_id_iid_form_is_what_std_would_accept_and_means_the_same(v in any::<u64>()) {
        let s = NodeId::from_u64(v).iid().to_string();
        let a: Ipv6Addr = as_full_address(&s).parse().unwrap();
        prop_assert_eq!(a.to_bits() as u64, v);
    }

    #[test]
    fn node_id_uncompressed_iid_groups_parse(v in any::<u64>()) {
        let s = format!(
            "{:04x}:{:04x}:{:04x}:{:04x}",
            v >> 48, (v >> 32) & 0xffff, (v >> 16) & 0xffff, v & 0xffff
        );
        prop_assert_eq!(s.parse::<NodeId>().unwrap(), NodeId::from_u64(v));
    }

    #[test]
    fn node_id_parse_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<NodeId>();
        let _ = s.parse::<Prefix64>();
        let _ = s.parse::<Oui>();
    }

    #[test]
    fn node_id_parse_of_hex_colon_soup_agrees_with_std_when_it_succeeds(
        s in "[0-9a-fA-F:]{0,24}",
    ) {
        // Whatever we accept as an interface ID, std accepts as the low half
        // of an address with the same value.
        if let Ok(n) = s.parse::<NodeId>()
            && s.split(':').count() != 8
        {
            let a: Result<Ipv6Addr, _> = as_full_address(&s).parse();
            prop_assert_eq!(a.map(|a| a.to_bits() as u64), Ok(n.to_u64()), "{}", s);
        }
    }

    #[test]
    fn split_inverts_join(p in any::<u64>(), n in any::<u64>()) {
        let (p, n) = (Prefix64::from_u64(p), NodeId::from_u64(n));
        prop_assert_eq!(split(join(p, n)), (p, n));
        let loc = Locator::new(p, n);
        prop_assert_eq!(Locator::from(loc.addr()), loc);
        prop_assert_eq!(loc.to_string().parse::<Locator>().unwrap(), loc);
    }

    #[test]
    fn prefix_text_round_trips(p in any::<u64>()) {
        let p = Prefix64::from_u64(p);
        prop_assert_eq!(p.to_string().parse::<Prefix64>().unwrap(), p);
        prop_assert!(p.to_string().ends_with("/64"));
    }

    #[test]
    fn lin6_address_is_recognised_only_under_its_prefix(p in any::<u64>(), n in any::<u64>()) {
        let params = Lin6Params::default();
        let n = NodeId::from_u64(n);
        let a = params.lin6_address(n);
        prop_assert!(is_lin6_address(a, &params));
        prop_assert_eq!(params.node_of(a), Some(n));
        let other = join(Prefix64::from_u64(p), n);
        prop_assert_eq!(is_lin6_address(other, &params), p == Prefix64::DEFAULT_LIN6.to_u64());
    }

    #[test]
    fn kind_is_mobile_exactly_for_the_inverted_oui(ext in 0u64..(1 << 40), top in any::<[u8; 3]>()) {
        let oui = Oui::LIN6;
        let n = NodeId::from_parts(top, ext).unwrap();
        let want = if top == [0x02, 0x01, 0x4a] {
            NodeKind::Mobile
        } else if top == [0x00, 0x01, 0x4a] {
            NodeKind::Stationary
        } else {
            NodeKind::Other
        };
        prop_assert_eq!(n.kind(oui), want);
        prop_assert_eq!(NodeId::mobile(oui, ext).unwrap().kind(oui), NodeKind::Mobile);
        prop_assert_eq!(NodeId::stationary(oui, ext).unwrap().kind(oui), NodeKind::Stationary);
    }

    #[test]
    fn serde_json_round_trips_node_and_params(n in any::<u64>(), p in any::<u64>(), oui in any::<[u8; 3]>()) {
        let n = NodeId::from_u64(n);
        let j = serde_json::to_string(&n).unwrap();
        prop_assert_eq!(serde_json::from_str::<NodeId>(&j).unwrap(), n);
        if let Ok(oui) = Oui::new(oui) {
            let params = Lin6Params { prefix: Prefix64::from_u64(p), oui };
            let j = serde_json::to_string(&params).unwrap();
            prop_assert_eq!(serde_json::from_str::<Lin6Params>(&j).unwrap(), params);
        }
    }
}
