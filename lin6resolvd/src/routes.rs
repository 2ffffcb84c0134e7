//! Addresses and routes through rtnetlink (the rust-netlink crates), as the
//! paper's port did through the routing socket: what qemu-tests/lib.sh
//! `lin6_node` does by hand with `ip`, done in code and again after each move.
//!
//! * the LIN6 address with the LIN6 prefix length on lin6.ko's `linsix0`
//!   (no DAD), which goes up: the kernel's prefix route then sends every
//!   LIN6 destination through linsix0 with the LIN6 address as source, and
//!   lin6.ko re-routes the translated packets out of a real interface
//!   (docs/kernel.md, "linsix0"). A reloaded module makes a fresh linsix0,
//!   so this is checked again periodically;
//! * on a kernel without linsix0 (`routes.lin6_address_dev: lo`), the old
//!   way: a /128 on `lo` and the LIN6 prefix routed through the current
//!   default gateway with the LIN6 address as preferred source;
//! * the node's locator: the global address whose interface identifier is
//!   the Node ID, on the configured interfaces.

use std::net::{IpAddr, Ipv6Addr};

use futures_util::TryStreamExt;
use lin6::addr::{NodeId, Prefix64};
use rtnetlink::packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressScope};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use tracing::info;

/// The main routing table's ID (RT_TABLE_MAIN).
const MAIN_TABLE: u32 = 254;

pub struct Routes {
    handle: Handle,
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for Routes {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Routes {
    /// Opens an rtnetlink socket in the current network namespace.
    pub fn connect() -> Result<Routes, String> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| err("rtnetlink socket", e))?;
        Ok(Routes {
            handle,
            conn: tokio::spawn(conn),
        })
    }

    async fn link_index(&self, name: &str) -> Result<u32, String> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(l.header.index),
            Ok(None) => Err(format!("no interface {name}")),
            Err(e) => Err(err(&format!("interface {name}"), e)),
        }
    }

    async fn link_name(&self, index: u32) -> Result<Option<String>, String> {
        let mut links = self.handle.link().get().match_index(index).execute();
        let l = links.try_next().await.map_err(|e| err("link", e))?;
        Ok(l.and_then(|l| {
            l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n),
                _ => None,
            })
        }))
    }

    /// The global IPv6 address with `node` as interface identifier, on one
    /// of `interfaces` (any interface if empty): this node's locator.
    pub async fn find_locator(
        &self,
        node: NodeId,
        lin6_prefix: Prefix64,
        interfaces: &[String],
    ) -> Result<Option<Ipv6Addr>, String> {
        let mut addrs = self.handle.address().get().execute();
        while let Some(a) = addrs.try_next().await.map_err(|e| err("addresses", e))? {
            if a.header.scope != AddressScope::Universe {
                continue;
            }
            let found = a.attributes.iter().find_map(|attr| match attr {
                AddressAttribute::Address(IpAddr::V6(v6)) => Some(*v6),
                _ => None,
            });
            let Some(v6) = found else { continue };
            let (prefix, iid) = lin6::addr::split(v6);
            if iid != node || prefix == lin6_prefix {
                continue;
            }
            if !interfaces.is_empty() {
                match self.link_name(a.header.index).await? {
                    Some(n) if interfaces.contains(&n) => {}
                    _ => continue,
                }
            }
            return Ok(Some(v6));
        }
        Ok(None)
    }

    /// Puts `addr`/`prefix_len` on `dev` without DAD (replacing an existing
    /// one) and sets `dev` up.
    pub async fn ensure_address(
        &self,
        dev: &str,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), String> {
        let index = self.link_index(dev).await?;
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| err(&format!("set {dev} up"), e))?;
        let mut req = self
            .handle
            .address()
            .add(index, addr.into(), prefix_len)
            .replace();
        req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
        req.execute()
            .await
            .map_err(|e| err(&format!("add {addr}/{prefix_len} on {dev}"), e))
    }

    /// Whether `dev` exists, is up and holds `addr`.
    pub async fn has_address(&self, dev: &str, addr: Ipv6Addr) -> Result<bool, String> {
        let index = match self.link_index(dev).await {
            Ok(i) => i,
            Err(_) => return Ok(false),
        };
        let mut links = self.handle.link().get().match_index(index).execute();
        let up = match links.try_next().await.map_err(|e| err("link", e))? {
            Some(l) => l.header.flags.contains(LinkFlags::Up),
            None => return Ok(false),
        };
        if !up {
            return Ok(false);
        }
        let mut addrs = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        while let Some(a) = addrs.try_next().await.map_err(|e| err("addresses", e))? {
            if a.attributes
                .contains(&AddressAttribute::Address(IpAddr::V6(addr)))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The main table's IPv6 default route: gateway and output interface.
    pub async fn default_gateway(&self) -> Result<Option<(Ipv6Addr, u32)>, String> {
        let req = RouteMessageBuilder::<Ipv6Addr>::new().build();
        let routes: Vec<RouteMessage> = self
            .handle
            .route()
            .get(req)
            .execute()
            .try_collect()
            .await
            .map_err(|e| err("routes", e))?;
        Ok(pick_default(&routes))
    }

    /// Routes `lin6_prefix`/64 via the default gateway with `src` as the
    /// preferred source (replacing the previous route, e.g. after a move).
    pub async fn ensure_lin6_route(
        &self,
        lin6_prefix: Prefix64,
        src: Ipv6Addr,
    ) -> Result<bool, String> {
        let Some((gw, oif)) = self.default_gateway().await? else {
            return Ok(false);
        };
        let msg = RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(lin6_prefix.network(), 64)
            .gateway(gw)
            .output_interface(oif)
            .pref_source(src)
            .build();
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| err(&format!("route {lin6_prefix} via {gw}"), e))?;
        info!(%lin6_prefix, %gw, oif, %src, "LIN6 prefix route set");
        Ok(true)
    }
}

/// The default route of the main table with the lowest metric.
pub fn pick_default(routes: &[RouteMessage]) -> Option<(Ipv6Addr, u32)> {
    routes
        .iter()
        .filter(|r| r.header.destination_prefix_length == 0 && r.header.kind == RouteType::Unicast)
        .filter_map(|r| {
            let (mut gw, mut oif, mut table, mut prio) = (None, None, u32::from(r.header.table), 0);
            for a in &r.attributes {
                match a {
                    RouteAttribute::Gateway(RouteAddress::Inet6(g)) => gw = Some(*g),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    RouteAttribute::Table(t) => table = *t,
                    RouteAttribute::Priority(p) => prio = *p,
                    _ => {}
                }
            }
            (table == MAIN_TABLE).then_some((prio, gw?, oif?))
        })
        .min_by_key(|(prio, _, _)| *prio)
        .map(|(_, gw, oif)| (gw, oif))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst_len: u8, gw: Option<&str>, oif: u32, table: u32, prio: u32) -> RouteMessage {
        let mut b = RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix("::".parse().unwrap(), dst_len)
            .output_interface(oif)
            .table_id(table)
            .priority(prio);
        if let Some(g) = gw {
            b = b.gateway(g.parse().unwrap());
        }
        b.build()
    }

    #[test]
    fn default_route_of_main_table_with_lowest_metric_wins() {
        let routes = [
            route(64, Some("fe80::9"), 1, MAIN_TABLE, 1),
            route(0, Some("fe80::1"), 2, MAIN_TABLE, 1024),
            route(0, Some("fe80::2"), 3, MAIN_TABLE, 100),
            route(0, Some("fe80::3"), 4, 100, 1),
            route(0, None, 5, MAIN_TABLE, 1),
        ];
        assert_eq!(pick_default(&routes), Some(("fe80::2".parse().unwrap(), 3)));
        assert_eq!(pick_default(&routes[..1]), None);
    }
}
