//! The simulated clock: real time scaled by a factor (0 freezes it) plus manual advances.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Instant;

/// Simulated time. `now = anchor + real elapsed × factor + advanced`.
#[derive(Debug, Clone)]
pub struct SimClock {
    anchor_sim: DateTime<Utc>,
    anchor_real: Instant,
    factor: f64,
}

impl SimClock {
    /// A clock starting at `start` that runs `factor` times as fast as real time (0 = frozen,
    /// only [`SimClock::advance`] moves it).
    pub fn new(start: DateTime<Utc>, factor: f64) -> Self {
        Self {
            anchor_sim: start,
            anchor_real: Instant::now(),
            factor: sanitize(factor),
        }
    }

    /// A frozen clock starting now.
    pub fn manual() -> Self {
        Self::new(Utc::now(), 0.0)
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        let real = self.anchor_real.elapsed().as_secs_f64() * self.factor;
        // Nanosecond precision is plenty and keeps the arithmetic in i64 range for years.
        self.anchor_sim + TimeDelta::nanoseconds((real * 1e9) as i64)
    }

    /// The speed factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Moves simulated time forward by `seconds` (negative values are ignored).
    pub fn advance(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds > 0.0 {
            self.anchor_sim += TimeDelta::nanoseconds((seconds * 1e9) as i64);
        }
    }

    /// Changes the speed from now on, without jumping.
    pub fn set_factor(&mut self, factor: f64) {
        self.anchor_sim = self.now();
        self.anchor_real = Instant::now();
        self.factor = sanitize(factor);
    }
}

fn sanitize(factor: f64) -> f64 {
    if factor.is_finite() && factor > 0.0 {
        factor
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let mut clock = SimClock::manual();
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(90.0);
        assert_eq!(clock.now() - t0, TimeDelta::seconds(90));
        clock.advance(-5.0);
        assert_eq!(clock.now() - t0, TimeDelta::seconds(90));
    }

    #[test]
    fn scaled_clock_runs_faster() {
        let mut clock = SimClock::new(Utc::now(), 1000.0);
        let t0 = clock.now();
        let start = Instant::now();
        while start.elapsed().as_millis() < 5 {
            std::hint::spin_loop();
        }
        assert!(clock.now() - t0 >= TimeDelta::seconds(4));
        clock.set_factor(0.0);
        let frozen = clock.now();
        assert_eq!(clock.now(), frozen);
    }
}
