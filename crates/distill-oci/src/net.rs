//! Helpers shared by everything that talks HTTP: the backoff and redirect policies, and
//! error text.

use std::time::Duration;

/// Exponential backoff from 200 ms to 5 s, five retries: long enough to ride out a
/// restarting server, short enough that a dead one fails the build within half a minute.
pub fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(5)
        // Many clients failing together (CI runners behind one proxy) do not retry in step.
        .with_jitter()
}

/// At most 10 redirects, and never from https to plain http, which would hand the rest of
/// the exchange to anyone on the path. (reqwest itself drops `Authorization` and cookies
/// when a redirect leaves the host.)
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let from_https = attempt
            .previous()
            .last()
            .is_some_and(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() != "https" {
            let to = attempt.url().to_string();
            attempt.error(format!("refused a redirect from https to {to}"))
        } else if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else {
            attempt.follow()
        }
    })
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

/// `Retry-After` as seconds from now: delay-seconds, or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after_secs(v: &str) -> Option<u64> {
    let v = v.trim();
    v.parse().ok().or_else(|| {
        let at = httpdate::parse_http_date(v).ok()?;
        Some(
            at.duration_since(std::time::SystemTime::now())
                .map_or(0, |d| d.as_secs()),
        )
    })
}

/// Waits out the rest of a server's `Retry-After` (at most a minute) beyond the `waited`
/// the backoff is about to wait anyway.
pub fn wait_retry_after(retry_after: Option<Duration>, waited: Duration) {
    if let Some(more) = retry_after.and_then(|r| r.checked_sub(waited)) {
        std::thread::sleep(more.min(Duration::from_secs(60)));
    }
}

/// Seconds from the environment variable `name`, else `default`.
pub fn secs_from_env(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|s| *s > 0)
            .unwrap_or(default),
    )
}
