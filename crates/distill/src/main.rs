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
    Build(commands::build::Args),
    /// Build a member of the distroless family; prints its digest.
    Base(commands::base::Args),
    /// Resolve [packages] and write distill.lock beside the config.
    Lock(commands::lock::Args),
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
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args, cli.quiet),
        Command::Lock(args) => commands::lock::run(args, cli.quiet),
        Command::Base(args) => commands::base::run(args, cli.quiet),
        Command::Push(args) => commands::push::push(args),
        Command::Pull(args) => commands::push::pull(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Sbom(args) => commands::sbom::run(args),
        Command::Verify(args) => commands::sign::verify(args),
        Command::Attestations(args) => commands::sign::attestations(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            ui::report_error(&err);
            ExitCode::FAILURE
        }
    }
}
