//! The server's own log: level or filter checked before anything starts, text or JSON lines,
//! colours only on a terminal.
//!
//! An unknown level must never switch logging off: `tracing`'s filter syntax reads `warnn` as a
//! target name with no level, which silences everything, so the text is checked here first and
//! refused with the valid levels named.

use std::io::IsTerminal;

/// The levels a filter may name, from the quietest.
pub const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for journald forwarding, Loki, Elasticsearch).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("log format '{s}' is not text or json")),
        }
    }
}

/// Checks a `--log-level` value: a level (`info`), or comma-separated directives each a level
/// or `target=level` (`info,meridian::health=debug`). Returns the value when it is valid.
pub fn check_filter(text: &str) -> Result<&str, String> {
    let known = |level: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level));
    for directive in text.split(',') {
        let level = directive.rsplit_once('=').map_or(directive, |(_, level)| level).trim();
        if !known(level) {
            return Err(format!(
                "log level '{level}' in '{text}' is not one of {} (or target=level directives)",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(text)
}

/// Whether standard error should get colours: only a terminal, and never with `NO_COLOR` set
/// (no-color.org).
pub fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the process's logger on standard error. Fails when the filter is not valid.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(check_filter(filter)?).map_err(|e| e.to_string())?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colours()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked_before_they_can_silence_the_log() {
        for ok in ["info", "WARN", "off", "info,meridian::health=debug", "meridian=trace"] {
            assert_eq!(check_filter(ok), Ok(ok));
        }
        for bad in ["warnn", "info,meridian=loud", "", "debug,"] {
            let e = check_filter(bad).unwrap_err();
            assert!(e.contains("off, error, warn, info, debug, trace"), "{e}");
        }
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
