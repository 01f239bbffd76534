//! A `distill.toml` with `[python]` or `[node]`: the app in the context is detected as it
//! would be without a config, with that table's settings ([`DetectOptions`]), and the rest
//! of the config goes on top of what detection gives.
//!
//! Detection decides the base (the app's runtime) and, unless `[image] debian` is written,
//! the release; a written release must be one the app allows. The config's own keys win
//! where written: entrypoint, cmd, workdir, user, variant; env merges by name, ours
//! winning; `[[files]]`, `[packages]`, `[certificates]` and `[entrypoint]` add to the image.

use distill_app::DetectOptions;
use distill_core::FamilyMember;
use toml::Spanned;

use super::checks::Checker;
use super::detect::{Found, app_request, detect_options, finish_app};
use super::types::{Options, Plan, PlanError, Request};
use crate::config::{Config, ConfigError, Source};

/// The plan of the app in `opts.context`, with the settings of `config` (read from `source`).
pub fn plan(config: Config, source: &Source, opts: &Options) -> Result<Plan, PlanError> {
    let c = Checker { source };
    if let Some(b) = &config.image.base {
        return Err(c.error(
                b.span(),
                "With [python] or [node], the base comes from the app's runtime".into(),
                "remove `base`; or, to choose the base yourself, remove the [python]/[node] table and list the app under [[files]]",
            )
            .into());
    }
    let (kind, span) = match (&config.python, &config.node) {
        (Some(_), Some(n)) => {
            return Err(c
                .error(
                    n.span(),
                    "A config describes one app: it has both [python] and [node]".into(),
                    "keep the table of the app in the context",
                )
                .into());
        }
        (Some(p), None) => ("Python", p.span()),
        (None, Some(n)) => ("Node", n.span()),
        (None, None) => unreachable!("only called with [python] or [node]"),
    };
    let detect = options(&c, &config, opts)?;
    // The app's start is the config's entrypoint when it names one, as `--entrypoint` is.
    let mut opts = opts.clone();
    if opts.entrypoint.is_none() {
        opts.entrypoint = config
            .image
            .entrypoint
            .as_ref()
            .map(|e| e.get_ref().clone());
    }
    let opts = &opts;
    let not_this = |what: String| -> PlanError {
        c.error(
            span.clone(),
            what,
            "build the directory that holds the app (CONTEXT), or change the table to the app's kind",
        )
        .into()
    };
    let Some(found) = app_request(opts, &detect)? else {
        return Err(not_this(format!(
            "The config has [{}], but {} holds no {kind} app",
            kind.to_lowercase(),
            opts.context.display()
        )));
    };
    let is_python = found.image.member == FamilyMember::Python3;
    if is_python != (kind == "Python") {
        return Err(not_this(format!(
            "The config has [{}], but {} holds {}",
            kind.to_lowercase(),
            opts.context.display(),
            found.image.summary
        )));
    }
    let mut cfg = super::config::request(config, source, opts)?;
    cfg.config = Some(source.path.clone());
    let Found { req, app, image } = found;
    finish_app(
        Found {
            req: overlay(req, cfg),
            app,
            image,
        },
        opts,
    )
}

/// The detection options: the command line's, with the table's added.
fn options(c: &Checker, config: &Config, opts: &Options) -> Result<DetectOptions, ConfigError> {
    let mut detect = detect_options(opts);
    detect.release = super::config::release(c, &config.image)?;
    let add = |to: &mut Vec<String>, from: &[Spanned<String>]| -> Result<(), ConfigError> {
        for name in from {
            if name.get_ref().trim().is_empty() {
                return c.err(
                    name.span(),
                    "An empty name".into(),
                    "write the package's or group's name",
                );
            }
            if !to.contains(name.get_ref()) {
                to.push(name.get_ref().clone());
            }
        }
        Ok(())
    };
    if let Some(p) = &config.python {
        add(&mut detect.groups, &p.get_ref().groups)?;
        add(&mut detect.allow_source, &p.get_ref().allow_source)?;
    }
    if let Some(n) = &config.node {
        add(&mut detect.allow_scripts, &n.get_ref().allow_scripts)?;
        if let Some(w) = &n.get_ref().workspace {
            add(&mut Vec::new(), std::slice::from_ref(w))?;
            // The command line's choice wins, as its other flags do.
            detect.workspace = detect.workspace.or_else(|| Some(w.get_ref().clone()));
        }
    }
    Ok(detect)
}

/// Detection's request `det` with the config's `cfg` on top.
fn overlay(det: Request, cfg: Request) -> Request {
    let mut env = det.env;
    for var in cfg.env {
        distill_core::env::set(&mut env, var);
    }
    env.sort();
    let mut files = det.files;
    files.extend(cfg.files);
    let mut debian = cfg.debian;
    debian.release = det.debian.release;
    debian.node = det.debian.node;
    debian.node_version = det.debian.node_version;
    debian.native = det.debian.native;
    Request {
        base: det.base,
        variant: if cfg.variant.explicit {
            cfg.variant
        } else {
            det.variant
        },
        env,
        entrypoint: cfg.entrypoint.or(det.entrypoint),
        cmd: cfg.cmd.or(det.cmd),
        workdir: cfg.workdir.or(det.workdir),
        user: cfg.user.or(det.user),
        files,
        debian,
        ..cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Base;
    use distill_core::Release;

    fn plan_in(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Plan, PlanError>) {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        let opts = Options {
            context: d.path().to_path_buf(),
            ..Default::default()
        };
        let plan = crate::plan::plan(&opts);
        (d, plan)
    }

    #[test]
    fn the_detected_app_with_the_config_on_top() {
        let (_d, plan) = plan_in(&[
            ("app.py", "print(1)\n"),
            ("requirements.txt", "flask==3.0.3\n"),
            (
                "distill.toml",
                "[image]\ndebian = \"12\"\ncmd = [\"--port\", \"9\"]\n\
                 [image.env]\nPYTHONUNBUFFERED = \"0\"\nMODE = \"prod\"\n\
                 [python]\nallow_source = [\"pkg\"]\n",
            ),
        ]);
        let plan = plan.unwrap();
        assert_eq!(plan.base, Base::Family(FamilyMember::Python3));
        assert_eq!(plan.debian.release, Release::Bookworm);
        assert_eq!(
            plan.image.cmd.as_deref(),
            Some(&["--port".to_owned(), "9".to_owned()][..])
        );
        let env: Vec<String> = plan.image.env.iter().map(ToString::to_string).collect();
        assert!(env.contains(&"MODE=prod".to_owned()), "{env:?}");
        assert!(env.contains(&"PYTHONUNBUFFERED=0".to_owned()), "{env:?}");
        assert!(!env.contains(&"PYTHONUNBUFFERED=1".to_owned()), "{env:?}");
        assert!(plan.config.is_some());
        assert!(plan.app.is_some());
        let entry = plan.image.entrypoint.clone().unwrap();
        assert_eq!(entry, ["/usr/bin/python3.11", "/app/app.py"]);
    }

    #[test]
    fn a_config_that_does_not_fit_the_app_names_its_line() {
        let py = [("app.py", "print(1)\n"), ("requirements.txt", "flask\n")];
        let with = |toml: &'static str| {
            let mut f = py.to_vec();
            f.push(("distill.toml", toml));
            plan_in(&f).1.unwrap_err().to_string()
        };
        let e = with("[image]\nbase = \"cc\"\n[python]\n");
        assert!(
            e.contains("distill.toml:2:") && e.contains("runtime"),
            "{e}"
        );
        let e = with("[node]\nallow_scripts = [\"x\"]\n");
        assert!(
            e.contains("distill.toml:1:") && e.contains("a Python app"),
            "{e}"
        );
        let e = with("[python]\ngroups = [\"\"]\n");
        assert!(e.contains("empty name"), "{e}");
        let (_d, p) = plan_in(&[("distill.toml", "[python]\n")]);
        let e = p.unwrap_err().to_string();
        assert!(e.contains("holds no Python app"), "{e}");
        let (_d, p) = plan_in(&[
            ("app.py", ""),
            (".python-version", "3.13\n"),
            ("distill.toml", "[image]\ndebian = \"12\"\n[python]\n"),
        ]);
        let e = p.unwrap_err().to_string();
        assert!(e.contains("asks for Debian 12"), "{e}");
    }
}
