//! One member's health: the state machine that turns probe results into up and down.
//!
//! Probes only report success or failure with a reason; this owns the thresholds. A member
//! starts **unknown**, which answers as up (so that a restart does not take a service out of
//! DNS before its first probe lands). The first result sets the state directly; after that a
//! member goes down after `fall` consecutive failures and comes back after `rise` consecutive
//! successes, so one lost probe does not flap answers.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What the probes say about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No result yet: answered as up.
    Unknown,
    /// Passing.
    Up,
    /// Failing.
    Down,
}

/// A member's probe history, as far as the thresholds need it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    /// Current status.
    pub status: Status,
    /// Consecutive successes so far.
    pub successes: u32,
    /// Consecutive failures so far.
    pub failures: u32,
    /// The last result: success, and why it failed (or what passed).
    pub last: Option<(bool, String)>,
    /// When the last result came.
    pub last_checked: Option<SystemTime>,
    /// When the status last changed (including from unknown).
    pub last_change: Option<SystemTime>,
    /// Number of changes between up and down (unknown -> up or down not counted).
    pub transitions: u64,
}

impl Default for MemberState {
    fn default() -> Self {
        MemberState {
            status: Status::Unknown,
            successes: 0,
            failures: 0,
            last: None,
            last_checked: None,
            last_change: None,
            transitions: 0,
        }
    }
}

impl MemberState {
    /// Records a probe result; returns true when the status changed.
    pub fn report(&mut self, ok: bool, reason: &str, rise: u32, fall: u32, now: SystemTime) -> bool {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        self.last = Some((ok, reason.to_string()));
        self.last_checked = Some(now);
        let next = match (self.status, ok) {
            (Status::Unknown, true) => Status::Up,
            (Status::Unknown, false) => Status::Down,
            (Status::Down, true) if self.successes >= rise => Status::Up,
            (Status::Up, false) if self.failures >= fall => Status::Down,
            (s, _) => s,
        };
        if next == self.status {
            return false;
        }
        if self.status != Status::Unknown {
            self.transitions += 1;
        }
        self.status = next;
        self.last_change = Some(now);
        true
    }

    /// True unless the probes say the member is down.
    pub fn is_up(&self) -> bool {
        self.status != Status::Down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(results: &str, rise: u32, fall: u32) -> (String, u64) {
        let mut s = MemberState::default();
        let mut trail = String::new();
        for c in results.chars() {
            s.report(c == '+', "test", rise, fall, SystemTime::UNIX_EPOCH);
            trail.push(match s.status {
                Status::Up => 'U',
                Status::Down => 'D',
                Status::Unknown => '?',
            });
        }
        (trail, s.transitions)
    }

    #[test]
    fn thresholds_give_hysteresis() {
        // (results, rise, fall, states after each result, transitions)
        let cases = [
            ("+", 2, 3, "U", 0),
            ("-", 2, 3, "D", 0),
            ("+--+---", 2, 3, "UUUUUUD", 1),
            ("---+-++", 2, 3, "DDDDDDU", 1),
            ("+-+-+-+-", 2, 3, "UUUUUUUU", 0),
            ("-+-+-+-+", 2, 3, "DDDDDDDD", 0),
            ("+---++", 1, 1, "UDDDUU", 2),
            ("+------+++", 3, 2, "UUDDDDDDDU", 2),
        ];
        for (results, rise, fall, expect, transitions) in cases {
            assert_eq!(
                run(results, rise, fall),
                (expect.to_string(), transitions),
                "{results} rise {rise} fall {fall}"
            );
        }
    }

    #[test]
    fn unknown_answers_as_up_and_remembers_the_last_result() {
        let mut s = MemberState::default();
        assert!(s.is_up());
        assert_eq!(s.status, Status::Unknown);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(5);
        assert!(s.report(false, "connection refused", 2, 3, t));
        assert!(!s.is_up());
        assert_eq!(s.last, Some((false, "connection refused".to_string())));
        assert_eq!(s.last_change, Some(t));
    }

    #[test]
    fn a_day_of_random_failures_shorter_than_fall_never_flips() {
        // 24 h of 5 s probes with 30% failures, failure runs capped at fall - 1.
        let fall = 6;
        let mut s = MemberState::default();
        s.report(true, "ok", 2, fall, SystemTime::UNIX_EPOCH);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut run = 0;
        let mut longest = 0;
        for _ in 0..(24 * 3600 / 5) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let fail = x % 100 < 30 && run < fall - 1;
            run = if fail { run + 1 } else { 0 };
            longest = longest.max(run);
            s.report(!fail, "r", 2, fall, SystemTime::UNIX_EPOCH);
            assert_eq!(s.status, Status::Up);
        }
        assert_eq!(s.transitions, 0);
        assert_eq!(longest, fall - 1, "the run cap was reached, so the test means something");
    }
}
