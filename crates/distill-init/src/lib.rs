//! distill-init: the entrypoint helper distill adds to shell-less images.
//!
//! It prepares what an entrypoint script would (secrets from files, waiting for a server,
//! variables in arguments), then *execs* the program, so PID 1, signals and the exit code
//! belong to the app. It also answers `healthcheck URL` for a HEALTHCHECK with no curl.
//! std only, linked statically: it runs on `static`, which has no libc.
//!
//! Bugs of such helpers it must not repeat (each has a test): a retry loop with no delay, an
//! option parser that crashes on its own documented options, a `${X:-d}` expansion that eats
//! the character after `}`, and a fork instead of an exec.

pub mod expand;
pub mod health;
pub mod options;
pub mod resolve;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `VAR` from the file named in `$VAR_FILE`, the Docker-secrets convention: trailing newlines
/// are dropped, as `$(< file)` drops them. Returns the environment changes to make.
pub fn file_env(
    vars: &[String],
    get: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Vec<(String, Option<String>)>, String> {
    let mut changes = Vec::new();
    for var in vars {
        let file_var = format!("{var}_FILE");
        match (get(var), get(&file_var)) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "both {var} and {file_var} are set; set only one of them"
                ));
            }
            (None, Some(path)) => {
                let text =
                    read(&path).map_err(|e| format!("cannot read {file_var}={path}: {e}"))?;
                changes.push((
                    var.clone(),
                    Some(text.trim_end_matches(['\n', '\r']).to_owned()),
                ));
                changes.push((file_var, None));
            }
            _ => {}
        }
    }
    Ok(changes)
}

/// Tries `connect` up to `tries` times, calling `sleep(interval)` between two tries (never
/// after the last). Returns whether one succeeded.
pub fn wait_for(
    tries: u32,
    interval: Duration,
    connect: &mut dyn FnMut() -> bool,
    sleep: &mut dyn FnMut(Duration),
) -> bool {
    for attempt in 1..=tries {
        if connect() {
            return true;
        }
        if attempt < tries {
            sleep(interval);
        }
    }
    false
}

/// One TCP connection attempt to `host:port`, resolving the name afresh each time (the
/// server's record may appear only when it starts).
pub fn try_connect(host: &str, port: u16) -> bool {
    resolve::resolve(host).into_iter().any(|ip| {
        TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(2)).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_env_reads_the_file_and_refuses_both() {
        let env = |k: &str| match k {
            "DB_PASSWORD_FILE" => Some("/run/secrets/db".into()),
            "TOKEN" => Some("t".into()),
            "TOKEN_FILE" => Some("/x".into()),
            _ => None,
        };
        let read = |p: &str| {
            assert_eq!(p, "/run/secrets/db");
            Ok("s3cret\n\n".to_owned())
        };
        assert_eq!(
            file_env(&["DB_PASSWORD".into(), "UNSET".into()], &env, &read).unwrap(),
            [
                ("DB_PASSWORD".to_owned(), Some("s3cret".to_owned())),
                ("DB_PASSWORD_FILE".to_owned(), None)
            ]
        );
        let err = file_env(&["TOKEN".into()], &env, &read).unwrap_err();
        assert!(err.contains("both TOKEN and TOKEN_FILE"), "{err}");
        let missing = |_: &str| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(file_env(&["DB_PASSWORD".into()], &env, &missing).is_err());
    }

    #[test]
    fn waiting_pauses_between_tries_and_not_after_the_last() {
        let (mut calls, mut sleeps) = (0, Vec::new());
        let ok = wait_for(
            4,
            Duration::from_millis(250),
            &mut || {
                calls += 1;
                false
            },
            &mut |d| sleeps.push(d),
        );
        assert!(!ok);
        assert_eq!(calls, 4);
        assert_eq!(sleeps, vec![Duration::from_millis(250); 3]);
        let mut n = 0;
        assert!(wait_for(
            10,
            Duration::from_secs(1),
            &mut || {
                n += 1;
                n == 3
            },
            &mut |_| {}
        ));
        assert_eq!(n, 3);
    }
}
