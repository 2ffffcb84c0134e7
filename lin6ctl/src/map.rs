//! `lin6ctl map add|del|show|flush`.

use std::net::Ipv6Addr;

use lin6::addr::{NodeId, Prefix64};
use lin6::netlink::{Client, Lifetime, MapNew, Mapping};
use serde::Serialize;

use crate::cli::MapCmd;
use crate::output::{CtlError, Out};

/// One mapping in `map show -j`: the kernel's fields plus the locator.
#[derive(Serialize)]
struct MappingView {
    node_id: NodeId,
    prefix: Prefix64,
    locator: Ipv6Addr,
    lifetime: u32,
    #[serde(rename = "static")]
    is_static: bool,
    pool: bool,
}

impl From<&Mapping> for MappingView {
    fn from(m: &Mapping) -> Self {
        MappingView {
            node_id: m.node_id,
            prefix: m.prefix,
            locator: m.locator(),
            lifetime: m.lifetime,
            is_static: m.is_static,
            pool: m.pool,
        }
    }
}

/// The human line for one mapping.
pub fn line(m: &Mapping) -> String {
    let life = if m.is_static {
        "static".to_string()
    } else {
        format!("lifetime {}", m.lifetime)
    };
    format!(
        "{} prefix {} locator {} {life}{}",
        m.node_id,
        m.prefix,
        m.locator(),
        if m.pool { " pool" } else { "" }
    )
}

pub fn show(maps: &[Mapping], out: &Out) -> std::io::Result<()> {
    if out.json {
        let v: Vec<MappingView> = maps.iter().map(MappingView::from).collect();
        return out.json(&v);
    }
    for m in maps {
        out.line(&line(m))?;
    }
    Ok(())
}

pub fn run(cmd: MapCmd, out: &Out) -> Result<(), CtlError> {
    let mut c = Client::connect()?;
    match cmd {
        MapCmd::Add(a) => c.map_new(&MapNew {
            node_id: a.node_id,
            prefix: a.prefix,
            lifetime: a.lifetime.map_or(Lifetime::Static, Lifetime::Seconds),
            pool: a.pool,
        })?,
        MapCmd::Del { node_id } => c.map_del(node_id)?,
        MapCmd::Show { node_id: Some(n) } => show(&[c.map_get(n)?], out)?,
        MapCmd::Show { node_id: None } => show(&c.map_dump()?, out)?,
        MapCmd::Flush => c.map_flush()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(is_static: bool, pool: bool) -> Mapping {
        Mapping {
            node_id: "02:01:4a:00:00:00:00:63".parse().unwrap(),
            prefix: "2001:db8:c::/64".parse().unwrap(),
            lifetime: if is_static { 0 } else { 40 },
            is_static,
            pool,
        }
    }

    #[test]
    fn a_pool_mapping_says_so_in_both_forms() {
        assert_eq!(
            line(&mapping(false, true)),
            "02:01:4a:00:00:00:00:63 prefix 2001:db8:c::/64 locator 2001:db8:c:0:201:4a00:0:63 lifetime 40 pool"
        );
        assert_eq!(
            line(&mapping(true, false)),
            "02:01:4a:00:00:00:00:63 prefix 2001:db8:c::/64 locator 2001:db8:c:0:201:4a00:0:63 static"
        );
        let v = serde_json::to_value(MappingView::from(&mapping(true, true))).unwrap();
        assert_eq!(v["pool"], true);
        assert_eq!(v["static"], true);
    }
}
