//! Helpers shared by everything that talks HTTP: the backoff policy and error text.

use std::time::Duration;

/// Exponential backoff from 200 ms to 5 s, five retries: long enough to ride out a
/// restarting server, short enough that a dead one fails the build within half a minute.
pub fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(5)
}

/// An error and all its sources on one line (reqwest hides the useful part in sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
