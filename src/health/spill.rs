//! Capacity spillover: a data center's dial lowered while its members report a load above a
//! threshold, and raised again once the load falls below a lower one. Pure: one step per
//! reading, no clock.
//!
//! Above `above`, the dial is multiplied by `above / load` (a data center at 1.0 with
//! `above = 0.8` keeps 80 % of its clients, then less if the load stays high), never below
//! `floor`. Below `below`, it is raised by `step` points per reading until it is back at 100.
//! Between the two it holds: a load hovering around `above` only ever lowers the dial, and one
//! hovering around `below` only ever raises it, so the dial cannot flap.

use crate::config::gslb::Spillover;

/// A data center's spillover state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spill {
    /// The dial spillover allows (100: no shedding).
    pub dial: u8,
    /// The mean load of the data center's serving members at the last reading.
    pub load: Option<f64>,
}

impl Default for Spill {
    fn default() -> Self {
        Spill { dial: 100, load: None }
    }
}

/// The state after a reading of `load`.
pub fn step(spill: Spill, load: f64, config: &Spillover) -> Spill {
    let dial = if load > config.above {
        let shed = (f64::from(spill.dial) * config.above / load).floor() as u8;
        shed.max(config.floor).min(spill.dial)
    } else if load < config.below {
        spill.dial.saturating_add(config.step).min(100)
    } else {
        spill.dial
    };
    Spill { dial, load: Some(load) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: Spillover = Spillover { above: 0.8, below: 0.6, floor: 20, step: 10 };

    fn run(loads: &[f64]) -> Vec<u8> {
        let mut s = Spill::default();
        loads
            .iter()
            .map(|&l| {
                s = step(s, l, &CONFIG);
                s.dial
            })
            .collect()
    }

    #[test]
    fn sheds_in_proportion_holds_in_the_band_and_recovers_by_steps() {
        // (loads, dials after each reading)
        let table: [(&[f64], &[u8]); 5] = [
            // Under the threshold: nothing moves.
            (&[0.5, 0.7, 0.8], &[100, 100, 100]),
            // 1.0 against 0.8: keep 80 %; still 1.0: 64 %; then the load eases into the band
            // and the dial holds; below 0.6 it climbs back 10 points a reading.
            (&[1.0, 1.0, 0.7, 0.65, 0.5, 0.5, 0.5, 0.5, 0.5], &[80, 64, 64, 64, 74, 84, 94, 100, 100]),
            // Never below the floor, however high the load.
            (&[4.0, 4.0, 4.0], &[20, 20, 20]),
            // A load one reading above and one in the band: lowered once, then held.
            (&[0.81, 0.79, 0.81, 0.79], &[98, 98, 96, 96]),
            // Overloaded and idle in turn: down, then up by a step.
            (&[1.6, 0.0], &[50, 60]),
        ];
        for (loads, want) in table {
            assert_eq!(run(loads), want, "{loads:?}");
        }
    }

    #[test]
    fn a_load_oscillating_around_the_threshold_never_flaps() {
        // 200 readings alternating 0.75 and 0.85 (a load oscillating around above = 0.8, and
        // never below `below`): the dial only ever goes down, then settles.
        let mut s = Spill::default();
        let mut last = 100;
        let mut changes = 0;
        for i in 0..200 {
            let load = if i % 2 == 0 { 0.85 } else { 0.75 };
            s = step(s, load, &CONFIG);
            assert!(s.dial <= last, "raised at reading {i}");
            changes += usize::from(s.dial != last);
            last = s.dial;
        }
        assert_eq!(last, CONFIG.floor, "a load that stays above sheds down to the floor");
        assert!(changes < 40, "{changes} changes");
        // Around `below` (0.55 and 0.65): only ever up.
        let mut s = Spill { dial: 30, load: None };
        let mut last = 30;
        for i in 0..50 {
            s = step(s, if i % 2 == 0 { 0.55 } else { 0.65 }, &CONFIG);
            assert!(s.dial >= last);
            last = s.dial;
        }
        assert_eq!(last, 100);
    }
}
