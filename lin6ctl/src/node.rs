//! `lin6ctl node show|set`.

use std::net::Ipv6Addr;

use lin6::addr::{NodeId, Prefix64};
use lin6::netlink::{Client, Node, NodeSet};
use serde::Serialize;

use crate::cli::NodeCmd;
use crate::output::{CtlError, Out};

/// `node show -j`: the kernel's node plus the LIN6 address derived from it.
#[derive(Serialize)]
struct NodeView {
    node_id: Option<NodeId>,
    lin6_prefix: Option<Prefix64>,
    lin6_address: Option<Ipv6Addr>,
    locator: Option<Ipv6Addr>,
    count: u32,
    capacity: u32,
}

fn or_none<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

pub fn show(n: &Node, out: &Out) -> std::io::Result<()> {
    if out.json {
        return out.json(&NodeView {
            node_id: n.node_id,
            lin6_prefix: n.lin6_prefix,
            lin6_address: n.lin6_address(),
            locator: n.locator,
            count: n.count,
            capacity: n.capacity,
        });
    }
    out.line(&format!("node-id {}", or_none(n.node_id)))?;
    out.line(&format!("lin6-prefix {}", or_none(n.lin6_prefix)))?;
    out.line(&format!("lin6-address {}", or_none(n.lin6_address())))?;
    out.line(&format!("locator {}", or_none(n.locator)))?;
    out.line(&format!("mappings {} capacity {}", n.count, n.capacity))
}

pub fn run(cmd: NodeCmd, out: &Out) -> Result<(), CtlError> {
    let mut c = Client::connect()?;
    match cmd {
        NodeCmd::Show => show(&c.node_get()?, out)?,
        NodeCmd::Set(a) => c.node_set(&NodeSet {
            node_id: a.node_id,
            lin6_prefix: a.lin6_prefix,
            locator: a.locator,
        })?,
    }
    Ok(())
}
