//! Prometheus text on `GET /metrics` (`metrics_listen`), from the counters
//! in `events::Stats`, served by the daemons' shared responder
//! (`lin6::http`).

use std::fmt::Write as _;
use std::sync::Arc;

use lin6::http::{Request, Response};
use tokio::net::TcpListener;

use crate::events::{Ctx, get};

/// The metrics text.
pub fn render(ctx: &Ctx) -> String {
    let s = &ctx.stats;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = write!(
            out,
            "# HELP lin6resolvd_{name} {help}\n# TYPE lin6resolvd_{name} counter\nlin6resolvd_{name} {v}\n"
        );
    };
    counter(
        "registrations_ok_total",
        "Registrations an MA accepted (signed Ok).",
        get(&s.registrations_ok),
    );
    counter(
        "registrations_failed_total",
        "Registration rounds in which no MA accepted.",
        get(&s.registrations_failed),
    );
    counter(
        "resolved_total",
        "Peer mappings installed (misses and refreshes).",
        get(&s.resolved),
    );
    counter(
        "resolve_failed_total",
        "Misses or refreshes given up after every round.",
        get(&s.resolve_failed),
    );
    counter(
        "no_mapping_total",
        "Peers whose MA had no mapping.",
        get(&s.no_mapping),
    );
    counter(
        "dns_lookups_total",
        "TXT lookups for MA lists (cache misses).",
        get(&s.dns_lookups),
    );
    counter(
        "refreshes_sent_total",
        "Mapping Refresh sent to correspondents after a move.",
        get(&s.refreshes_sent),
    );
    counter(
        "refreshes_received_total",
        "Well-formed Mapping Refresh received.",
        get(&s.refreshes_received),
    );
    counter(
        "refreshes_ignored_total",
        "Mapping Refresh dropped: malformed, unknown peer, or rate-limited.",
        get(&s.refreshes_ignored),
    );
    counter(
        "requeries_total",
        "MA re-queries caused by Mapping Refresh.",
        get(&s.requeries),
    );
    counter(
        "dropped_busy_total",
        "Misses or refreshes dropped: too many resolutions at once.",
        get(&s.dropped_busy),
    );
    counter(
        "ls_requests_total",
        "LSS_MA_REQUEST sent to pools' LSs (retries included).",
        get(&s.ls.requests),
    );
    counter(
        "ls_chosen_total",
        "LSS_MA_REPLY naming an MA.",
        get(&s.ls.chosen),
    );
    counter(
        "ls_refused_total",
        "LSS_MA_REPLY refusing (unknown node, no MA, rate limited, busy).",
        get(&s.ls.refused),
    );
    counter(
        "ls_failovers_total",
        "Moves to a pool's next LS after one did not answer or refused.",
        get(&s.ls.failovers),
    );
    counter(
        "pool_rechoices_total",
        "Pools whose LS was asked again because this node moved.",
        get(&s.pool_rechoices),
    );
    let correspondents = ctx.correspondents.lock().map(|c| c.len()).unwrap_or(0);
    let used_pools = ctx.pools.lock().map(|p| p.len()).unwrap_or(0);
    let cached = ctx.ma_cache.lock().map(|c| c.len()).unwrap_or(0);
    let pools = ctx.ls_cache.lock().map(|c| c.len()).unwrap_or(0);
    let _ = write!(
        out,
        "# HELP lin6resolvd_correspondents Peers remembered.\n# TYPE lin6resolvd_correspondents gauge\nlin6resolvd_correspondents {correspondents}\n\
         # HELP lin6resolvd_ma_cache_entries Peers whose MA list is cached.\n# TYPE lin6resolvd_ma_cache_entries gauge\nlin6resolvd_ma_cache_entries {cached}\n\
         # HELP lin6resolvd_ls_cache_entries Pool addresses whose LS list is cached.\n# TYPE lin6resolvd_ls_cache_entries gauge\nlin6resolvd_ls_cache_entries {pools}\n\
         # HELP lin6resolvd_pools Pools whose mapping this node installed (their sites are told of moves).\n# TYPE lin6resolvd_pools gauge\nlin6resolvd_pools {used_pools}\n"
    );
    out
}

pub async fn serve(l: TcpListener, ctx: Arc<Ctx>) {
    lin6::http::serve(l, None, |r: &Request| match r.path.as_str() {
        "/metrics" => Response::metrics(render(&ctx)),
        _ => Response::not_found(),
    })
    .await;
}
