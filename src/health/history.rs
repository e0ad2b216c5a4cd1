//! Availability figures from the health history: availability over rolling windows, MTBF,
//! MTTR, the number of failures and the time of the last one.
//!
//! A history is the list of a member's state changes (the first known state, then each
//! change between up and down), kept for the longest window (7 days) and at most
//! [`MAX_EVENTS`] entries, and saved in the state file so that a restart does not reset it.
//! Data centers and pools get combined histories: a data center is up while any of its
//! members is up, a pool while any of its members is.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The longest window figures are computed for; older events are dropped.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most events kept per member, whatever their age: a member flapping every second for a week
/// would otherwise grow without bound. 10 000 changes is far beyond any useful history.
pub const MAX_EVENTS: usize = 10_000;

/// The windows availability is reported over, with their names.
pub const WINDOWS: [(&str, Duration); 3] = [
    ("1h", Duration::from_secs(3600)),
    ("24h", Duration::from_secs(24 * 3600)),
    ("7d", Duration::from_secs(7 * 24 * 3600)),
];

/// State changes, oldest first: (milliseconds since the Unix epoch, up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The events.
    pub events: VecDeque<(u64, bool)>,
}

/// The figures of one history at one time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Fraction of known time up in each of [`WINDOWS`] (none when nothing is known yet).
    pub availability: Vec<(String, Option<f64>)>,
    /// Mean time between failures: time up divided by the number of failures, in seconds.
    pub mtbf_seconds: Option<f64>,
    /// Mean time to recovery: the mean length of the outages that ended, in seconds.
    pub mttr_seconds: Option<f64>,
    /// Changes from up to down in the kept history.
    pub failures: u64,
    /// When the last failure began (seconds since the Unix epoch).
    pub last_failure: Option<u64>,
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl History {
    /// Records the state at `at` (only a change is kept).
    pub fn record(&mut self, at: SystemTime, up: bool) {
        let at = ms(at);
        if self.events.back().is_some_and(|&(_, last)| last == up) {
            return;
        }
        self.events.push_back((at, up));
        self.trim(at);
    }

    /// Drops events older than [`KEEP`] (keeping the last one before it, which says what the
    /// state was when the window opened) and beyond [`MAX_EVENTS`].
    fn trim(&mut self, now_ms: u64) {
        let horizon = now_ms.saturating_sub(KEEP.as_millis() as u64);
        while self.events.len() > 1 && self.events[1].0 <= horizon {
            self.events.pop_front();
        }
        while self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
    }

    /// A history that is up while any of `parts` is up (unknown parts do not count).
    pub fn any_up<'a>(parts: impl IntoIterator<Item = &'a History>) -> History {
        let parts: Vec<&History> = parts.into_iter().filter(|h| !h.events.is_empty()).collect();
        let mut all: Vec<(u64, usize, bool)> =
            parts.iter().enumerate().flat_map(|(i, h)| h.events.iter().map(move |&(t, up)| (t, i, up))).collect();
        all.sort_by_key(|&(t, i, _)| (t, i));
        let mut state: Vec<Option<bool>> = vec![None; parts.len()];
        let mut out = History::default();
        for (t, i, up) in all {
            state[i] = Some(up);
            let combined = state.contains(&Some(true));
            if out.events.back().is_none_or(|&(_, last)| last != combined) {
                out.events.push_back((t, combined));
            }
        }
        out
    }

    /// The figures at `now`.
    pub fn figures(&self, now: SystemTime) -> Figures {
        let now = ms(now);
        let mut f = Figures::default();
        for (name, window) in WINDOWS {
            let start = now.saturating_sub(window.as_millis() as u64);
            let (mut up, mut known) = (0u64, 0u64);
            for (i, &(t, is_up)) in self.events.iter().enumerate() {
                let end = self.events.get(i + 1).map_or(now, |&(t2, _)| t2).min(now);
                let begin = t.max(start);
                if end > begin {
                    known += end - begin;
                    if is_up {
                        up += end - begin;
                    }
                }
            }
            f.availability.push((name.to_string(), (known > 0).then(|| up as f64 / known as f64)));
        }
        let (mut up_total, mut repairs, mut repair_total) = (0u64, 0u64, 0u64);
        for (i, &(t, is_up)) in self.events.iter().enumerate() {
            let end = self.events.get(i + 1).map_or(now, |&(t2, _)| t2);
            if is_up {
                up_total += end.saturating_sub(t);
            } else {
                if i > 0 {
                    f.failures += 1;
                    f.last_failure = Some(t / 1000);
                }
                if let Some(&(t2, _)) = self.events.get(i + 1) {
                    repairs += 1;
                    repair_total += t2.saturating_sub(t);
                }
            }
        }
        if f.failures > 0 {
            f.mtbf_seconds = Some(up_total as f64 / 1000.0 / f.failures as f64);
        }
        if repairs > 0 {
            f.mttr_seconds = Some(repair_total as f64 / 1000.0 / repairs as f64);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000 + s)
    }

    #[test]
    fn figures_from_a_known_history() {
        let mut h = History::default();
        h.record(at(0), true);
        h.record(at(100), true); // no change: not kept
        h.record(at(1000), false); // failure 1, down 200 s
        h.record(at(1200), true);
        h.record(at(3000), false); // failure 2, down 400 s
        h.record(at(3400), true);
        assert_eq!(h.events.len(), 5);
        let f = h.figures(at(3600));
        // Up: 1000 + 1800 + 200 = 3000 s of 3600 s; failures 2; MTBF 1500 s; MTTR 300 s.
        assert_eq!(f.failures, 2);
        assert_eq!(f.mtbf_seconds, Some(1500.0));
        assert_eq!(f.mttr_seconds, Some(300.0));
        assert_eq!(f.last_failure, Some(1_003_000));
        let a1h = f.availability[0].1.unwrap();
        assert!((a1h - 3000.0 / 3600.0).abs() < 1e-9, "{a1h}");
        assert_eq!(f.availability[2].1, Some(3000.0 / 3600.0));
    }

    #[test]
    fn windows_only_count_their_own_time() {
        let mut h = History::default();
        h.record(at(0), false);
        h.record(at(7200), true);
        let f = h.figures(at(7200 + 1800));
        // The last hour: up for 1800 s, down for the 1800 s before.
        assert_eq!(f.availability[0].1, Some(0.5));
        // 24 h: 9000 s known, 1800 s up.
        assert_eq!(f.availability[1].1, Some(0.2));
        assert_eq!(f.failures, 0, "a member first seen down did not fail");
        assert_eq!(f.mttr_seconds, Some(7200.0));
    }

    #[test]
    fn combined_histories_are_up_while_any_part_is() {
        let mut a = History::default();
        let mut b = History::default();
        a.record(at(0), true);
        b.record(at(0), true);
        a.record(at(10), false);
        b.record(at(20), false); // both down from 20 s
        a.record(at(50), true);
        let dc = History::any_up([&a, &b, &History::default()]);
        assert_eq!(dc.events.iter().map(|e| e.1).collect::<Vec<_>>(), [true, false, true]);
        let f = dc.figures(at(60));
        assert_eq!(f.failures, 1);
        assert_eq!(f.mttr_seconds, Some(30.0));
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::default();
        for i in 0..(MAX_EVENTS as u64 + 500) {
            h.record(at(i), i % 2 == 0);
        }
        assert_eq!(h.events.len(), MAX_EVENTS);
        // Events older than a week go, except the one that says the state at the window start.
        let mut h = History::default();
        h.record(at(0), true);
        h.record(at(10), false);
        h.record(at(KEEP.as_secs() + 100), true);
        assert_eq!(h.events.len(), 2);
        assert!(!h.events[0].1);
    }
}
