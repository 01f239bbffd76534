//! From `distill.toml` to a [`Request`]: every value checked, every mistake an error that
//! names its line, with the command line's options applied where they override the file.

use distill_core::{EnvVar, FamilyMember, Platform, Release};
use distill_oci::Compression;
use toml::Spanned;

use super::checks::{self, Checker, beside};
use super::finish::platforms;
use super::types::{Base, DebianPlan, Options, RepositoryPlan, Request, Variant};
use crate::config::{Config, ConfigError, ImageSection, Source};

fn base(c: &Checker, img: &ImageSection) -> Result<Base, ConfigError> {
    let Some(b) = &img.base else {
        return Ok(Base::Scratch);
    };
    if b.get_ref() == "scratch" {
        return Ok(Base::Scratch);
    }
    if let Ok(m) = b.get_ref().parse::<FamilyMember>() {
        return Ok(Base::Family(m));
    }
    match b.get_ref().strip_prefix("docker://") {
        Some(r) => match r.parse() {
            Ok(r) => Ok(Base::Registry(r)),
            Err(e) => c.err(
                b.span(),
                format!("{e}"),
                "write base = \"docker://HOST/REPO:TAG\", optionally with @sha256:DIGEST",
            ),
        },
        None => c.err(
            b.span(),
            format!("Unknown base `{}`", b.get_ref()),
            &format!(
                "use base = \"scratch\", one of the family ({}), or an image in a registry: base = \"docker://HOST/REPO:TAG@sha256:...\"",
                FamilyMember::names()
            ),
        ),
    }
}

fn variant(c: &Checker, img: &ImageSection, base: &Base) -> Result<Variant, ConfigError> {
    let family = matches!(base, Base::Family(_));
    let explicit = img.variant.is_some();
    let (nonroot, debug) = match img
        .variant
        .as_ref()
        .map(|v| (v.get_ref().as_str(), v.span()))
    {
        None | Some(("nonroot", _)) => (true, false),
        Some(("latest", _)) => (false, false),
        Some(("debug", _)) if family => (false, true),
        Some(("debug-nonroot", _)) if family => (true, true),
        Some((v @ ("debug" | "debug-nonroot"), span)) => {
            return c.err(
                span,
                format!("The {v} variant needs a base of the distroless family"),
                "use base = \"static\", \"base\" or \"cc\" for a debug image with a busybox shell",
            );
        }
        Some((other, span)) => {
            return c.err(
                span,
                format!("Unknown variant `{other}`"),
                "use \"nonroot\" (the default: uid 65532), \"latest\" (root), or with a family base \"debug\" or \"debug-nonroot\"",
            );
        }
    };
    Ok(Variant {
        nonroot,
        debug,
        explicit,
    })
}

fn platform_list(
    c: &Checker,
    img: &ImageSection,
    opts: &Options,
) -> Result<Vec<Platform>, ConfigError> {
    let asked = match (&opts.platforms, &img.platforms) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(list)) => {
            let mut out = Vec::new();
            for p in list.get_ref() {
                match p.parse::<Platform>() {
                    Ok(p) => out.push(p),
                    Err(e) => {
                        return c.err(
                            list.span(),
                            e.to_string(),
                            "write platforms = [\"linux/amd64\", \"linux/arm64\"]",
                        );
                    }
                }
            }
            Some(out)
        }
        (None, None) => None,
    };
    let out = platforms(asked);
    if out.is_empty() {
        let span = img.platforms.as_ref().map(|p| p.span()).unwrap_or(0..0);
        return c.err(
            span,
            "No platform to build".into(),
            "list at least one, such as \"linux/amd64\"",
        );
    }
    Ok(out)
}

fn env(c: &Checker, img: &ImageSection) -> Result<Vec<EnvVar>, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in &img.env {
        match EnvVar::new(k, v.get_ref()) {
            Ok(var) => out.push(var),
            Err(_) => {
                return c.err(
                    v.span(),
                    format!("Invalid environment variable name `{k}`"),
                    "names are non-empty and have no `=`",
                );
            }
        }
    }
    Ok(out)
}

fn workdir_and_user(
    c: &Checker,
    img: &ImageSection,
) -> Result<(Option<String>, Option<String>), ConfigError> {
    let workdir = match &img.workdir {
        Some(w) if !w.get_ref().starts_with('/') => {
            return c.err(
                w.span(),
                format!("workdir `{}` is not absolute", w.get_ref()),
                "write it from the image root, such as \"/app\"",
            );
        }
        w => w.as_ref().map(|w| w.get_ref().clone()),
    };
    let user = match &img.user {
        Some(u) if u.get_ref().is_empty() || u.get_ref().contains(char::is_whitespace) => {
            return c.err(
                u.span(),
                format!("Invalid user `{}`", u.get_ref()),
                "write USER, UID or UID:GID, such as \"65532:65532\"",
            );
        }
        u => u.as_ref().map(|u| u.get_ref().clone()),
    };
    Ok((workdir, user))
}

/// Validates an already parsed config into a request.
pub fn request(config: Config, source: &Source, opts: &Options) -> Result<Request, ConfigError> {
    let c = Checker { source };
    let img = &config.image;
    let base = base(&c, img)?;
    let variant = variant(&c, img, &base)?;
    let platforms = platform_list(&c, img, opts)?;
    let compression = match (opts.compression, &img.compression) {
        (Some(c), _) => c,
        (None, Some(s)) => match s.get_ref().parse::<Compression>() {
            Ok(v) => v,
            Err(e) => return c.err(s.span(), e, "use \"gzip\" or \"zstd\""),
        },
        (None, None) => Compression::Gzip,
    };
    let env = env(&c, img)?;
    let (workdir, user) = workdir_and_user(&c, img)?;
    let mut ports = Vec::new();
    for p in &img.ports {
        ports.push(checks::port(&c, p)?);
    }
    ports.sort();
    ports.dedup();
    let stop_signal = img
        .stop_signal
        .as_ref()
        .map(|s| checks::signal(&c, s))
        .transpose()?;
    if let Some(e) = img.entrypoint.as_ref().filter(|e| e.get_ref().is_empty()) {
        return c.err(
            e.span(),
            "entrypoint is empty".into(),
            "remove it, or name the program to run",
        );
    }
    let context = std::path::absolute(&opts.context).map_err(|source| ConfigError::Read {
        path: opts.context.clone(),
        source,
    })?;
    let files = super::files::specs(&c, &config, &context)?;
    let volumes = super::health::volumes(&c, img)?;
    let healthcheck = img
        .healthcheck
        .as_ref()
        .map(|h| super::health::healthcheck(&c, h))
        .transpose()?;
    let debian = debian(&c, &config, opts)?;
    let app = config.python.is_some() || config.node.is_some();
    if files.is_empty() && debian.include.is_empty() && base == Base::Scratch && !app {
        return c.err(
            0..0,
            "Nothing to put in the image".into(),
            "add a [[files]] item with src and dst, or list Debian packages in [packages] include, or set base = \"static\"",
        );
    }
    let init = config
        .entrypoint
        .as_ref()
        .map(|s| checks::init(&c, s))
        .transpose()?;
    Ok(Request {
        base,
        variant,
        platforms,
        compression,
        env,
        entrypoint: img.entrypoint.clone().map(Spanned::into_inner),
        cmd: img.cmd.clone(),
        workdir,
        user,
        labels: img.labels.clone(),
        ports,
        stop_signal,
        volumes,
        healthcheck,
        allow_setuid: img.allow_setuid.unwrap_or(false),
        files,
        debian,
        ca_extra: config
            .certificates
            .extra
            .iter()
            .map(|p| beside(source, p.get_ref()))
            .collect(),
        init_at: config.entrypoint.as_ref().map(|s| source.locate(&s.span())),
        init,
        config: None,
    })
}

fn package_name(c: &Checker, p: &Spanned<String>) -> Result<String, ConfigError> {
    let name = p.get_ref();
    let valid = name.len() >= 2
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
        && name.starts_with(|ch: char| ch.is_ascii_alphanumeric());
    if !valid {
        return c.err(
            p.span(),
            format!("`{name}` is not a Debian package name"),
            "package names are lowercase letters, digits, + - and .",
        );
    }
    Ok(name.clone())
}

/// `[image] debian`, when written.
pub(crate) fn release(c: &Checker, img: &ImageSection) -> Result<Option<Release>, ConfigError> {
    match &img.debian {
        None => Ok(None),
        Some(r) => match r.get_ref().parse::<Release>() {
            Ok(v) => Ok(Some(v)),
            Err(e) => c.err(
                r.span(),
                e.to_string(),
                "use \"12\" (bookworm) or \"13\" (trixie)",
            ),
        },
    }
}

fn debian(c: &Checker, config: &Config, opts: &Options) -> Result<DebianPlan, ConfigError> {
    let release = release(c, &config.image)?.unwrap_or_default();
    let mirror = match (&opts.mirror, &config.debian.mirror) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(m))
            if !(m.get_ref().starts_with("http://") || m.get_ref().starts_with("https://")) =>
        {
            return c.err(
                m.span(),
                format!("mirror `{}` is not an http(s) URL", m.get_ref()),
                "write the archive's base URL, as in the host's apt sources",
            );
        }
        (None, m) => m.as_ref().map(|m| m.get_ref().clone()),
    };
    let mut include: Vec<String> = Vec::new();
    for p in &config.packages.include {
        let name = package_name(c, p)?;
        if !include.contains(&name) {
            include.push(name);
        }
    }
    let mut repositories = Vec::new();
    for r in &config.repositories {
        let signed = r.signed.unwrap_or(true);
        if signed && r.keyring.is_none() {
            return c.err(
                r.uri.span(),
                format!("Repository `{}` has no keyring", r.uri.get_ref()),
                "add keyring = \"vendor.gpg\" with the repository's public key (or, insecurely, signed = false)",
            );
        }
        repositories.push(RepositoryPlan {
            uri: r.uri.get_ref().trim_end_matches('/').to_owned(),
            suites: r.suites.clone(),
            components: if r.components.is_empty() {
                vec!["main".into()]
            } else {
                r.components.clone()
            },
            keyring: r.keyring.as_ref().map(|k| beside(c.source, k.get_ref())),
            signed,
        });
    }
    let mut exclude: Vec<String> = Vec::new();
    for p in &config.packages.exclude {
        if !exclude.contains(p.get_ref()) {
            exclude.push(p.get_ref().clone());
        }
    }
    Ok(DebianPlan {
        release,
        mirror,
        keyring: config
            .debian
            .keyring
            .as_ref()
            .map(|k| beside(c.source, k.get_ref())),
        include,
        exclude,
        tiers: Vec::new(),
        node: None,
        node_version: None,
        native: None,
        repositories,
        lockfile: beside(c.source, "distill.lock"),
        locked: opts.locked,
    })
}
