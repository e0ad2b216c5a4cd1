//! The `meridian` command: parses the command line, sets up logging and the runtime, and calls
//! into the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use meridian::config::Config;
use meridian::daemon::{Daemon, Options};

/// Default listen addresses: loopback only, on the unprivileged port 5353, so that the
/// shipped example can be tried without root and without exposing anything.
const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:5353", "[::1]:5353"];

#[derive(Parser)]
#[command(
    name = "meridian",
    version,
    about = "Authoritative DNS with global server load balancing"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones (what `meridian` with no subcommand does).
    Serve(ServeArgs),
    /// Load and validate everything, print every problem, bind nothing.
    Check {
        /// Directory of zone files (`<origin>.zone`) and GSLB definitions (`*.toml`).
        #[arg(long, default_value = "zones")]
        zones: PathBuf,
        /// Geo database (MaxMind DB format).
        #[arg(long, default_value = meridian::config::DEFAULT_GEO)]
        geo: PathBuf,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Directory of zone files (`<origin>.zone`) and GSLB definitions (`*.toml`).
    #[arg(long, default_value = "zones")]
    zones: PathBuf,
    /// Geo database (MaxMind DB format: GeoIP2/GeoLite2 City or Country, DB-IP).
    #[arg(long, default_value = meridian::config::DEFAULT_GEO)]
    geo: PathBuf,
    /// Address and port to serve DNS on over UDP and TCP; repeat for several.
    /// Default: 127.0.0.1:5353 and [::1]:5353.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// State file keeping operator overrides across restarts.
    #[arg(long, value_name = "FILE", default_value = "meridian-state.json")]
    state: PathBuf,
    /// Log level: error, warn, info, debug or trace (or a tracing filter).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check { zones, geo }) => check(&zones, &geo),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn check(zones: &std::path::Path, geo: &std::path::Path) -> ExitCode {
    match Config::load(zones, geo) {
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            let names: Vec<String> = config
                .zones
                .zones()
                .iter()
                .map(|z| format!("{} (serial {})", z.origin(), z.serial()))
                .collect();
            println!("ok: {} zone(s): {}", names.len(), names.join(", "));
            println!(
                "ok: {} pool(s) over {} data center(s); geo database {} ({})",
                config.gslb.pools.len(),
                config.gslb.datacenters.len(),
                config.geo.path().display(),
                config.geo.database_type()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            for d in &e.0 {
                eprintln!("error: {d}");
            }
            eprintln!("{} error(s); nothing was loaded", e.0.len());
            ExitCode::from(1)
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::load(&args.zones, &args.geo) {
        Ok(c) => c,
        Err(e) => {
            for d in &e.0 {
                tracing::error!("{d}");
            }
            eprintln!(
                "meridian: refusing to start: {} error(s) in {}",
                e.0.len(),
                args.zones.display()
            );
            return ExitCode::from(1);
        }
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meridian: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(config, args.listen, args.state))
}

async fn run(config: Config, listen: Vec<SocketAddr>, state: PathBuf) -> ExitCode {
    let explicit = !listen.is_empty();
    let candidates: Vec<SocketAddr> = if explicit {
        listen
    } else {
        DEFAULT_LISTEN
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    };
    let zones: Vec<String> = config
        .zones
        .zones()
        .iter()
        .map(|z| format!("{} (serial {})", z.origin(), z.serial()))
        .collect();
    // Without --listen, an address the machine lacks (no IPv6 loopback) is skipped with a
    // warning; an address the operator asked for must bind or the start fails.
    let mut usable = Vec::new();
    for addr in candidates {
        if !explicit && std::net::UdpSocket::bind(SocketAddr::new(addr.ip(), 0)).is_err() {
            tracing::warn!(%addr, "skipping default listen address: not available on this machine");
            continue;
        }
        usable.push(addr);
    }
    let options = Options {
        listen: usable,
        state_file: Some(state),
        limits: meridian::server::Limits::default(),
    };
    let daemon = match Daemon::start(config, &options).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(1);
        }
    };
    let addrs: Vec<String> = daemon.addrs().iter().map(ToString::to_string).collect();
    tracing::info!(
        "meridian {} serving {} zone(s): {} on {} (udp+tcp); checking {} member(s)",
        env!("CARGO_PKG_VERSION"),
        zones.len(),
        zones.join(", "),
        addrs.join(", "),
        daemon.runner.len()
    );
    wait_for_stop().await;
    tracing::info!("stopping");
    daemon.stop();
    ExitCode::SUCCESS
}

async fn wait_for_stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
