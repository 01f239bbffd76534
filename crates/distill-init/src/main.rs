//! distill-init's command line; see the library for what each part does.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use distill_init::options::{self, Command};

fn fail(message: &str) -> ExitCode {
    eprintln!("distill-init: {message}");
    // 2 would be "reserved" for a HEALTHCHECK; for a start-up failure it is only non-zero.
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match options::parse(&args) {
        Ok(c) => c,
        Err(e) => return fail(&format!("{e}\n\n{}", options::USAGE)),
    };
    let run = match command {
        Command::Help => {
            println!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("distill-init {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Health { url, timeout } => {
            return match distill_init::health::status(&url, timeout) {
                Ok(code) if (200..400).contains(&code) => ExitCode::SUCCESS,
                Ok(code) => {
                    eprintln!("distill-init: unhealthy: {url} answered {code}");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("distill-init: unhealthy: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Run(run) => run,
    };

    let read = |p: &str| std::fs::read_to_string(p);
    let system = |k: &str| std::env::var(k).ok();
    // The changes go to the program's environment at exec, and expansion sees them too; our
    // own environment is never modified (that is unsafe once threads may exist).
    let changes = match distill_init::file_env(&run.file_env, &system, &read) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let get = |k: &str| match changes.iter().find(|(name, _)| name == k) {
        Some((_, v)) => v.clone(),
        None => system(k),
    };

    for w in &run.wait {
        let ok = distill_init::wait_for(
            run.tries,
            run.interval,
            &mut || distill_init::try_connect(&w.host, w.port),
            &mut std::thread::sleep,
        );
        if !ok {
            return fail(&format!(
                "{}:{} did not accept a connection after {} tries, {:?} apart",
                w.host, w.port, run.tries, run.interval
            ));
        }
    }

    let mut argv = Vec::new();
    for a in &run.program {
        match distill_init::expand::expand(a, &get) {
            Ok(v) => argv.push(v),
            Err(e) => return fail(&e.to_string()),
        }
    }
    let mut command = std::process::Command::new(&argv[0]);
    command.args(&argv[1..]);
    for (k, v) in &changes {
        match v {
            Some(v) => command.env(k, v),
            None => command.env_remove(k),
        };
    }
    // exec, not spawn: the app becomes this process, so its exit code and the signals sent
    // to the container are its own.
    let err = command.exec();
    eprintln!("distill-init: cannot run {}: {err}", argv[0]);
    ExitCode::from(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}
