//! The validated build plan: what to build, checked and resolved, before any work.
//!
//! As in ripgrep, configuration comes in two stages. [`crate::config`] holds what was
//! written. Here it becomes first a [`Request`] (validated, with the line of every mistake:
//! [`config`]), or a request is made directly from what the context is ([`detect`]: a
//! Python or Node app, a binary) or from `distill base` ([`member`]); then [`finish`] adds
//! defaults and the family's recipe and gives the [`Plan`]. Nothing is built until a plan
//! exists. The one TOML written to be parsed again is a Dockerfile's translation
//! ([`crate::dockerfile`]): building it is building what `distill migrate` prints, so the
//! two give one digest by construction.

pub mod appconfig;
pub mod checks;
pub mod config;
pub mod detect;
mod files;
pub mod finish;
mod health;
pub mod types;

use std::path::PathBuf;

use distill_core::{FamilyMember, Release};

pub use finish::finish;
pub use types::*;

/// Loads the config named by `opts` (or detects what the context is) and plans the build.
pub fn plan(opts: &Options) -> Result<Plan, PlanError> {
    let mut plan = if opts.config.is_none() && opts.context.is_file() {
        detect::native(opts)?
    } else {
        let path = opts
            .config
            .clone()
            .unwrap_or_else(|| opts.context.join("distill.toml"));
        let detect = opts.config.is_none() && !path.exists() && opts.context.is_dir();
        match detect.then(|| detect::app(opts)).transpose()?.flatten() {
            Some(plan) => plan,
            None => load(&path, opts)?,
        }
    };
    if let Some(e) = &opts.entrypoint {
        plan.image.entrypoint = Some(e.clone());
    }
    if let Some(c) = &opts.cmd {
        plan.image.cmd = Some(c.clone());
    }
    Ok(plan)
}

/// Reads the config at `path` and plans it: a plan of its own, or, with `[python]` or
/// `[node]`, the detected app with the config's settings on top ([`appconfig`]).
fn load(path: &std::path::Path, opts: &Options) -> Result<Plan, PlanError> {
    if let Some(plan) = dockerfile(path, opts)? {
        return Ok(plan);
    }
    let (config, source) = crate::config::Config::load(path)?;
    if config.python.is_some() || config.node.is_some() {
        return appconfig::plan(config, &source, opts);
    }
    let mut req = config::request(config, &source, opts)?;
    req.config = Some(path.to_path_buf());
    finish(req, opts)
}

/// The plan of a Dockerfile at `path`: the distill.toml `distill migrate` prints, planned
/// as if read from a file (`None` when `path` is no Dockerfile).
fn dockerfile(path: &std::path::Path, opts: &Options) -> Result<Option<Plan>, PlanError> {
    // The head is enough to tell, and a large file is not read whole for it.
    let mut head = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 4096), &mut head));
    if read.is_err() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    if !crate::dockerfile::is_dockerfile(path, &text) {
        return Ok(None);
    }
    let migration = crate::dockerfile::load(
        path,
        &crate::dockerfile::Options {
            context: opts.context.clone(),
            build_args: opts.build_args.clone(),
            target: opts.target.clone(),
        },
    )?;
    let mut name = path.as_os_str().to_owned();
    name.push(" (as distill.toml)");
    let source = crate::config::Source {
        path: name.into(),
        text: migration.toml,
    };
    let config = crate::config::Config::parse(&source)?;
    let mut req = config::request(config, &source, opts)?;
    req.config = Some(path.to_path_buf());
    let mut plan = finish(req, opts)?;
    plan.notes = migration.notes;
    Ok(Some(plan))
}

/// The plan of `distill base`: a member of the family as an image of its own.
pub fn member(
    member: FamilyMember,
    release: Release,
    variant: Variant,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let mut req = Request::on(
        Base::Family(member),
        release,
        opts,
        PathBuf::from("distill.lock"),
    );
    req.variant = variant;
    finish(req, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::{Config, ConfigError, Source};
    use distill_core::{Arch, Platform};
    use distill_oci::Compression;

    fn plan_of(text: &str) -> Result<Plan, ConfigError> {
        let source = Source {
            path: "distill.toml".into(),
            text: text.into(),
        };
        let config = Config::parse(&source)?;
        let opts = Options {
            context: "/ctx".into(),
            ..Default::default()
        };
        finish(config::request(config, &source, &opts)?, &opts).map_err(|e| match e {
            PlanError::Config(c) => c,
            e => panic!("{e}"),
        })
    }

    const FILES: &str = "[[files]]\nsrc = \"app\"\ndst = \"/app\"\n";

    #[test]
    fn defaults_are_nonroot_host_platform_gzip_and_path() {
        let p = plan_of(FILES).unwrap();
        assert_eq!(p.image.user.as_deref(), Some("65532:65532"));
        assert_eq!(p.platforms, vec![Platform::host()]);
        assert_eq!(p.compression, Compression::Gzip);
        assert_eq!(p.image.env, vec![format!("PATH={DEFAULT_PATH}")]);
        assert_eq!(p.files[0].src, PathBuf::from("/ctx/app"));
        assert_eq!(p.files[0].origin, "distill.toml:2");
    }

    #[test]
    fn image_fields_are_carried_and_normalized() {
        let p = plan_of(&format!(
            "[image]\nvariant = \"latest\"\nentrypoint = [\"/app\"]\ncmd = [\"-v\"]\nenv = {{ B = \"2\", A = \"1\" }}\n\
             workdir = \"/w\"\nports = [\"8080\", \"53/udp\"]\nstop_signal = \"int\"\nlabels = {{ a = \"b\" }}\n\
             platforms = [\"linux/arm64\", \"linux/amd64\"]\ncompression = \"zstd\"\n{FILES}"
        ))
        .unwrap();
        assert_eq!(p.image.user, None);
        assert_eq!(
            p.image.env,
            vec![format!("PATH={DEFAULT_PATH}"), "A=1".into(), "B=2".into()]
        );
        assert_eq!(p.image.exposed_ports, vec!["53/udp", "8080/tcp"]);
        assert_eq!(p.image.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(
            p.platforms,
            vec![Platform::linux(Arch::Arm64), Platform::linux(Arch::Amd64)]
        );
        assert_eq!(p.compression, Compression::Zstd);
        assert_eq!(p.image.workdir.as_deref(), Some("/w"));
    }

    fn err_of(text: &str) -> (usize, String, String) {
        match plan_of(text).unwrap_err() {
            e @ ConfigError::Invalid { .. } => {
                let ConfigError::Invalid { at, .. } = &e else {
                    unreachable!()
                };
                (
                    at.line,
                    e.to_string(),
                    distill_core::hint(&e).unwrap_or_default(),
                )
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_line_and_give_a_hint() {
        let cases = [
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = \"0999\"\n",
                4,
                "Invalid mode",
            ),
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = 644\n",
                4,
                "decimal",
            ),
            (
                "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = \"4755\"\n",
                4,
                "setuid",
            ),
            ("[[files]]\nsrc = \"a\"\ndst = \"a\"\n", 3, "not absolute"),
            ("[image]\nvolumes = [\"data\"]\n", 2, "not absolute"),
            (
                "[image.healthcheck]\ntest = [\"CMD-SHELL\", \"curl x\"]\n",
                2,
                "needs /bin/sh",
            ),
            (
                "[image.healthcheck]\ntest = [\"CMD\", \"/x\"]\nretries = 0\n",
                3,
                "not a positive count",
            ),
            (
                "[image.healthcheck]\ntest = [\"CMD\", \"/x\"]\ninterval = \"5 s\"\n",
                3,
                "not a duration",
            ),
            (
                "[context]\nignore = [\"[\"]\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\n",
                2,
                "not valid",
            ),
            (
                "[[files]]\nsrc = \"*.none\"\ndst = \"/a/\"\n",
                2,
                "matches no file",
            ),
            (
                "[[files]]\nsrc = \"../a\"\ndst = \"/a\"\n",
                2,
                "outside the build context",
            ),
            (
                "[[files]]\nsrc = \"/etc/passwd\"\ndst = \"/a\"\n",
                2,
                "outside the build context",
            ),
            ("[image]\nbase = \"ubuntu\"\n", 2, "Unknown base"),
            (
                "[image]\nvariant = \"debug\"\n",
                2,
                "needs a base of the distroless family",
            ),
            ("[image]\nvariant = \"fat\"\n", 2, "Unknown variant"),
            ("[image]\nports = [\"http\"]\n", 2, "Invalid port"),
            ("[image]\nworkdir = \"app\"\n", 2, "not absolute"),
            ("[image]\nstop_signal = \"SIGFOO\"\n", 2, "stop signal"),
            ("[image]\nplatforms = [\"linux/s390x\"]\n", 2, "s390x"),
            ("[image]\ncompression = \"lz4\"\n", 2, "lz4"),
        ];
        for (text, line, needle) in cases {
            let (got_line, msg, hint) = err_of(text);
            assert_eq!(got_line, line, "{msg}");
            assert!(msg.contains(needle), "{msg} lacks {needle}");
            assert!(!hint.is_empty(), "{msg} has no hint");
        }
    }

    #[test]
    fn an_empty_image_is_refused() {
        let (_, msg, hint) = err_of("[image]\nentrypoint = [\"/x\"]\n");
        assert!(msg.contains("Nothing to put"), "{msg}");
        assert!(hint.contains("[[files]]"));
        assert!(
            !hint.contains("docs/"),
            "hints name no file the user may lack: {hint}"
        );
    }
}

#[cfg(test)]
mod family_tests {
    use super::*;
    use distill_core::runtime::ANNOTATION_EOL;

    /// `distill base` and `base = "python3"` give the same plan, with the family's defaults.
    #[test]
    fn a_member_plan_has_the_family_defaults() {
        let opts = Options::default();
        let nonroot = Variant {
            nonroot: true,
            debug: false,
            explicit: true,
        };
        let p = member(FamilyMember::Python3, Release::Trixie, nonroot, &opts).unwrap();
        assert_eq!(p.image.user.as_deref(), Some("65532"));
        assert_eq!(p.image.workdir.as_deref(), Some("/home/nonroot"));
        assert_eq!(
            p.image.env,
            [
                format!("PATH={DEFAULT_PATH}"),
                format!("SSL_CERT_FILE={CA_BUNDLE}"),
                "LANG=C.UTF-8".to_owned()
            ]
        );
        assert_eq!(
            p.image.entrypoint,
            Some(vec!["/usr/bin/python3.13".to_owned()])
        );
        assert_eq!(p.debian.tiers.len(), 5);
        assert_eq!(p.image.annotations[ANNOTATION_EOL], "2029-10");
        let debug = Variant {
            nonroot: false,
            debug: true,
            explicit: true,
        };
        let p = member(FamilyMember::Cc, Release::Bookworm, debug, &opts).unwrap();
        assert_eq!(p.image.entrypoint, Some(vec!["/busybox/sh".to_owned()]));
        assert!(p.debian.include.contains(&"busybox-static".to_owned()));
        assert!(p.image.env[0].ends_with(":/busybox"));
        assert_eq!(p.image.user, None);
    }
}
