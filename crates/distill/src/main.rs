//! The `distill` command line: parses arguments, calls one library function per command,
//! prints data on stdout and everything else on stderr.

mod commands;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "distill", version, about = "Turn an app into a distroless OCI image", long_about = None)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image and write it to one or more outputs; prints the image digest.
    Build(Box<commands::build::Args>),
    /// Build a member of the distroless family; prints its digest.
    Base(commands::base::Args),
    /// Resolve [packages] and write distill.lock beside the config.
    Lock(commands::lock::Args),
    /// Print the distill.toml equivalent to a Dockerfile's final stage: building it gives
    /// the digest `distill build -f Dockerfile` gives.
    Migrate(commands::migrate::Args),
    /// Copy an image to a registry (or any destination); prints its digest.
    Push(commands::push::PushArgs),
    /// Copy an image from a registry to local outputs; prints its digest.
    Pull(commands::push::PullArgs),
    /// Write an ECDSA P-256 key pair (PREFIX.key, PREFIX.pub) in cosign's format.
    Keygen(commands::keygen::Args),
    /// Write the SBOM (SPDX 2.3 or CycloneDX 1.6) of any image, from its package metadata.
    Sbom(commands::sbom::Args),
    /// Check an image's signature and every attestation attached to it against a public key.
    Verify(commands::sign::VerifyArgs),
    /// List (or, with --json, fetch) the attestations attached to an image in a registry.
    Attestations(commands::sign::AttestationsArgs),
    /// Report what is in any image: bytes by layer and package, findings, wasted bytes;
    /// exits 3 when a --fail-on gate fails.
    Inspect(commands::inspect::InspectArgs),
    /// Compare two images by packages, files and config; exits 3 when they differ.
    Diff(commands::inspect::DiffArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::init_logging(cli.verbose, cli.quiet);
    // Destructors do not run on a signal: remove the temporaries of unfinished outputs
    // ourselves, so an interrupted build leaves nothing behind.
    if let Err(e) = ctrlc::set_handler(|| {
        distill_oci::cleanup::remove_all();
        eprintln!("error: interrupted");
        std::process::exit(130);
    }) {
        tracing::warn!("cannot install the interrupt handler: {e}");
    }
    let done = |r: miette::Result<()>| r.map(|()| 0u8);
    let result = match cli.command {
        Command::Build(args) => done(commands::build::run(*args, cli.quiet)),
        Command::Lock(args) => done(commands::lock::run(args, cli.quiet)),
        Command::Migrate(args) => done(commands::migrate::run(args, cli.quiet)),
        Command::Base(args) => done(commands::base::run(args, cli.quiet)),
        Command::Push(args) => done(commands::push::push(args)),
        Command::Pull(args) => done(commands::push::pull(args)),
        Command::Keygen(args) => done(commands::keygen::run(args)),
        Command::Sbom(args) => done(commands::sbom::run(args)),
        Command::Verify(args) => done(commands::sign::verify(args)),
        Command::Attestations(args) => done(commands::sign::attestations(args)),
        Command::Inspect(args) => commands::inspect::inspect(args),
        Command::Diff(args) => commands::inspect::diff(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            ui::report_error(&err);
            ExitCode::FAILURE
        }
    }
}
