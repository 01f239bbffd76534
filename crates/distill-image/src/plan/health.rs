//! `[image] volumes` and `[image.healthcheck]`, checked into what the image config holds.
//!
//! Durations are written as Go's `time.ParseDuration` reads them (`30s`, `1m30s`, `500ms`),
//! the form Docker's `HEALTHCHECK --interval` takes, and stored in nanoseconds as Docker
//! stores them.

use distill_oci::image::Healthcheck;
use toml::Spanned;

use super::checks::Checker;
use crate::config::{ConfigError, HealthcheckSection, ImageSection};

/// The mount points, absolute, sorted, each once.
pub(crate) fn volumes(c: &Checker, img: &ImageSection) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for v in &img.volumes {
        if !v.get_ref().starts_with('/') {
            return c.err(
                v.span(),
                format!("volume `{}` is not absolute", v.get_ref()),
                "write it from the image root, such as \"/data\"",
            );
        }
        out.push(v.get_ref().clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) fn healthcheck(
    c: &Checker,
    section: &Spanned<HealthcheckSection>,
) -> Result<Healthcheck, ConfigError> {
    let h = section.get_ref();
    let test = h.test.get_ref();
    match test.first().map(String::as_str) {
        Some("NONE") if test.len() == 1 => {}
        Some("CMD") if test.len() > 1 => {}
        Some("CMD-SHELL") => {
            return c.err(
                h.test.span(),
                "A CMD-SHELL health check needs /bin/sh, which the image does not have".into(),
                "write test = [\"CMD\", PROGRAM, ARGS...], such as [\"CMD\", \"/distill-init\", \"healthcheck\", \"http://127.0.0.1:8080/\"]",
            );
        }
        _ => {
            return c.err(
                h.test.span(),
                format!("test {test:?} is not a health check"),
                "write test = [\"CMD\", PROGRAM, ARGS...], or [\"NONE\"] to turn the base's off",
            );
        }
    }
    let retries = match &h.retries {
        None => None,
        Some(r) => match u32::try_from(*r.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return c.err(
                    r.span(),
                    format!("retries = {} is not a positive count", r.get_ref()),
                    "write a whole number of 1 or more, such as retries = 3",
                );
            }
        },
    };
    let time = |d: &Option<Spanned<String>>| d.as_ref().map(|d| duration(c, d)).transpose();
    Ok(Healthcheck {
        test: test.clone(),
        interval: time(&h.interval)?,
        timeout: time(&h.timeout)?,
        start_period: time(&h.start_period)?,
        start_interval: time(&h.start_interval)?,
        retries,
    })
}

/// A Go duration in nanoseconds; Docker refuses one under a millisecond (other than 0).
fn duration(c: &Checker, d: &Spanned<String>) -> Result<u64, ConfigError> {
    let hint =
        "write a duration such as \"30s\", \"1m30s\" or \"500ms\" (units ns, us, ms, s, m, h)";
    match parse_duration(d.get_ref()) {
        Some(ns) if ns == 0 || ns >= 1_000_000 => Ok(ns),
        Some(_) => c.err(
            d.span(),
            format!("duration `{}` is under a millisecond", d.get_ref()),
            hint,
        ),
        None => c.err(
            d.span(),
            format!("`{}` is not a duration", d.get_ref()),
            hint,
        ),
    }
}

/// Go's `time.ParseDuration`, without a sign: `1h2m3.5s`, `0`.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    let mut rest = text;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    (!text.is_empty() && total < u64::MAX as f64).then_some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_to_nanoseconds() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "30", "5x", "s", "1..2s", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
