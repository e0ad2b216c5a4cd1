//! `meridian key`: make a zone's keys, print their DS records for the parent, list them with
//! their states. Each reads or writes the key directory (`keys/` in the zones directory).

use std::io::Write as _;
use std::path::Path;

use super::keys::{self, Algorithm, Key, SEP, Timing, ZONE_KEY};
use crate::zone::Name;

/// What `meridian key generate` asks for.
#[derive(Debug, Clone)]
pub struct Generate<'a> {
    /// The zone.
    pub zone: &'a str,
    /// 13 or 15 (or their names).
    pub algorithm: &'a str,
    /// A key-signing key (SEP) only to sign the key set.
    pub ksk: bool,
    /// A zone-signing key.
    pub zsk: bool,
    /// Timing, as `dnssec-keygen` takes it (`YYYYMMDDHHMMSS`, `now`, `+1d`, ...).
    pub publish: Option<&'a str>,
    /// When it starts signing.
    pub activate: Option<&'a str>,
    /// When it stops signing.
    pub inactive: Option<&'a str>,
    /// When it leaves the DNSKEY set.
    pub delete: Option<&'a str>,
    /// When its CDS and CDNSKEY are published.
    pub sync_publish: Option<&'a str>,
    /// When they go.
    pub sync_delete: Option<&'a str>,
}

fn zone_name(text: &str) -> Result<Name, String> {
    let text = if text.ends_with('.') { text.to_string() } else { format!("{text}.") };
    Name::parse(&text, None).map_err(|e| format!("{text}: not a zone name: {e}"))
}

/// Makes a key in `dir` (created, mode 0700) and returns its base name. The `.private` file is
/// written mode 0600, both files by rename so that a server reading the directory never sees
/// half a key.
pub fn generate(dir: &Path, g: &Generate<'_>, now: u64) -> Result<String, String> {
    let zone = zone_name(g.zone)?;
    let algorithm = Algorithm::parse(g.algorithm)
        .ok_or_else(|| format!("algorithm {:?}: use 13 (ECDSAP256SHA256, the default) or 15 (ED25519)", g.algorithm))?;
    if g.ksk && g.zsk {
        return Err("--ksk and --zsk: a key is one or the other (neither: a combined signing key)".into());
    }
    let flags = if g.zsk { ZONE_KEY } else { ZONE_KEY | SEP };
    let time = |what: &str, text: Option<&str>| -> Result<Option<u64>, String> {
        text.map(|t| {
            keys::parse_time(t, now)
                .ok_or_else(|| format!("--{what} {t:?}: use YYYYMMDDHHMMSS, now, or an offset like +1d, now-2h, +3w"))
        })
        .transpose()
    };
    let mut timing = Timing {
        created: Some(now),
        publish: time("publish", g.publish)?,
        activate: time("activate", g.activate)?,
        inactive: time("inactive", g.inactive)?,
        delete: time("delete", g.delete)?,
        sync_publish: time("sync-publish", g.sync_publish)?,
        sync_delete: time("sync-delete", g.sync_delete)?,
    };
    // Like dnssec-keygen: published and active now unless told otherwise.
    if timing.publish.is_none() && timing.activate.is_none() {
        timing.publish = Some(now);
        timing.activate = Some(now);
    }
    timing.publish = timing.publish.or(timing.activate);
    if let (Some(p), Some(a)) = (timing.publish, timing.activate)
        && a < p
    {
        return Err("the key would sign before it is published: --activate must not be before --publish".into());
    }
    let made = keys::generate(&zone, algorithm, flags, &timing)?;
    create_dir(dir)?;
    let existing = dir.join(format!("{}.private", made.base));
    if existing.exists() {
        return Err(format!("{}: a key with this tag exists already; run the command again", existing.display()));
    }
    write(&dir.join(format!("{}.key", made.base)), &made.key_file, 0o644)?;
    write(&dir.join(format!("{}.private", made.base)), &made.private_file, 0o600)?;
    Ok(made.base)
}

fn create_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let _ = std::fs::remove_file(&tmp);
    let mut f = options.open(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

fn zone_keys(dir: &Path, zone: &str) -> Result<(Name, Vec<Key>), String> {
    let zone = zone_name(zone)?;
    let (all, errors) = keys::read_dir(dir);
    if let Some((file, line, message)) = errors.first() {
        let at = if *line > 0 { format!("{}:{line}", file.display()) } else { file.display().to_string() };
        return Err(format!("{at}: {message}"));
    }
    let mine: Vec<Key> = all.into_iter().filter(|k| k.zone == zone).collect();
    if mine.is_empty() {
        return Err(format!("no keys for {zone} in {} (make one with `meridian key generate {zone}`)", dir.display()));
    }
    Ok((zone, mine))
}

/// The DS records (SHA-256) of `zone`'s published key-signing keys at `now`, in zone-file
/// form, for the parent.
pub fn ds(dir: &Path, zone: &str, ttl: u32, now: u64) -> Result<Vec<String>, String> {
    let (zone, keys) = zone_keys(dir, zone)?;
    let lines: Vec<String> =
        keys.iter().filter(|k| k.is_sep() && k.timing.published(now)).map(|k| k.ds_text(ttl)).collect();
    if lines.is_empty() {
        return Err(format!("{zone} has no key-signing key published now (see `meridian key list {zone}`)"));
    }
    Ok(lines)
}

/// One line per key of `zone`: base name, role, state now, and its timing.
pub fn list(dir: &Path, zone: &str, now: u64) -> Result<Vec<String>, String> {
    let (_, keys) = zone_keys(dir, zone)?;
    let zone_keys = super::ZoneKeys { keys };
    Ok(zone_keys
        .keys
        .iter()
        .map(|k| {
            let role = serde_json::to_value(zone_keys.role(k)).unwrap_or_default();
            let state = serde_json::to_value(k.state(now)).unwrap_or_default();
            let events: Vec<String> = k.timing.events().map(|(what, t)| format!("{what} {}", keys::stamp(t))).collect();
            format!(
                "{} {} {} {}",
                k.base_name(),
                role.as_str().unwrap_or(""),
                state.as_str().unwrap_or(""),
                events.join(", ")
            )
        })
        .collect())
}
