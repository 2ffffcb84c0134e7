//! lsd: command line, logging, signals. Everything else is in the library.

use clap::Parser;
use lsd::config::Config;
use lsd::subscribers::{ConfigSubscribers, DbSubscribers, SubscriberLevels};
use std::process::ExitCode;
use tracing::{error, info};

/// LIN6 load-sharing server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// YAML configuration file.
    #[arg(short, long, default_value = "/etc/lin6/lsd.yaml")]
    config: String,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins if set.
    #[arg(long, default_value = "info")]
    log: String,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Measure cached LSS_MA_REQUEST answers per second and latency on
    /// loopback (an lsd and a fake MA in this process; the config file is
    /// not read), and the LS's CPU per cold decision.
    Bench {
        /// Client threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Requests in flight per client thread.
        #[arg(long, default_value_t = 32)]
        window: usize,
        /// Measured seconds (after one second of warm-up).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Cold decisions timed (sans-I/O).
        #[arg(long, default_value_t = 20_000)]
        cold: u32,
        /// Print the report as JSON.
        #[arg(short = 'j', long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    if let Some(Cmd::Bench {
        threads,
        window,
        seconds,
        cold,
        json,
    }) = args.cmd
    {
        let p = lsd::bench::BenchParams {
            threads,
            window,
            duration: std::time::Duration::from_secs(seconds.max(1)),
            warmup: std::time::Duration::from_secs(1),
            cold_decisions: cold.max(1),
        };
        // A closed stdout (`lsd bench | head -1`) is not worth a panic.
        use std::io::Write;
        return match lsd::bench::run(&p) {
            Ok(r) if json => {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    serde_json::to_string(&r).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Ok(r) => {
                let _ = writeln!(std::io::stdout(), "{r}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lsd bench: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let cfg = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        // With a database, --check also reads it once (changing nothing).
        if let Some(db) = &cfg.database
            && let Err(e) = DbSubscribers::start(db)
        {
            error!("subscriber database ({}): {e}", db.url);
            return ExitCode::FAILURE;
        }
        println!("{}: ok", args.config);
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let subs: Box<dyn SubscriberLevels> = match &cfg.database {
            Some(db) => match DbSubscribers::start(db) {
                Ok(s) => Box::new(s),
                Err(e) => {
                    error!("subscriber database ({}): {e}", db.url);
                    return ExitCode::FAILURE;
                }
            },
            None => Box::new(ConfigSubscribers(cfg.subscribers.clone())),
        };
        let running = match lsd::spawn(cfg, subs).await {
            Ok(r) => r,
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        info!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
