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

/// True when standard error is the journal's stream: systemd names it in `JOURNAL_STREAM` as
/// `device:inode` (systemd.exec(5)), and a process that passes its stderr on to a pipe or a
/// file does not match any more.
pub fn to_journal() -> bool {
    let Some(named) = std::env::var("JOURNAL_STREAM").ok() else {
        return false;
    };
    let Ok(stat) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    named == format!("{}:{}", stat.st_dev, stat.st_ino)
}

/// The journal's priority of a level (sd-daemon(3): `<3>` error ... `<7>` debug).
fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// Text lines for the journal: each prefixed with its priority, which journald reads (so
/// `journalctl -p warning` works), and no time stamp, which journald adds itself.
struct Journal<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Journal<F>
where
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Installs the process's logger on standard error. Fails when the filter is not valid. Text
/// written to the journal carries priorities and no time stamps.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(check_filter(filter)?).map_err(|e| e.to_string())?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text if to_journal() => {
            let lines = tracing_subscriber::fmt::format().without_time().with_ansi(false);
            builder.with_ansi(false).event_format(Journal(lines)).init()
        }
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
