//! lin6agentd: command line, logging, signals, subscriber management and the
//! query benchmark. The agent itself is in the library.

use clap::{Parser, Subcommand};
use lin6::addr::{NodeId, Prefix64};
use lin6::auth::Key;
use lin6::ls::ServiceLevel;
use lin6agentd::bench::{self, BenchParams};
use lin6agentd::cache::Mapping;
use lin6agentd::config::Config;
use lin6agentd::db::Store;
use lin6agentd::unix_now;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{error, info};

/// LIN6 Mapping Agent: registrations on UDP 7300, MA Queries on UDP 7301.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Without a subcommand, runs the agent. \
Config reference: docs/lin6agentd.md."
)]
struct Args {
    /// YAML configuration file.
    #[arg(short, long, default_value = "/etc/lin6/lin6agentd.yaml")]
    config: String,
    /// Check the configuration (and that the database can be reached,
    /// changing nothing) and exit.
    #[arg(long)]
    check: bool,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG wins if set.
    #[arg(long, default_value = "info")]
    log: String,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the agent (the default).
    Run,
    /// Manage the subscriber database.
    Subscriber {
        /// Database URL; overrides database.url of the config file, which
        /// is then not read.
        #[arg(long)]
        database: Option<String>,
        #[command(subcommand)]
        op: SubOp,
    },
    /// Measure MA Query answers per second and latency on loopback.
    BenchQuery(BenchArgs),
    /// Measure the latency of registrations (Mapping Update Request to
    /// signed reply), one at a time, on loopback.
    BenchRegister(BenchRegisterArgs),
    /// Install per-level shaping (nftables marks + HTB) for a given set of
    /// users on a device, as the agent does on LSS_MA_ASSIGN, and hold it
    /// until SIGINT/SIGTERM (then remove it). For throughput tests.
    Shape(ShapeArgs),
}

#[derive(Debug, clap::Args)]
struct ShapeArgs {
    /// Egress device of the server (the agent owns its root qdisc).
    #[arg(long)]
    device: String,
    /// A user to shape, NODE_ID=LEVEL (normal|premium); repeatable.
    #[arg(long = "user", value_parser = parse_user)]
    users: Vec<(NodeId, ServiceLevel)>,
    #[arg(long, default_value_t = 100_000)]
    capacity_kbps: u32,
    #[arg(long, default_value_t = 500)]
    normal_kbps: u32,
    #[arg(long, default_value_t = 2_000)]
    premium_kbps: u32,
    /// fw (a fw filter per user) or priority (kernels without cls_fw).
    #[arg(long, default_value = "fw", value_parser = parse_classifier)]
    classifier: lin6agentd::shaping_nft_tc::Classifier,
    #[arg(long, default_value = "lin6_shaping")]
    nft_table: String,
    /// Install, print and exit, leaving the rules in place.
    #[arg(long, conflicts_with = "clear")]
    once: bool,
    /// Remove the table and the device's root qdisc, and exit.
    #[arg(long)]
    clear: bool,
}

fn parse_user(s: &str) -> Result<(NodeId, ServiceLevel), String> {
    let (n, l) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("{s:?}: expected NODE_ID=LEVEL"))?;
    let node = n.parse::<NodeId>().map_err(|e| format!("{n:?}: {e}"))?;
    let level = l
        .parse::<ServiceLevel>()
        .map_err(|e| format!("{l:?}: {e}"))?;
    Ok((node, level))
}

fn parse_classifier(s: &str) -> Result<lin6agentd::shaping_nft_tc::Classifier, String> {
    use lin6agentd::shaping_nft_tc::Classifier;
    match s {
        "fw" => Ok(Classifier::Fw),
        "priority" => Ok(Classifier::Priority),
        _ => Err(format!("{s:?}: expected fw or priority")),
    }
}

#[derive(Debug, Subcommand)]
enum SubOp {
    /// Add a subscriber. Without --key a random 256-bit key is generated
    /// and printed: give it to the node's lin6resolvd.
    Add {
        node: NodeId,
        #[arg(long, default_value = "normal")]
        level: ServiceLevel,
        /// Secret in hex, at least 16 bytes (32 hex digits).
        #[arg(long)]
        key: Option<String>,
        /// The key ID the node puts in its requests.
        #[arg(long, default_value_t = 1)]
        key_id: u32,
    },
    /// List subscribers with their current mapping.
    List {
        /// JSON output.
        #[arg(short = 'j', long)]
        json: bool,
    },
    /// Delete a subscriber and its mapping.
    Del { node: NodeId },
    /// Refuse the subscriber's registrations and withdraw its mapping.
    Disable { node: NodeId },
    /// Accept the subscriber's registrations again.
    Enable { node: NodeId },
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Agent to load. Without it, an agent is started in this process on
    /// [::1] with a throwaway SQLite database holding --nodes mappings.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// Node IDs to query (02:01:4a:00:00:00:00:01 onwards); with --target
    /// they must be registered there.
    #[arg(long, default_value_t = 10_000)]
    nodes: u64,
    /// Client threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Queries in flight per client thread.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Measured seconds (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Query workers of the in-process agent (0: one per CPU).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Print the report as JSON.
    #[arg(short = 'j', long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct BenchRegisterArgs {
    /// Database of the in-process agent (default: a throwaway SQLite
    /// file). It must hold no subscribers: the benchmark adds its own.
    #[arg(long)]
    database: Option<String>,
    /// Subscribers registered round-robin (02:01:4a:00:00:00:00:01 onwards).
    #[arg(long, default_value_t = 100)]
    nodes: u64,
    /// Timed registrations (after one warm-up round over every node).
    #[arg(long, default_value_t = 2_000)]
    registrations: u64,
    /// Print the report as JSON.
    #[arg(short = 'j', long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let daemon = matches!(args.cmd, None | Some(Cmd::Run));
    let r = match args.cmd {
        Some(Cmd::Subscriber { database, op }) => {
            let url = match database {
                Some(u) => u,
                None => match Config::load(&args.config) {
                    Ok(c) => c.database.url,
                    Err(e) => {
                        error!("{e} (or give --database URL)");
                        return ExitCode::FAILURE;
                    }
                },
            };
            rt.block_on(subscriber(&url, op))
        }
        Some(Cmd::BenchQuery(b)) => bench_query(&rt, b),
        Some(Cmd::BenchRegister(b)) => bench_register(&rt, b),
        Some(Cmd::Shape(a)) => rt.block_on(shape(a)),
        Some(Cmd::Run) | None => rt.block_on(run(&args.config, args.check)),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if daemon => {
            error!("{e}");
            ExitCode::FAILURE
        }
        // Commands an operator types get a plain one-line error.
        Err(e) => {
            eprintln!("lin6agentd: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

async fn run(path: &str, check: bool) -> Res {
    let cfg = Config::load(path)?;
    if check {
        lin6agentd::db::check_reachable(&cfg.database.url).await?;
        println!("{path}: ok");
        return Ok(());
    }
    let running = lin6agentd::spawn(cfg).await?;
    wait_for_signal().await;
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shape(a: ShapeArgs) -> Res {
    use lin6agentd::shaping::Shaper;
    use lin6agentd::shaping_nft_tc::{NftTc, Params};
    let s = NftTc::new(Params {
        device: a.device.clone(),
        nft_table: a.nft_table,
        tc: "tc".into(),
        classifier: a.classifier,
        capacity_kbps: a.capacity_kbps,
        normal_kbps: a.normal_kbps,
        premium_kbps: a.premium_kbps,
    })?;
    // Start from nothing: an earlier --once run's users are not ours to keep.
    let cleared = s.clear();
    if a.clear {
        return Ok(cleared?);
    }
    for (node, level) in &a.users {
        if let Err(e) = s.install(*node, *level) {
            let _ = s.clear();
            return Err(e.into());
        }
    }
    // A closed stdout must not end the run before the rules are held.
    use std::io::Write;
    let mut out = std::io::stdout();
    for (node, level, minor) in s.installed() {
        let _ = writeln!(
            out,
            "{node} {level} class 1:{minor:x} mark {:#x} dev {}",
            NftTc::mark(minor),
            a.device
        );
    }
    if a.once {
        return Ok(());
    }
    wait_for_signal().await;
    Ok(s.clear()?)
}

fn random_secret_hex() -> Result<String, Box<dyn std::error::Error>> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness for a key: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

async fn subscriber(url: &str, op: SubOp) -> Res {
    let store = Store::open(url, 2, Duration::from_secs(5)).await?;
    let r = subscriber_op(&store, op).await;
    store.close().await;
    r
}

async fn subscriber_op(store: &Store, op: SubOp) -> Res {
    match op {
        SubOp::Add {
            node,
            level,
            key,
            key_id,
        } => {
            let (secret, generated) = match key {
                Some(k) => (k.trim().to_string(), false),
                None => (random_secret_hex()?, true),
            };
            Key::from_hex(key_id, &secret)?;
            store
                .add_subscriber(node, key_id, &secret, level, unix_now())
                .await?;
            if generated {
                println!("{node} key_id {key_id} secret {secret}");
            } else {
                println!("{node} added");
            }
        }
        SubOp::List { json } => {
            let subs = store.list_subscribers(unix_now()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&subs)?);
            } else {
                for s in subs {
                    let mapping = match (s.prefix, s.lifetime_left_s) {
                        (Some(p), Some(l)) => format!("{p} for {l}s"),
                        _ => "no mapping".into(),
                    };
                    println!(
                        "{} level {} key_id {} {} {}",
                        s.node_id,
                        s.level,
                        s.key_id,
                        if s.enabled { "enabled" } else { "disabled" },
                        mapping
                    );
                }
            }
        }
        SubOp::Del { node } => {
            store.delete_subscriber(node).await?;
            println!("{node} deleted");
        }
        SubOp::Disable { node } => {
            store.set_enabled(node, false).await?;
            println!("{node} disabled");
        }
        SubOp::Enable { node } => {
            store.set_enabled(node, true).await?;
            println!("{node} enabled");
        }
    }
    Ok(())
}

fn bench_nodes(n: u64) -> Vec<NodeId> {
    (1..=n.max(1))
        .map(|i| NodeId::from_u64(0x0201_4a00_0000_0000 | i))
        .collect()
}

fn bench_query(rt: &tokio::runtime::Runtime, b: BenchArgs) -> Res {
    let nodes = bench_nodes(b.nodes);
    let mut local = None;
    let mut db_path = None;
    let target = match b.target {
        Some(t) => t,
        None => {
            let path =
                std::env::temp_dir().join(format!("lin6agentd-bench-{}.db", std::process::id()));
            let url = format!("sqlite://{}", path.display());
            db_path = Some(path);
            let mut cfg = Config::default();
            cfg.database.url = url.clone();
            cfg.registration_listen = "[::1]:0".parse()?;
            cfg.query_listen = "[::1]:0".parse()?;
            cfg.query.workers = b.workers;
            let now = unix_now();
            let running = rt.block_on(async {
                let store = Store::open(&url, 2, Duration::from_secs(5)).await?;
                let secret = "00112233445566778899aabbccddeeff".to_string();
                let rows: Vec<_> = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let m = Mapping {
                            prefix: Prefix64::from_u64(0x2001_0db8_0000_0000 | i as u64),
                            timestamp: now as u32,
                            expires_at: now + 3_600,
                            sequence: 1,
                        };
                        (*n, secret.clone(), m)
                    })
                    .collect();
                store.seed(&rows, now).await?;
                store.close().await;
                lin6agentd::spawn(cfg)
                    .await
                    .map_err(Box::<dyn std::error::Error>::from)
            })?;
            let t = running.query_addr;
            local = Some(running);
            t
        }
    };
    eprintln!(
        "bench-query: {} nodes at {target}, {} threads x {} in flight, {} s",
        nodes.len(),
        b.threads,
        b.window,
        b.seconds
    );
    let report = bench::run(&BenchParams {
        target,
        nodes,
        threads: b.threads,
        window: b.window,
        duration: Duration::from_secs(b.seconds.max(1)),
        warmup: Duration::from_secs(1),
    })?;
    if b.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if let Some(r) = local {
        rt.block_on(r.shutdown());
    }
    if let Some(p) = db_path {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    }
    Ok(())
}

/// The benchmark's subscribers' secret; it only ever guards a throwaway
/// database.
const BENCH_SECRET: &str = "00112233445566778899aabbccddeeff";

fn bench_register(rt: &tokio::runtime::Runtime, b: BenchRegisterArgs) -> Res {
    let nodes = bench_nodes(b.nodes);
    let scratch = std::env::temp_dir().join(format!(
        "lin6agentd-bench-register-{}.db",
        std::process::id()
    ));
    let url = b
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", scratch.display()));
    let mut cfg = Config::default();
    cfg.database.url = url.clone();
    cfg.registration_listen = "[::1]:0".parse()?;
    cfg.query_listen = "[::1]:0".parse()?;
    cfg.cache.preload = false;
    let now = unix_now();
    let running = rt.block_on(async {
        let store = Store::open(&url, 2, Duration::from_secs(5)).await?;
        for n in &nodes {
            store
                .add_subscriber(*n, 1, BENCH_SECRET, ServiceLevel::Normal, now)
                .await?;
        }
        store.close().await;
        lin6agentd::spawn(cfg)
            .await
            .map_err(Box::<dyn std::error::Error>::from)
    })?;
    eprintln!(
        "bench-register: {} registrations over {} nodes at {} ({:?})",
        b.registrations,
        nodes.len(),
        running.registration_addr,
        running.agent.store().backend()
    );
    let report = lin6agentd::bench_register::run(&lin6agentd::bench_register::RegisterParams {
        target: running.registration_addr,
        key: Key::from_hex(1, BENCH_SECRET)?,
        warmup: nodes.len() as u64,
        nodes,
        first_sequence: 1,
        registrations: b.registrations,
    })?;
    if b.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    rt.block_on(running.shutdown());
    if b.database.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
        }
    }
    Ok(())
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
