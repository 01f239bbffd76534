//! Terminal output: logging, progress bars, and error reports with hints.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DISTILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// An error raised by the binary itself, with its fix.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    #[help]
    pub hint: Option<String>,
}

impl Hinted {
    pub fn report(message: String, hint: &str) -> miette::Report {
        miette::Report::new(Self {
            message,
            hint: Some(hint.to_owned()),
        })
    }
}

/// A library error with what the command was doing when it failed (ko's way: name the
/// operation). Unlike miette's own `wrap_err`, it keeps the cause reachable as a
/// diagnostic, so the cause's hint is found.
#[derive(Debug)]
pub struct Failed {
    message: String,
    cause: Box<dyn miette::Diagnostic + Send + Sync + 'static>,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}

impl miette::Diagnostic for Failed {
    fn diagnostic_source(&self) -> Option<&dyn miette::Diagnostic> {
        Some(&*self.cause)
    }
}

/// `.context("Build failed")` on any library result.
pub trait Context<T> {
    fn context(self, message: &str) -> miette::Result<T>;
    fn with_context(self, message: impl FnOnce() -> String) -> miette::Result<T>;
}

impl<T, E: miette::Diagnostic + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context(self, message: &str) -> miette::Result<T> {
        self.with_context(|| message.to_owned())
    }

    fn with_context(self, message: impl FnOnce() -> String) -> miette::Result<T> {
        self.map_err(|e| {
            miette::Report::new(Failed {
                message: message(),
                cause: Box::new(e),
            })
        })
    }
}

/// Prints `error: ...`, the chain of causes, and the first hint along it (docs/style.md).
pub fn report_error(err: &miette::Report) {
    let diagnostic: &(dyn miette::Diagnostic + 'static) = err.as_ref();
    eprint!("{}", distill_core::hint::render(diagnostic));
}

/// Progress bars on stderr when it is a terminal; log lines otherwise, so logs stay clean.
pub struct Bars {
    bar: std::sync::Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: std::sync::Mutex::new(None),
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl distill_image::Progress for Bars {
    fn start(&self, message: &str, total: u64) {
        tracing::info!("{message}");
        if !self.enabled {
            return;
        }
        let bar = if total > 0 {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        } else {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(100));
            b
        };
        bar.set_message(message.to_owned());
        if let Some(old) = self
            .bar
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, units: u64) {
        if let Some(b) = &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            b.inc(units);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}
