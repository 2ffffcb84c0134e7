//! Prometheus text on `GET /metrics` (`metrics_listen`), from the counters
//! in `events::Stats`. The same small HTTP/1.0 responder as lin6agentd's
//! and lsd's: one path does not justify an HTTP stack.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tracing::warn;

use crate::events::{Ctx, get};

/// Longest request head read; anything longer is answered as it stands.
const MAX_REQUEST: usize = 4096;

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
    let correspondents = ctx.correspondents.lock().map(|c| c.len()).unwrap_or(0);
    let cached = ctx.ma_cache.lock().map(|c| c.len()).unwrap_or(0);
    let _ = write!(
        out,
        "# HELP lin6resolvd_correspondents Peers remembered.\n# TYPE lin6resolvd_correspondents gauge\nlin6resolvd_correspondents {correspondents}\n\
         # HELP lin6resolvd_ma_cache_entries Peers whose MA list is cached.\n# TYPE lin6resolvd_ma_cache_entries gauge\nlin6resolvd_ma_cache_entries {cached}\n"
    );
    out
}

pub async fn serve(l: TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let r = timeout(Duration::from_secs(2), async {
            let mut buf = Vec::with_capacity(512);
            let mut chunk = [0u8; 512];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let line = String::from_utf8_lossy(&buf);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (status, ctype, body) = match path {
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", render(&ctx)),
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body.as_bytes()).await?;
            s.shutdown().await
        })
        .await;
        if let Ok(Err(e)) = r {
            warn!("metrics connection: {e}");
        }
    }
}
