//! `lin6ctl addr lin6|locator|kind`: address arithmetic on src/addr.rs,
//! no kernel involved.

use std::net::Ipv6Addr;

use lin6::addr::{Lin6Params, NodeId, NodeKind, Oui, Prefix64};
use serde::Serialize;

use crate::cli::AddrCmd;
use crate::output::{CtlError, Out};

#[derive(Serialize)]
struct Lin6View {
    node_id: NodeId,
    lin6_prefix: Prefix64,
    lin6_address: Ipv6Addr,
}

#[derive(Serialize)]
struct LocatorView {
    node_id: NodeId,
    prefix: Prefix64,
    locator: Ipv6Addr,
}

#[derive(Serialize)]
struct KindView {
    node_id: NodeId,
    oui: Oui,
    kind: NodeKind,
}

fn kind_name(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Mobile => "mobile",
        NodeKind::Stationary => "stationary",
        NodeKind::Other => "other",
    }
}

pub fn run(cmd: AddrCmd, out: &Out) -> Result<(), CtlError> {
    match cmd {
        AddrCmd::Lin6 {
            node_id,
            lin6_prefix,
        } => {
            let params = Lin6Params {
                prefix: lin6_prefix.unwrap_or(Lin6Params::default().prefix),
                ..Lin6Params::default()
            };
            let a = params.lin6_address(node_id);
            if out.json {
                out.json(&Lin6View {
                    node_id,
                    lin6_prefix: params.prefix,
                    lin6_address: a,
                })?;
            } else {
                out.line(&a.to_string())?;
            }
        }
        AddrCmd::Locator { node_id, prefix } => {
            let l = prefix.with_node(node_id);
            if out.json {
                out.json(&LocatorView {
                    node_id,
                    prefix,
                    locator: l,
                })?;
            } else {
                out.line(&l.to_string())?;
            }
        }
        AddrCmd::Kind { id, oui } => {
            let oui = oui.unwrap_or_default();
            let kind = id.kind(oui);
            if out.json {
                out.json(&KindView {
                    node_id: id,
                    oui,
                    kind,
                })?;
            } else {
                out.line(kind_name(kind))?;
            }
        }
    }
    Ok(())
}
