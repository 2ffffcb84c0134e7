//! routes.rs against the real kernel, in a network namespace of its own
//! (needs root, as CI has; without it the test says SKIPPED loudly).
//!
//! Builds what qemu-tests/lib.sh `lin6_node` starts from (an interface with
//! the locator and a default route), then checks that `Routes` finds the
//! locator, puts the LIN6 address on lo and routes the LIN6 prefix through
//! the gateway with the LIN6 address as source, as `ip` would have.

use std::net::Ipv6Addr;

use futures_util::TryStreamExt;
use lin6::addr::{Lin6Params, NodeId, Prefix64};
use lin6resolvd::routes::Routes;
use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{LinkUnspec, LinkVeth, RouteMessageBuilder};

#[test]
fn routes_set_lin6_address_and_prefix_route_like_lin6_node_does() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n*** SKIPPED routes test: needs root for a network namespace (CI runs as root) ***\n"
        );
        return;
    }
    // unshare() moves only the calling thread into the new namespace: run
    // everything, runtime included, on a thread of our own.
    std::thread::spawn(|| {
        // SAFETY: CLONE_NEWNET on this thread alone; nothing else shares it.
        assert_eq!(
            unsafe { libc::unshare(libc::CLONE_NEWNET) },
            0,
            "unshare(CLONE_NEWNET)"
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(check());
    })
    .join()
    .unwrap();
}

async fn check() {
    let node: NodeId = "02:01:4a:00:00:00:00:01".parse().unwrap();
    let params = Lin6Params::default();
    let lin6_addr = params.lin6_address(node);
    let site: Prefix64 = "2001:db8:a::/64".parse().unwrap();
    let locator = site.with_node(node);
    let gw: Ipv6Addr = "2001:db8:a::1".parse().unwrap();

    let (conn, h, _) = rtnetlink::new_connection().unwrap();
    tokio::spawn(conn);
    // lo up, an eth0 (veth) up with the locator, a default route.
    let lo = h
        .link()
        .get()
        .match_name("lo")
        .execute()
        .try_next()
        .await
        .unwrap()
        .unwrap();
    h.link()
        .set(LinkUnspec::new_with_index(lo.header.index).up().build())
        .execute()
        .await
        .unwrap();
    // A veth pair (the host kernel may lack the dummy driver); both ends
    // up so that eth0 has a carrier, as a real uplink would.
    h.link()
        .add(LinkVeth::new("eth0", "peer0").up().build())
        .execute()
        .await
        .unwrap();
    let peer = h
        .link()
        .get()
        .match_name("peer0")
        .execute()
        .try_next()
        .await
        .unwrap()
        .unwrap();
    h.link()
        .set(LinkUnspec::new_with_index(peer.header.index).up().build())
        .execute()
        .await
        .unwrap();
    let eth0 = h
        .link()
        .get()
        .match_name("eth0")
        .execute()
        .try_next()
        .await
        .unwrap()
        .unwrap();
    let mut add = h.address().add(eth0.header.index, locator.into(), 64);
    add.message_mut().header.flags |= AddressHeaderFlags::Nodad;
    add.execute().await.unwrap();
    h.route()
        .add(
            RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(eth0.header.index)
                .build(),
        )
        .execute()
        .await
        .unwrap();

    let r = Routes::connect().unwrap();
    assert_eq!(
        r.find_locator(node, params.prefix, &[]).await.unwrap(),
        Some(locator)
    );
    assert_eq!(
        r.find_locator(node, params.prefix, &["eth9".into()])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        r.default_gateway().await.unwrap(),
        Some((gw, eth0.header.index))
    );
    r.ensure_address("lo", lin6_addr, 128).await.unwrap();
    r.ensure_address("lo", lin6_addr, 128).await.unwrap(); // idempotent
    assert!(r.has_address("lo", lin6_addr).await.unwrap());
    assert!(!r.has_address("eth0", lin6_addr).await.unwrap());
    assert!(!r.has_address("linsix0", lin6_addr).await.unwrap());
    assert!(r.ensure_lin6_route(params.prefix, lin6_addr).await.unwrap());
    assert!(
        r.ensure_lin6_route(params.prefix, lin6_addr).await.unwrap(),
        "replace, not fail"
    );

    // The LIN6 address is on lo as a /128.
    let addrs: Vec<_> = h
        .address()
        .get()
        .set_link_index_filter(lo.header.index)
        .execute()
        .try_collect()
        .await
        .unwrap();
    assert!(addrs.iter().any(|a| {
        a.header.prefix_len == 128
            && a.attributes
                .contains(&AddressAttribute::Address(lin6_addr.into()))
    }));
    // The LIN6 prefix goes via the gateway with the LIN6 address as source.
    let routes: Vec<_> = h
        .route()
        .get(RouteMessageBuilder::<Ipv6Addr>::new().build())
        .execute()
        .try_collect()
        .await
        .unwrap();
    let lin6_routes: Vec<_> = routes
        .iter()
        .filter(|m| {
            m.header.destination_prefix_length == 64
                && m.attributes
                    .contains(&RouteAttribute::Destination(RouteAddress::Inet6(
                        params.prefix.network(),
                    )))
        })
        .collect();
    assert_eq!(lin6_routes.len(), 1, "one LIN6 prefix route");
    let a = &lin6_routes[0].attributes;
    assert!(a.contains(&RouteAttribute::Gateway(RouteAddress::Inet6(gw))));
    assert!(a.contains(&RouteAttribute::PrefSource(RouteAddress::Inet6(lin6_addr))));
    assert!(a.contains(&RouteAttribute::Oif(eth0.header.index)));
}
