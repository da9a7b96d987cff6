//! [`FakeClock`]: a fixed clock that tests move forward by hand.

use crate::ports::Clock;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// A fixed, advanceable clock.
#[derive(Debug)]
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    /// A clock showing `start`.
    pub fn at(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// A clock showing 2026-05-21T09:00:00Z.
    pub fn default_start() -> Self {
        Self::at(DateTime::from_timestamp(1_779_354_000, 0).unwrap())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A clock that runs on tokio's time from `origin`: with a paused runtime it moves only when
/// the test advances it and while a hung call sleeps (see [`super::Faulty`]), so handlers and
/// the calls that hang see one time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl TokioClock {
    /// A clock showing `origin` now.
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        Self {
            origin,
            started: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.origin + chrono::Duration::from_std(self.started.elapsed()).unwrap()
    }
}
