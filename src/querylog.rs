//! The optional query log: one JSON line per sampled query, written by a thread of its own.
//!
//! The query path only formats a sampled line and offers it to a bounded channel; when the
//! channel is full (the disk is slower than the queries) the line is dropped and counted, so
//! logging never slows answering.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::dns;
use crate::query::{Outcome, Request};
use crate::zone::Name;

/// Lines that may wait for the writer: enough to ride out a slow disk for a moment at any
/// sampling rate a person reads; beyond it lines are dropped and counted.
pub const QUEUE_LINES: usize = 4096;

/// How often the writer flushes when lines keep coming, so `tail -f` sees them promptly.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Opens the query log's file again.
type Opener = Box<dyn Fn() -> std::io::Result<Box<dyn Write + Send>> + Send>;

/// Writes the lines that come for up to [`FLUSH_EVERY`], then flushes (so a reopen is never
/// held up by a steady stream of lines); false when the query log was dropped.
fn write_some(rx: &Receiver<String>, out: &mut Box<dyn Write + Send>, written: &QueryLogStats) -> bool {
    let mut buf = std::io::BufWriter::new(out);
    let started = std::time::Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_EVERY.saturating_sub(started.elapsed())) {
            Ok(line) => {
                if buf.write_all(line.as_bytes()).is_ok() {
                    written.written.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = buf.flush();
                return true;
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = buf.flush();
                return false;
            }
        }
    }
}

/// Counters of the query log.
#[derive(Debug, Default)]
pub struct QueryLogStats {
    /// Lines written.
    pub written: AtomicU64,
    /// Lines dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// A running query log.
#[derive(Debug)]
pub struct QueryLog {
    tx: SyncSender<String>,
    every: u64,
    seen: AtomicU64,
    /// Counters.
    pub stats: Arc<QueryLogStats>,
    /// Set to have the writer reopen its file (after logrotate moved it).
    reopen: Arc<std::sync::atomic::AtomicBool>,
}

impl QueryLog {
    /// Starts logging to `target` (a file, appended to, or `-` for standard output), one query
    /// in every `1 / rate`.
    pub fn start(target: &str, rate: f64) -> std::io::Result<QueryLog> {
        if target == "-" {
            return QueryLog::to_writer(Box::new(std::io::stdout()), rate);
        }
        let path = std::path::PathBuf::from(target);
        let open = move || -> std::io::Result<Box<dyn Write + Send>> {
            Ok(Box::new(std::fs::OpenOptions::new().create(true).append(true).open(&path)?))
        };
        let first = open()?;
        QueryLog::spawn(first, Some(Box::new(open)), rate)
    }

    /// Starts logging to `out`, one query in every `1 / rate`.
    pub fn to_writer(out: Box<dyn Write + Send>, rate: f64) -> std::io::Result<QueryLog> {
        QueryLog::spawn(out, None, rate)
    }

    /// Has the writer reopen its file before the next lines: after logrotate (or an operator)
    /// moved it away, lines go to a new file of the same name. SIGHUP and SIGUSR1 call it.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }

    fn spawn(mut out: Box<dyn Write + Send>, open: Option<Opener>, rate: f64) -> std::io::Result<QueryLog> {
        let (tx, rx) = sync_channel::<String>(QUEUE_LINES);
        let stats = Arc::new(QueryLogStats::default());
        let written = stats.clone();
        let reopen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let asked = reopen.clone();
        std::thread::Builder::new().name("query-log".into()).spawn(move || {
            loop {
                if asked.swap(false, Ordering::Relaxed)
                    && let Some(open) = &open
                {
                    let _ = out.flush();
                    match open() {
                        Ok(file) => out = file,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot reopen the query log; still writing to the old file")
                        }
                    }
                }
                if !write_some(&rx, &mut out, &written) {
                    return;
                }
            }
        })?;
        let every = if rate <= 0.0 { u64::MAX } else { (1.0 / rate.min(1.0)).round().max(1.0) as u64 };
        Ok(QueryLog { tx, every, seen: AtomicU64::new(0), stats, reopen })
    }

    /// Offers one answered request; writes it when sampled, drops it when the queue is full.
    pub fn offer(&self, request: &Request<'_>, outcome: &Outcome) {
        if !self.seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(self.every) {
            return;
        }
        self.send(format_line(request, outcome));
    }

    /// Queues one line without waiting; drops and counts it when the queue is full.
    fn send(&self, line: String) {
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn format_line(request: &Request<'_>, outcome: &Outcome) -> String {
    let (config, peer, query) = (request.config(), request.peer, request.query());
    let name = query.and_then(|q| Name::from_wire(q.qname)).map(|n| n.to_string());
    let ecs = query.and_then(|q| q.edns).and_then(|e| e.ecs).map(|e| format!("{}/{}", e.ip(), e.source_prefix));
    let qtype = outcome.qtype.map(dns::type_to_text);
    let rcode = dns::rcode_to_text(outcome.rcode);
    let (pool, dc) = match outcome.gslb {
        Some(g) => (
            config.gslb.pools.get(g.pool).map(|p| p.name.clone()),
            g.datacenter.and_then(|d| config.gslb.datacenters.get(d)).map(|d| d.name.clone()),
        ),
        None => (None, None),
    };
    let time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let mut line = serde_json::json!({
        "time": (time * 1000.0).round() / 1000.0,
        "client": peer.to_string(),
        "transport": request.transport.name(),
        "ecs": ecs,
        "name": name,
        "type": qtype,
        "rcode": rcode,
        "pool": pool,
        "datacenter": dc,
        "scope": outcome.scope,
    })
    .to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that blocks until told to go on: a disk that has stopped.
    struct Stalled(std::sync::mpsc::Receiver<()>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_writer_drops_and_counts_lines_and_never_blocks_the_caller() {
        let (go, wait) = std::sync::mpsc::channel();
        let log = QueryLog::to_writer(Box::new(Stalled(wait)), 1.0).unwrap();
        let started = std::time::Instant::now();
        let n = QUEUE_LINES * 3;
        for i in 0..n {
            log.send(format!("line {i}\n"));
        }
        // Offering never waited for the stalled writer.
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        let dropped = log.stats.dropped.load(Ordering::Relaxed) as usize;
        // The queue holds QUEUE_LINES (and the writer may hold a line or a buffer's worth).
        assert!(dropped >= n - QUEUE_LINES - 1 - 8192 / 7, "{dropped} of {n} dropped");
        assert!(dropped < n);
        drop(go);
    }
}
