//! The `meridian` command: parses the command line, sets up logging and the runtime, and calls
//! into the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use meridian::config::Config;
use meridian::daemon::{Daemon, Options};
use meridian::fleet::Role;
use meridian::query::Transport;
use meridian::settings::Settings;

/// mimalloc rather than glibc's allocator: a configuration replaced by a reload is freed in
/// size-class pages that go back to the system whole, where glibc's heaps kept much of it (a
/// zone of 1 000 000 records served in 172 MB grew to 248-270 MB over reloads, peaking at 477
/// MB). Built without transparent huge pages, which would round a small configuration's heap
/// up to 2 MiB pages (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freed pages go back to the system at once, unless `MIMALLOC_PURGE_DELAY` says otherwise:
/// mimalloc's default delay is only acted on by the thread that freed them, when it next
/// allocates, and the thread that built a configuration is often idle after it (a million
/// operator networks served in 76 MB with the delay, in 55 MB without). The number is
/// `mi_option_purge_delay` in mimalloc 2's `mi_option_e`, which the crate does not name.
fn tune_allocator() {
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's integer options, read each time it purges.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a key for ZONE and print its base name (K<zone>.+<alg>+<tag>). Default: a
    /// combined signing key (flags 257), ECDSA P-256, published and active now. Times take
    /// YYYYMMDDHHMMSS (UTC), now, or an offset such as +30d, now-1h, +2w.
    Generate {
        /// The zone.
        zone: String,
        /// 13 (ECDSAP256SHA256) or 15 (ED25519).
        #[arg(long, short = 'a', default_value = "13")]
        algorithm: String,
        /// A key-signing key: signs the key sets only (pair it with a --zsk).
        #[arg(long)]
        ksk: bool,
        /// A zone-signing key: signs everything but the key sets.
        #[arg(long)]
        zsk: bool,
        /// When it enters the DNSKEY set.
        #[arg(long, short = 'P', value_name = "TIME", allow_hyphen_values = true)]
        publish: Option<String>,
        /// When it starts signing.
        #[arg(long, short = 'A', value_name = "TIME", allow_hyphen_values = true)]
        activate: Option<String>,
        /// When it stops signing.
        #[arg(long, short = 'I', value_name = "TIME", allow_hyphen_values = true)]
        inactive: Option<String>,
        /// When it leaves the DNSKEY set.
        #[arg(long, short = 'D', value_name = "TIME", allow_hyphen_values = true)]
        delete: Option<String>,
        /// When its CDS and CDNSKEY records appear (asking the parent for its DS).
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        sync_publish: Option<String>,
        /// When they go.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        sync_delete: Option<String>,
    },
    /// Print the DS records (SHA-256) of ZONE's published key-signing keys, for the parent.
    Ds {
        /// The zone.
        zone: String,
        /// The records' TTL.
        #[arg(long, default_value_t = 3600)]
        ttl: u32,
    },
    /// List ZONE's keys: role (CSK, KSK, ZSK), state now, and timing.
    List {
        /// The zone.
        zone: String,
    },
}

#[derive(Parser)]
#[command(name = "meridian", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MERIDIAN_REVISION"), ")"), about = "Authoritative DNS with global server load balancing")]
struct Cli {
    /// Settings file (every `serve` flag as a key; flags win). Default: /etc/meridian/meridian.toml
    /// for an installed binary, none from the checkout.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones (what `meridian` with no subcommand does).
    Serve(Box<Settings>),
    /// Check the members and publish the results to the fleet, serving no DNS: a vantage
    /// point for the fleet's health quorum that is not a nameserver. Reads the same settings
    /// as serve (listen and the DNS options are not used); needs [cluster] endpoints.
    Checker(Box<Settings>),
    /// Load and validate everything, print every problem, bind nothing. Given files, check
    /// just those: a zone file on its own (its origin from its name, or --origin), a GSLB
    /// definitions file against the zones of its directory.
    Check {
        /// Directory of zone files (`<origin>.zone`) and GSLB definitions (`*.toml`); default
        /// the settings' `zones`, else zones.
        #[arg(long, value_name = "DIR")]
        zones: Option<PathBuf>,
        /// Geo database (MaxMind DB format); default the settings' `geo`.
        #[arg(long, value_name = "FILE")]
        geo: Option<PathBuf>,
        /// The origin of a single zone file checked (default: its name without `.zone`).
        #[arg(long, value_name = "NAME")]
        origin: Option<String>,
        /// Judge as `serve` would: print every problem, but fail only when the server would
        /// refuse to start (a zone with errors is served as SERVFAIL and does not fail the
        /// check, unless the settings say `strict`). What a unit's ExecStartPre runs.
        #[arg(long)]
        as_serve: bool,
        /// Zone files (`*.zone`) or GSLB definitions (`*.toml`) to check alone.
        files: Vec<PathBuf>,
    },
    /// DNSSEC keys of a zone: make one, print the DS records for the parent, list them. Keys
    /// are BIND `dnssec-keygen` files in `keys/` of the zones directory; a zone with a key there
    /// is signed.
    Key {
        #[command(subcommand)]
        action: KeyCommand,
        /// Directory of zone files; the keys are in its `keys/`. Default the settings' `zones`.
        #[arg(long, value_name = "DIR", global = true)]
        zones: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (meridian.8 and one per subcommand) into DIR.
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: PathBuf,
    },
    /// Reload a running server now (its API's POST /reload).
    Reload {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Drain a data center (DC) or one member (POOL/MEMBER) of a running server: no new
    /// answers go there. `--action force-down` or `force-up` set those instead.
    Drain {
        /// DC, or POOL/MEMBER.
        target: String,
        /// Only in this pool (a data center's members of that pool).
        #[arg(long, value_name = "POOL")]
        pool: Option<String>,
        /// How long (600, 10m, 1h30m); until undone when not given.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// drain, force-down or force-up.
        #[arg(long, default_value = "drain", value_parser = ["drain", "force-down", "force-up"])]
        action: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set a data center's traffic dial at run time: the percent of its client networks it
    /// keeps (the rest go to the next data center in their order; 0 drains it gracefully).
    /// `meridian undrain DC` removes it.
    Dial {
        /// The data center.
        datacenter: String,
        /// Only for this pool (over the data center's own dial).
        #[arg(long, value_name = "POOL")]
        pool: Option<String>,
        /// Percent of its client networks it keeps, 0 to 100.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
        /// How long (600, 10m, 1h30m); until undone when not given.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Remove the override on a data center (DC) or member (POOL/MEMBER).
    Undrain {
        /// DC, or POOL/MEMBER.
        target: String,
        /// The override set on the data center for this pool only.
        #[arg(long, value_name = "POOL")]
        pool: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// List the overrides in force on a running server.
    Overrides {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a running server's pools, members and availability figures (reads its API).
    Status {
        #[command(flatten)]
        api: ApiArgs,
        /// Show the fleet instead: every instance, its version, zone serials, geo build and
        /// last heartbeat, and what differs (the server's /fleet).
        #[arg(long)]
        fleet: bool,
        /// Print the raw JSON of /status.
        #[arg(long)]
        json: bool,
    },
    /// Show how the answer to a question is made: location, data center order, what was
    /// skipped and why, the records, TTL and ECS scope. Offline (from --zones and --geo) it
    /// assumes every member up unless --down says otherwise; with --api it asks a running
    /// server, which answers from its own configuration and live health.
    Explain {
        /// The name asked.
        name: String,
        /// The type asked (A, AAAA, TXT, ...).
        #[arg(default_value = "A")]
        qtype: String,
        /// Ask from this resolver address (with --subnet too: a resolver sending ECS).
        #[arg(long, required_unless_present = "subnet")]
        client: Option<std::net::IpAddr>,
        /// Ask with this EDNS Client Subnet.
        #[arg(long)]
        subnet: Option<ipnet::IpNet>,
        /// Treat this data center as failed (repeatable): what-if.
        #[arg(long = "down", value_name = "DC")]
        down: Vec<String>,
        /// Ask the running server whose API is at URL or ADDR:PORT (its configuration, live
        /// health and overrides) instead of loading --zones and --geo.
        #[arg(long, value_name = "URL")]
        api: Option<String>,
        /// With --api: the file holding the API token, for a server whose reads need it.
        #[arg(long, value_name = "FILE", requires = "api")]
        api_token_file: Option<PathBuf>,
        /// Directory of zone files and GSLB definitions; default the settings' `zones`.
        #[arg(long, value_name = "DIR")]
        zones: Option<PathBuf>,
        /// Geo database; default the settings' `geo`.
        #[arg(long, value_name = "FILE")]
        geo: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Draw which data center answers each country for a pool, as an SVG world map, from the
    /// files (every member up; `GET /map.svg` on the API draws the live one).
    Map {
        /// The pool; default the first defined.
        #[arg(long, value_name = "NAME")]
        pool: Option<String>,
        /// Treat this data center as failed (repeatable): what-if.
        #[arg(long = "down", value_name = "DC")]
        down: Vec<String>,
        /// Where to write the SVG (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        svg: PathBuf,
        /// Directory of zone files and GSLB definitions; default the settings' `zones`.
        #[arg(long, value_name = "DIR")]
        zones: Option<PathBuf>,
        /// Geo database; default the settings' `geo`.
        #[arg(long, value_name = "FILE")]
        geo: Option<PathBuf>,
    },
}

/// Where a control command finds the API.
#[derive(clap::Args, Clone)]
struct ApiArgs {
    /// The API's URL or ADDR:PORT (as `serve --api` takes it); default the settings' `api`,
    /// else 127.0.0.1:8053.
    #[arg(long, value_name = "URL")]
    api: Option<String>,
    /// File holding the bearer token (the server's --api-token-file); default the settings'
    /// `api-token-file`.
    #[arg(long, value_name = "FILE")]
    api_token_file: Option<PathBuf>,
}

impl ApiArgs {
    /// Runs `f` against the API the flags name, else the settings file's; or reports why the
    /// API cannot be named.
    fn run(self, settings: &Settings, f: impl FnOnce(&meridian::control::Api) -> u8) -> ExitCode {
        let url = self.api.unwrap_or_else(|| settings.api_url());
        let token = self.api_token_file.or_else(|| settings.api_token_file.clone());
        match meridian::control::Api::new(&url, token.as_deref()) {
            Ok(api) => ExitCode::from(f(&api)),
            Err(e) => {
                eprintln!("meridian: {e}");
                ExitCode::from(2)
            }
        }
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let (file, config_path) = match meridian::settings::load(cli.config.as_deref()) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    let zones = |given: Option<PathBuf>| given.unwrap_or_else(|| file.zones());
    let geo = |given: Option<PathBuf>| given.unwrap_or_else(|| file.geo());
    match cli.command {
        Some(Command::Check { geo: g, origin, files, .. }) if !files.is_empty() => {
            check_files(&files, origin.as_deref(), &geo(g))
        }
        Some(Command::Check { zones: z, geo: g, as_serve: true, .. }) => {
            check_as_serve(&zones(z), &geo(g), file.strict == Some(true))
        }
        Some(Command::Check { zones: z, geo: g, .. }) => check(&zones(z), &geo(g)),
        Some(Command::Key { action, zones: z }) => key(&zones(z).join(meridian::config::KEYS_DIR), action),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "meridian", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::Man { dir }) => match write_man_pages(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("meridian: {}: {e}", dir.display());
                ExitCode::from(1)
            }
        },
        Some(Command::Status { api, json, fleet }) => api.run(&file, |a| status(a, json, fleet)),
        Some(Command::Reload { api }) => api.run(&file, meridian::control::reload),
        Some(Command::Drain { target, pool, duration, action, api }) => {
            api.run(&file, |a| meridian::control::drain(a, &target, pool.as_deref(), &action, duration.as_deref()))
        }
        Some(Command::Dial { datacenter, pool, percent, duration, api }) => {
            api.run(&file, |a| meridian::control::dial(a, &datacenter, pool.as_deref(), percent, duration.as_deref()))
        }
        Some(Command::Undrain { target, pool, api }) => {
            api.run(&file, |a| meridian::control::undrain(a, &target, pool.as_deref()))
        }
        Some(Command::Overrides { api }) => api.run(&file, meridian::control::overrides),
        Some(Command::Explain { name, qtype, client, subnet, down, api, api_token_file, zones: z, geo: g, json }) => {
            let asker = meridian::query::explain::Asker::new(client, subnet);
            let Some(asker) = asker else { unreachable!("clap requires --client or --subnet") };
            let question = Question { name: &name, qtype: &qtype, asker, down: &down };
            match api {
                Some(url) => {
                    let token = api_token_file.or_else(|| file.api_token_file.clone());
                    explain_remote(&url, token.as_deref(), &question, json)
                }
                None => explain(&question, &zones(z), &geo(g), json),
            }
        }
        Some(Command::Map { pool, down, svg, zones: z, geo: g }) => {
            map(pool.as_deref(), &down, &svg, &zones(z), &geo(g))
        }
        Some(Command::Serve(flags)) => serve(flags.over(file), config_path, Role::Server),
        Some(Command::Checker(flags)) => serve(flags.over(file), config_path, Role::Checker),
        None => serve(cli.serve.over(file), config_path, Role::Server),
    }
}

fn key(dir: &std::path::Path, action: KeyCommand) -> ExitCode {
    use meridian::dnssec::command;
    let now = u64::from(meridian::cookie::now());
    let result = match &action {
        KeyCommand::Generate {
            zone,
            algorithm,
            ksk,
            zsk,
            publish,
            activate,
            inactive,
            delete,
            sync_publish,
            sync_delete,
        } => {
            let g = command::Generate {
                zone,
                algorithm,
                ksk: *ksk,
                zsk: *zsk,
                publish: publish.as_deref(),
                activate: activate.as_deref(),
                inactive: inactive.as_deref(),
                delete: delete.as_deref(),
                sync_publish: sync_publish.as_deref(),
                sync_delete: sync_delete.as_deref(),
            };
            command::generate(dir, &g, now).map(|base| vec![base])
        }
        KeyCommand::Ds { zone, ttl } => command::ds(dir, zone, *ttl, now),
        KeyCommand::List { zone } => command::list(dir, zone, now),
    };
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meridian: {e}");
            ExitCode::from(1)
        }
    }
}

/// Most zones a line of `check` or of the start's log names; the rest are counted, so that
/// ten thousand zones do not make one line of half a megabyte.
const LISTED_ZONES: usize = 20;

/// The first [`LISTED_ZONES`] zones with their serials, and how many more there are.
fn zone_list(config: &Config) -> String {
    let zones = config.zones.zones();
    let mut text: Vec<String> =
        zones.iter().take(LISTED_ZONES).map(|z| format!("{} (serial {})", z.origin(), z.serial())).collect();
    if zones.len() > LISTED_ZONES {
        text.push(format!("and {} more", zones.len() - LISTED_ZONES));
    }
    text.join(", ")
}

fn check(zones: &std::path::Path, geo: &std::path::Path) -> ExitCode {
    match Config::load(zones, geo) {
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            println!("ok: {} zone(s): {}", config.zones.zones().len(), zone_list(&config));
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
            eprintln!("{} error(s)", e.0.len());
            // What `meridian serve` would do with these files (without --strict).
            match Config::load_to_serve(zones, geo, false) {
                Ok(config) => would_serve(&config).iter().for_each(|l| eprintln!("{l}")),
                Err(_) => eprintln!("serve would refuse to start"),
            }
            ExitCode::from(1)
        }
    }
}

/// What `serve` would do with each zone of `config`, a line each.
fn would_serve(config: &Config) -> Vec<String> {
    config
        .zone_status
        .iter()
        .map(|z| match z.state {
            meridian::config::ZoneState::Loaded => format!("serve would serve zone {}", z.origin),
            meridian::config::ZoneState::Pending => {
                format!("serve would transfer zone {} from its primaries first (SERVFAIL until then)", z.origin)
            }
            meridian::config::ZoneState::Expired => format!(
                "serve would not serve zone {}: its copy is older than its SOA expire (SERVFAIL until a primary answers)",
                z.origin
            ),
            _ => format!("serve would not serve zone {}: SERVFAIL until it is fixed", z.origin),
        })
        .collect()
}

/// `meridian check --as-serve`: every problem printed as `check` prints it, but the exit code
/// says only whether `serve` would start (with `strict`, any error refuses it).
fn check_as_serve(zones: &std::path::Path, geo: &std::path::Path, strict: bool) -> ExitCode {
    match Config::load_to_serve(zones, geo, strict) {
        Ok(config) => {
            for d in &config.errors {
                eprintln!("error: {d}");
            }
            for w in &config.warnings {
                eprintln!("warning: {w}");
            }
            would_serve(&config).iter().for_each(|l| println!("{l}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            for d in &e.0 {
                eprintln!("error: {d}");
            }
            let why = if strict { " (strict refuses any error)" } else { "" };
            eprintln!("serve would refuse to start: {} error(s){why}", e.0.len());
            ExitCode::from(1)
        }
    }
}

/// What the manual page says beyond the options: files, signals, exit codes.
const MAN_EXTRA: &str = r#".SH FILES
.TP
\fI/etc/meridian/meridian.toml\fR
The settings: every \fBserve\fR option as a key of the same name (\fB--rrl-rate 20\fR is
\fBrrl-rate = 20\fR); options given on the command line win. Relative paths are relative to the
file. Read by default by an installed \fBmeridian\fR; \fB--config\fR names another.
.TP
\fI/etc/meridian/zones/\fR
Zone files (\fIORIGIN\fR.zone) and GSLB definitions (*.toml).
.TP
\fI/var/lib/meridian/state.json\fR
Operator overrides (drains) kept across restarts.
.TP
\fI/usr/share/meridian/dbip-country.mmdb\fR
The shipped geo database (DB-IP, CC BY 4.0).
.SH SIGNALS
SIGHUP reloads the zones, definitions, geo database and cookie secrets, and reopens the query
log; SIGUSR1 reopens the query log only; SIGTERM and SIGINT stop the server.
.SH EXIT STATUS
0 on success; 1 when the server or a check refused (errors are printed with file and line);
2 for a mistake on the command line or in the settings file.
.SH SEE ALSO
\fBdig\fR(1), \fBsystemctl\fR(1), \fBnsd\fR(8), \fBknotd\fR(8)
"#;

/// Writes `meridian.8` and `meridian-<subcommand>.8` for each visible subcommand into `dir`.
fn write_man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).section("8").render(&mut page)?;
    page.extend_from_slice(MAN_EXTRA.as_bytes());
    std::fs::write(dir.join("meridian.8"), page)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let name = format!("meridian-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).section("8").render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.8")), page)?;
    }
    Ok(())
}

/// `meridian check FILE...`: each zone file alone, each definitions file against the zones
/// beside it; every problem printed with its line; exit 1 on any error.
fn check_files(files: &[PathBuf], origin: Option<&str>, geo: &std::path::Path) -> ExitCode {
    let mut errors = 0;
    for file in files {
        let name = file.display();
        // A `.toml` file holds definitions; a `.zone` file, or with --origin any other file
        // (BIND's `db.example`), is a zone.
        let kind = match file.extension().and_then(|e| e.to_str()) {
            Some("toml") => "toml",
            Some("zone") => "zone",
            _ if origin.is_some() => "zone",
            _ => "unknown",
        };
        match kind {
            "zone" => {
                let text = match origin {
                    Some(o) => o.to_string(),
                    None => file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                };
                let text = if text.ends_with('.') { text } else { format!("{text}.") };
                let origin = match meridian::zone::Name::parse(&text, None) {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!("error: {name}: '{text}' is not a zone name ({e}): give --origin");
                        errors += 1;
                        continue;
                    }
                };
                match meridian::zone::Zone::load(file, &origin) {
                    Ok((zone, warnings)) => {
                        for w in &warnings {
                            eprintln!("warning: {w}");
                        }
                        println!("ok: {name}: zone {origin} (serial {}), {} names", zone.serial(), zone.len());
                    }
                    Err(e) => {
                        for d in &e {
                            eprintln!("error: {d}");
                        }
                        errors += e.len();
                    }
                }
            }
            "toml" => {
                // Pool names need their zones: the directory is loaded, this file's problems
                // (and only this file's) reported.
                let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                let mine = |d: &meridian::zone::Diagnostic| d.at.file.file_name() == file.file_name();
                match Config::load(dir, geo) {
                    Ok(config) => {
                        for w in config.warnings.iter().filter(|w| mine(w)) {
                            eprintln!("warning: {w}");
                        }
                        println!("ok: {name}");
                    }
                    Err(e) => {
                        let own: Vec<_> = e.0.iter().filter(|d| mine(d)).collect();
                        for d in &own {
                            eprintln!("error: {d}");
                        }
                        if own.is_empty() {
                            println!("ok: {name} (other files of {} have errors)", dir.display());
                        }
                        errors += own.len();
                    }
                }
            }
            _ => {
                eprintln!(
                    "error: {name}: not a zone file (.zone, or any name with --origin) or GSLB definitions file (.toml)"
                );
                errors += 1;
            }
        }
    }
    if errors > 0 {
        eprintln!("{errors} error(s)");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn status(api: &meridian::control::Api, json: bool, fleet: bool) -> u8 {
    let path = if fleet { "/fleet" } else { "/status" };
    let url = api.url(path);
    let body = match api.request("GET", path, None) {
        Ok((200, b)) => b,
        Ok((code, b)) => {
            eprintln!("meridian: {url} answered {code}: {}", b.trim());
            return 1;
        }
        Err(e) => {
            eprintln!("meridian: {e}");
            return 1;
        }
    };
    if json {
        println!("{body}");
        return 0;
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(v) if fleet => {
            print!("{}", meridian::api::fleet_table(&v));
            0
        }
        Ok(v) => {
            print!("{}", meridian::api::status_table(&v));
            0
        }
        Err(e) => {
            eprintln!("meridian: {url} did not answer JSON: {e}");
            1
        }
    }
}

/// A question for `meridian explain`.
struct Question<'a> {
    name: &'a str,
    qtype: &'a str,
    asker: meridian::query::explain::Asker,
    down: &'a [String],
}

/// What offline explanations say of health.
const OFFLINE_HEALTH: &str = "every member assumed up (offline: no checks run; --down DC simulates a failure, \
                              --api URL uses a running server's live health)";

fn explain(q: &Question<'_>, zones: &std::path::Path, geo: &std::path::Path, json: bool) -> ExitCode {
    let Some(qtype) = meridian::dns::type_from_text(q.qtype) else {
        eprintln!("meridian: '{}' is not a record type", q.qtype);
        return ExitCode::from(2);
    };
    let snapshot = match offline_snapshot(zones, geo) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match meridian::query::explain::explain(&snapshot, q.name, qtype, q.asker, q.down, OFFLINE_HEALTH) {
        Ok(e) => print_explanation(&e, json),
        Err(e) => {
            eprintln!("meridian: {e}");
            ExitCode::from(2)
        }
    }
}

/// The files' configuration with every member up, for `explain` and `map` without a server;
/// its errors printed and exit code 1 when it does not load.
fn offline_snapshot(zones: &std::path::Path, geo: &std::path::Path) -> Result<meridian::health::Snapshot, ExitCode> {
    match Config::load(zones, geo) {
        Ok(c) => Ok(meridian::health::Snapshot::all_up(std::sync::Arc::new(c))),
        Err(e) => {
            for d in &e.0 {
                eprintln!("error: {d}");
            }
            Err(ExitCode::from(1))
        }
    }
}

/// `meridian map`: the catchment map from the files.
fn map(
    pool: Option<&str>,
    down: &[String],
    out: &std::path::Path,
    zones: &std::path::Path,
    geo: &std::path::Path,
) -> ExitCode {
    let snapshot = match offline_snapshot(zones, geo) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let source = "offline: every member assumed up (GET /map.svg on a running server's API draws its live health)";
    let svg = match meridian::map::render(&snapshot, &meridian::map::Request { pool, down, source }) {
        Ok(svg) => svg,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    let written = if out == std::path::Path::new("-") {
        std::io::Write::write_all(&mut std::io::stdout(), svg.as_bytes())
    } else {
        std::fs::write(out, svg)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meridian: {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}

fn print_explanation(e: &meridian::query::explain::Explanation, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(e).unwrap_or_default());
    } else {
        print!("{}", e.to_text());
    }
    ExitCode::SUCCESS
}

/// `meridian explain --api URL`: the running server explains, from what it serves now.
fn explain_remote(api: &str, token_file: Option<&std::path::Path>, q: &Question<'_>, json: bool) -> ExitCode {
    let api = match meridian::control::Api::new(api, token_file) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(2);
        }
    };
    let mut url = match reqwest::Url::parse(&api.url("/explain")) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("meridian: '{}' is not a URL: {e}", api.url(""));
            return ExitCode::from(2);
        }
    };
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("name", q.name).append_pair("type", q.qtype);
        pairs.append_pair("client", &q.asker.resolver.to_string());
        if let Some(net) = q.asker.subnet {
            pairs.append_pair("subnet", &net.to_string());
        }
        if !q.down.is_empty() {
            pairs.append_pair("down", &q.down.join(","));
        }
    }
    let path = format!("/explain?{}", url.query().unwrap_or_default());
    match api.request("GET", &path, None) {
        Err(e) => {
            eprintln!("meridian: {e}");
            ExitCode::from(1)
        }
        Ok((200, body)) => match serde_json::from_str::<meridian::query::explain::Explanation>(&body) {
            Ok(e) => print_explanation(&e, json),
            Err(e) => {
                eprintln!("meridian: {url} did not answer an explanation: {e}");
                ExitCode::from(1)
            }
        },
        Ok((401, _)) => {
            eprintln!("meridian: {url} needs the API token: give --api-token-file");
            ExitCode::from(1)
        }
        Ok((_, body)) => {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(body);
            eprintln!("meridian: the server refused the question: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: Settings, config_file: Option<PathBuf>, role: Role) -> ExitCode {
    // Flags were checked by clap, the file's keys when it was read; what both gave together
    // is checked once more here (a file's `group` with a flag's `--user`, say).
    if let Err(e) = args.check() {
        eprintln!("meridian: --{e}");
        return ExitCode::from(2);
    }
    if role == Role::Checker && args.cluster.endpoints.is_empty() {
        eprintln!(
            "meridian: checker: needs [cluster] endpoints (or --cluster-endpoint): a checker only publishes to a fleet"
        );
        return ExitCode::from(2);
    }
    if let Err(e) =
        meridian::logs::init(args.log_level.as_deref().unwrap_or("info"), args.log_format.unwrap_or_default())
    {
        eprintln!("meridian: {e}");
        return ExitCode::from(2);
    }
    if let Some(path) = &config_file {
        tracing::info!("settings from {}", path.display());
    }
    // The XDP path needs privileges the process gives up next: made now, with one thread.
    let xdp = match (&args.xdp, role) {
        (Some(interface), Role::Server) => match open_xdp(interface, &args) {
            Ok(xdp) => {
                tracing::info!("{}", xdp.describe());
                // Started by a service manager with the XDP capabilities: they are not needed
                // from here on (as root, --user gives them up below).
                if !meridian::privileges::is_root()
                    && let Err(e) = meridian::privileges::keep_only_bind_service()
                {
                    eprintln!("meridian: {e}");
                    return ExitCode::from(1);
                }
                Some(Arc::new(xdp))
            }
            Err(e) => {
                eprintln!("meridian: {e}");
                return ExitCode::from(1);
            }
        },
        (Some(_), _) => {
            tracing::warn!("checker: serving no DNS, xdp is not used");
            None
        }
        (None, _) => None,
    };
    // Give up root first, while there is one thread: nothing below runs as root.
    match &args.user {
        Some(user) => {
            let account = match meridian::privileges::lookup(user, args.group.as_deref()) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("meridian: --user: {e}");
                    return ExitCode::from(2);
                }
            };
            match meridian::privileges::drop_to(&account) {
                Ok(true) => {
                    tracing::info!(user = %user, uid = account.uid, gid = account.gid, "running as {user}, with CAP_NET_BIND_SERVICE only")
                }
                Ok(false) => {}
                Err(e) => {
                    eprintln!("meridian: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        None if meridian::privileges::is_root() && args.allow_root != Some(true) => {
            if let Some(path) = &config_file {
                eprintln!(
                    "meridian: refusing to run as root, health checks and API included: set `user` in {} \
                     (or give --user), or `allow-root = true` if this is really wanted",
                    path.display()
                );
                return ExitCode::from(2);
            }
            tracing::warn!("running as root: checks and the API run as root too; use --user to give it up");
        }
        None => {}
    }
    let (zones, geo) = (args.zones(), args.geo());
    let strict = args.strict == Some(true);
    let config = match Config::load_to_serve(&zones, &geo, strict) {
        Ok(c) => c,
        Err(e) => {
            for d in &e.0 {
                tracing::error!("{d}");
            }
            let why = if strict { " (--strict refuses any error)" } else { "" };
            eprintln!("meridian: refusing to start: {} error(s) in {}{why}", e.0.len(), zones.display());
            return ExitCode::from(1);
        }
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    meridian::reload::log_zone_errors(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meridian: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(config, args, role, xdp))
}

/// Opens `--xdp` on the listen addresses (the defaults are loopback, which has no XDP).
#[cfg(target_os = "linux")]
fn open_xdp(interface: &str, args: &Settings) -> Result<meridian::server::Xdp, String> {
    let mode = meridian::server::XdpMode::parse(args.xdp_mode.as_deref().unwrap_or("auto"))?;
    meridian::server::Xdp::open(interface, mode, &args.listen_or_default())
}

#[cfg(not(target_os = "linux"))]
fn open_xdp(interface: &str, _: &Settings) -> Result<meridian::server::Xdp, String> {
    Err(format!("--xdp {interface}: XDP exists on Linux only"))
}

async fn run(config: Config, args: Settings, role: Role, xdp: Option<Arc<meridian::server::Xdp>>) -> ExitCode {
    let listen = if role == Role::Checker {
        if !args.listen.is_empty() {
            tracing::warn!("checker: serving no DNS, listen is not used");
        }
        Vec::new()
    } else {
        args.listen.clone()
    };
    let explicit = !listen.is_empty();
    let candidates: Vec<SocketAddr> = if explicit { listen } else { meridian::settings::default_listen() };
    let zones = (config.zones.zones().len(), zone_list(&config));
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
    if role == Role::Checker {
        usable.clear();
    }
    let api_token = match &args.api_token_file {
        Some(path) => match meridian::api::read_token(path) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("meridian: {e}");
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let mut options = Options::new(args.zones(), args.geo(), usable);
    options.state_file = Some(args.state());
    options.api = args.api;
    options.api_token = api_token;
    options.api_token_for_reads = args.api_token_for_reads == Some(true);
    options.query_log = args.query_log.clone().map(|t| (t, args.query_log_rate.unwrap_or(1.0)));
    options.watch = args.no_watch != Some(true);
    options.strict = args.strict == Some(true);
    let host = meridian::config::Identity::of_host();
    let host_name = host.server_id.clone().unwrap_or_default();
    let pick = |given: &Option<String>| match given {
        Some(text) if text.is_empty() => None,
        Some(text) => Some(text.clone()),
        None => Some(host_name.clone()),
    };
    options.identity = meridian::config::Identity::new(
        pick(&args.nsid).as_deref(),
        pick(&args.server_id).as_deref(),
        args.version_bind.as_deref(),
    );
    options.cluster = args.cluster.clone();
    options.role = role;
    options.probe_source = args.probe_source;
    options.tls = if role == Role::Checker { Default::default() } else { args.tls_options() };
    options.xdp = xdp;
    let seconds = std::time::Duration::from_secs_f64;
    options.limits.tls_connections = args.tls_connections.unwrap_or(options.limits.tls_connections);
    options.limits.tls_idle = args.tls_idle_timeout.map_or(options.limits.tls_idle, seconds);
    options.limits.tls_handshake = args.tls_handshake_timeout.map_or(options.limits.tls_handshake, seconds);
    options.limits.tls_streams = args.tls_streams.unwrap_or(options.limits.tls_streams);
    options.cookies = args.cookies != Some(false);
    options.cookie_secret_file = args.cookie_secret_file.clone();
    options.watch_quiet = args.watch_quiet.map_or(meridian::reload::QUIET, std::time::Duration::from_secs_f64);
    options.limits.udp_loop = match args.udp_loop.as_deref().unwrap_or(meridian::settings::DEFAULT_UDP_LOOP) {
        "batched" => meridian::server::UdpLoop::Batched,
        _ => meridian::server::UdpLoop::Tokio,
    };
    options.limits.rrl = args.rrl_rate.map(|rate| meridian::server::rrl::RrlConfig {
        rate,
        slip: args.rrl_slip.unwrap_or(meridian::server::rrl::DEFAULT_SLIP),
        v4_prefix: args.rrl_ipv4_prefix.unwrap_or(meridian::server::rrl::DEFAULT_V4_PREFIX),
        v6_prefix: args.rrl_ipv6_prefix.unwrap_or(meridian::server::rrl::DEFAULT_V6_PREFIX),
        dry_run: args.rrl_dry_run == Some(true),
    });
    // Listen for SIGINT and SIGTERM before serving: a stop asked for as soon as the first
    // answer goes out must stop the server cleanly, not kill it by the default action.
    let stop = stop_signals();
    let daemon = match Daemon::start(config, &options).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("meridian: {e}");
            return ExitCode::from(1);
        }
    };
    let addrs: Vec<String> = daemon.addrs().iter().map(ToString::to_string).collect();
    if role == Role::Checker {
        tracing::info!(
            "meridian {} ({}) checker: checking {} member(s) of {} zone(s) for the fleet, serving no DNS{}",
            env!("CARGO_PKG_VERSION"),
            env!("MERIDIAN_REVISION"),
            daemon.checked_members(),
            zones.0,
            daemon.api.map(|a| format!("; API on http://{a}")).unwrap_or_default()
        );
        meridian::notify::notify(&format!("READY=1\nSTATUS=checking {} member(s)", daemon.checked_members()));
    } else {
        // The encrypted listeners, by transport: "; dot on 127.0.0.1:853".
        let mut encrypted = String::new();
        for transport in [Transport::Tls, Transport::Https, Transport::Quic] {
            let on: Vec<String> = daemon
                .running
                .shared
                .listeners
                .get()
                .into_iter()
                .flatten()
                .filter(|(t, _)| *t == transport)
                .map(|(_, a)| a.to_string())
                .collect();
            if !on.is_empty() {
                let name = match transport {
                    Transport::Tls => "DoT",
                    Transport::Https => "DoH",
                    _ => "DoQ",
                };
                encrypted.push_str(&format!("; {name} on {}", on.join(", ")));
            }
        }
        tracing::info!(
            "meridian {} ({}) serving {} zone(s): {} on {} (udp+tcp){encrypted}; checking {} member(s){}",
            env!("CARGO_PKG_VERSION"),
            env!("MERIDIAN_REVISION"),
            zones.0,
            zones.1,
            addrs.join(", "),
            daemon.checked_members(),
            daemon.api.map(|a| format!("; API on http://{a}")).unwrap_or_default()
        );
        meridian::notify::notify(&format!("READY=1\nSTATUS=serving {} zone(s)", zones.0));
    }
    if let Some(every) = meridian::notify::watchdog_interval() {
        // Fed only while every UDP worker comes round its loop (this task running proves the
        // runtime, hence TCP and the checks, alive): a stuck worker gets the service restarted.
        let liveness = daemon.running.liveness.clone();
        let max_age = every.as_secs().max(2) as u32;
        tokio::spawn(async move {
            loop {
                match liveness.stalled(meridian::cookie::now(), max_age) {
                    0 => meridian::notify::notify("WATCHDOG=1"),
                    n => tracing::error!("{n} UDP worker(s) stalled for over {max_age} s: not feeding the watchdog"),
                }
                tokio::time::sleep(every).await;
            }
        });
    }
    stop.await;
    meridian::notify::notify("STOPPING=1");
    tracing::info!("stopping");
    daemon.stop();
    ExitCode::SUCCESS
}

/// Installs the SIGINT and SIGTERM handlers now; the returned future ends at the first signal.
fn stop_signals() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let ctrl_c = tokio::spawn(tokio::signal::ctrl_c());
    async move {
        #[cfg(unix)]
        if let Ok(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
