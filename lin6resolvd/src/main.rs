//! lin6resolvd: command line, logging and signals; the daemon is the library.

use std::process::ExitCode;

use clap::Parser;
use lin6::netlink::Event;
use lin6resolvd::Config;
use lin6resolvd::kernel::{KernelHandle, NetlinkKernel, spawn_event_reader};
use tracing::{error, info};

/// The LIN6 node resolver.
///
/// Registers this node's locator with its Mapping Agent (found through DNS:
/// the AAAA of the node's name, then the "lin6 v=1 ma=..." TXT record at the
/// reverse name of its LIN6 address), refreshes the registration before its
/// lifetime runs out, re-registers at once when the node moves and then
/// sends a Mapping Refresh to its recent correspondents. Resolves the
/// kernel's misses: peer's TXT record -> MA Query -> mapping installed in
/// lin6.ko with the lifetime the MA gave. On a Mapping Refresh from a peer
/// it asks the peer's MA again and never believes the sender.
///
/// Needs lin6.ko loaded and CAP_NET_ADMIN (the kernel's events group, node
/// and table changes, routes).
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Examples:\n  \
        lin6resolvd --config /etc/lin6/lin6resolvd.yaml\n  \
        lin6resolvd --config node.yaml --check          # validate the config and exit\n  \
        RUST_LOG=lin6resolvd=debug lin6resolvd -c node.yaml\n\
        Config reference and DNS record format: docs/operations.md."
)]
struct Args {
    /// YAML configuration file.
    #[arg(short, long, default_value = "/etc/lin6/lin6resolvd.yaml")]
    config: String,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins if set.
    #[arg(long, default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let cfg = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lin6resolvd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "{}: ok (node {}, LIN6 address {})",
            args.config,
            cfg.node_id,
            cfg.lin6.lin6_address(cfg.node_id)
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lin6resolvd: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cfg))
}

async fn run(cfg: Config) -> ExitCode {
    let kernel = match NetlinkKernel::connect() {
        Ok(k) => KernelHandle::new(k),
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match lin6resolvd::start(cfg, kernel).await {
        Ok(r) => r,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let tx: tokio::sync::mpsc::Sender<Event> = running.events.clone();
    let reader = match spawn_event_reader(tx, running.resubscribe.clone()) {
        Ok(r) => r,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!("SIGTERM handler: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = running.join() => {
            error!("a task stopped");
            reader.abort();
            return ExitCode::FAILURE;
        }
    }
    reader.abort();
    ExitCode::SUCCESS
}
