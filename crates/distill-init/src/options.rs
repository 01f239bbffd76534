//! The command line: `distill-init [OPTIONS] [--] PROGRAM [ARGS...]` and
//! `distill-init healthcheck URL [--timeout=SECONDS]`.
//!
//! Options take their value after `=` only, so an argument of the program can never be taken
//! for one of ours: the first argument that is not one of our options is the program.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub file_env: Vec<String>,
    pub wait: Vec<Wait>,
    pub tries: u32,
    pub interval: Duration,
    pub program: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Run),
    Health { url: String, timeout: Duration },
    Help,
    Version,
}

pub const USAGE: &str = "\
usage: distill-init [OPTIONS] [--] PROGRAM [ARGS...]
       distill-init healthcheck http://HOST:PORT/PATH [--timeout=SECONDS]

Prepares the environment, then execs PROGRAM (it becomes the container's process: its exit
code and signals are the container's). $VAR, ${VAR} and ${VAR:-default} are expanded in
PROGRAM and every ARG; $$ is a literal $.

options:
  --file-env=VAR         set VAR from the file named in $VAR_FILE (setting both is an error)
  --wait-server=HOST:PORT  wait until HOST:PORT accepts TCP connections (repeatable)
  --wait-tries=N         connection attempts per server (default 30)
  --wait-interval=SECONDS  pause between attempts: 1, 0.5, 500ms, 2s (default 1)

healthcheck exits 0 when the URL answers 2xx or 3xx, else 1.";

/// `1`, `0.5`, `500ms`, `2s`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * scale <= 86_400.0 => {
            Ok(Duration::from_secs_f64(v * scale))
        }
        _ => Err(format!("`{s}` is not a duration (1, 0.5, 500ms, 2s)")),
    }
}

fn host_port(s: &str) -> Result<Wait, String> {
    let bad = || format!("`{s}` is not HOST:PORT");
    // [v6::addr]:port, or the last colon.
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
            (h, p)
        }
        None => s.rsplit_once(':').ok_or_else(bad)?,
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Wait {
        host: host.to_owned(),
        port,
    })
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("healthcheck") => {
            let mut url = None;
            let mut timeout = Duration::from_secs(3);
            for a in &args[1..] {
                if let Some(v) = a.strip_prefix("--timeout=") {
                    timeout = duration(v)?;
                } else if url.is_none() && !a.starts_with("--") {
                    url = Some(a.clone());
                } else {
                    return Err(format!("unexpected `{a}` after healthcheck"));
                }
            }
            let url = url.ok_or("healthcheck needs a URL: http://HOST:PORT/PATH")?;
            return Ok(Command::Health { url, timeout });
        }
        Some("--help" | "-h") => return Ok(Command::Help),
        Some("--version") => return Ok(Command::Version),
        _ => {}
    }
    let mut run = Run {
        file_env: Vec::new(),
        wait: Vec::new(),
        tries: 30,
        interval: Duration::from_secs(1),
        program: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with("--") {
            break;
        }
        let (key, value) = a
            .split_once('=')
            .ok_or_else(|| format!("`{a}` needs a value: {a}=..."))?;
        match key {
            "--file-env" => {
                let valid = !value.is_empty()
                    && !value.starts_with(|c: char| c.is_ascii_digit())
                    && value.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
                if !valid {
                    return Err(format!("`{value}` is not a variable name"));
                }
                run.file_env.push(value.to_owned());
            }
            "--wait-server" => run.wait.push(host_port(value)?),
            "--wait-tries" => {
                run.tries = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{value}` is not a positive number of tries"))?;
            }
            "--wait-interval" => run.interval = duration(value)?,
            _ => return Err(format!("unknown option `{key}`")),
        }
        i += 1;
    }
    run.program = args[i..].to_vec();
    if run.program.is_empty() {
        return Err("no program to run".into());
    }
    Ok(Command::Run(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn run_options_then_the_program() {
        let Command::Run(r) = p(&[
            "--file-env=DB_PASSWORD",
            "--wait-server=db:5432",
            "--wait-server=[::1]:80",
            "--wait-tries=5",
            "--wait-interval=250ms",
            "/app",
            "--wait-tries=not-ours",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.file_env, ["DB_PASSWORD"]);
        assert_eq!(
            r.wait[0],
            Wait {
                host: "db".into(),
                port: 5432
            }
        );
        assert_eq!(
            r.wait[1],
            Wait {
                host: "::1".into(),
                port: 80
            }
        );
        assert_eq!((r.tries, r.interval), (5, Duration::from_millis(250)));
        assert_eq!(r.program, ["/app", "--wait-tries=not-ours"]);
        let Command::Run(r) = p(&["--", "--weird-program"]).unwrap() else {
            panic!()
        };
        assert_eq!(r.program, ["--weird-program"]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_crash() {
        for bad in [
            &["--wait-server=db"][..],
            &["--wait-server=db:0", "/app"],
            &["--wait-server=:80", "/app"],
            &["--wait-tries=0", "/app"],
            &["--wait-interval=-1", "/app"],
            &["--wait-interval=NaN", "/app"],
            &["--file-env=1X", "/app"],
            &["--file-env", "/app"],
            &["--nope=1", "/app"],
            &["--file-env=A"],
            &[],
            &["healthcheck"],
            &["healthcheck", "http://x/", "extra"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_and_healthcheck() {
        assert_eq!(duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2s").unwrap(), Duration::from_secs(2));
        assert!(duration("1e9").is_err());
        assert_eq!(
            p(&["healthcheck", "http://127.0.0.1:8080/health", "--timeout=1"]).unwrap(),
            Command::Health {
                url: "http://127.0.0.1:8080/health".into(),
                timeout: Duration::from_secs(1)
            }
        );
    }
}
