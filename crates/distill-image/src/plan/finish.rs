//! From a [`Request`] to a [`Plan`]: defaults, and the family's recipe for a family base.

use std::collections::BTreeMap;
use std::path::PathBuf;

use distill_core::runtime::{ANNOTATION_EOL, ANNOTATION_RUNTIME};
use distill_core::{Platform, Release};
use distill_oci::ImageSpec;

use super::types::{
    Base, CA_BUNDLE, DEFAULT_PATH, DebianPlan, NONROOT_UID, Options, Plan, PlanError, Request,
    Variant,
};
use crate::config::ConfigError;

/// The platforms asked for, each once, or the host's.
pub fn platforms(asked: Option<Vec<Platform>>) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for p in asked.unwrap_or_else(|| vec![Platform::host()]) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

impl Request {
    /// A request for an image on `base`, with the defaults of everything else.
    pub fn on(base: Base, release: Release, opts: &Options, lockfile: PathBuf) -> Self {
        Self {
            base,
            variant: Variant {
                nonroot: true,
                debug: false,
                explicit: false,
            },
            platforms: platforms(opts.platforms.clone()),
            compression: opts.compression.unwrap_or_default(),
            env: Vec::new(),
            entrypoint: None,
            cmd: None,
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            ports: Vec::new(),
            stop_signal: None,
            volumes: Vec::new(),
            healthcheck: None,
            allow_setuid: false,
            files: Vec::new(),
            debian: DebianPlan {
                release,
                mirror: opts.mirror.clone(),
                keyring: None,
                include: Vec::new(),
                exclude: Vec::new(),
                tiers: Vec::new(),
                node: None,
                node_version: None,
                native: None,
                repositories: Vec::new(),
                lockfile,
                locked: opts.locked,
            },
            ca_extra: Vec::new(),
            init: None,
            init_at: None,
            config: None,
        }
    }
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// What a family member adds to a request: its variables (after the user's), its
/// entrypoint (unless the user gave one), its links, its runtime, and its packages.
struct Added {
    env: Vec<String>,
    entrypoint: Option<Vec<String>>,
    links: Vec<(String, String)>,
    extra: Vec<crate::family::Extra>,
    runtime: Option<distill_core::Runtime>,
    debian: DebianPlan,
}

fn family(
    req: &Request,
    member: distill_core::FamilyMember,
    mut entrypoint: Option<Vec<String>>,
) -> Added {
    let user_sets = |k: &str| req.env.iter().any(|e| e.name == k);
    let mut debian = req.debian.clone();
    let recipe = crate::family::recipe(member, debian.release);
    debian.tiers = crate::family::tiers(member)
        .iter()
        .map(|m| crate::family::recipe(*m, debian.release).packages)
        .collect();
    let mut env: Vec<String> = recipe
        .env
        .iter()
        .filter(|e| !user_sets(e.split_once('=').map_or(e.as_str(), |(k, _)| k)))
        .cloned()
        .collect();
    if entrypoint.is_none() {
        entrypoint = recipe.entrypoint.clone();
    }
    debian.node = crate::family::node_major(member);
    // Node trusts its own copy of Mozilla's list; extra CAs reach it through this.
    if debian.node.is_some() && !req.ca_extra.is_empty() && !user_sets("NODE_EXTRA_CA_CERTS") {
        env.push(format!("NODE_EXTRA_CA_CERTS={CA_BUNDLE}"));
    }
    let mut include = recipe.packages;
    for p in &req.debian.include {
        push_new(&mut include, p);
    }
    if req.variant.debug {
        push_new(&mut include, "busybox-static");
    }
    debian.include = include;
    for e in &recipe.exclude {
        push_new(&mut debian.exclude, e);
    }
    Added {
        env,
        entrypoint,
        links: recipe.links,
        extra: recipe.extra,
        runtime: recipe.runtime,
        debian,
    }
}

/// `[entrypoint]` needs a program to run in front of.
fn wrap_init(
    req: &Request,
    entrypoint: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, PlanError> {
    let Some(init) = &req.init else {
        return Ok(entrypoint);
    };
    if entrypoint.is_none() && req.cmd.is_none() {
        return Err(ConfigError::Invalid {
            at: req
                .init_at
                .clone()
                .unwrap_or_else(|| crate::config::Location {
                    path: "distill.toml".into(),
                    line: 1,
                    column: 1,
                }),
            message:
                "[entrypoint] runs distill-init in front of the app, but the image names no program"
                    .into(),
            hint: Some(
                "set entrypoint (or cmd) in [image], or build on a family member that has one"
                    .into(),
            ),
        }
        .into());
    }
    Ok(Some(init.wrap(entrypoint.as_deref().unwrap_or_default())))
}

/// Adds the defaults and the family's recipe to a request.
/// The defaults, then the user's variables (by name): their order is part of the digest,
/// and the family's come after them.
fn base_env(req: &Request, family: bool, debug: bool) -> Vec<String> {
    let user_sets = |k: &str| req.env.iter().any(|e| e.name == k);
    let mut env: Vec<String> = Vec::new();
    if !user_sets("PATH") {
        // Debug images find busybox's applets on PATH, as distroless's do.
        let busybox = if debug { ":/busybox" } else { "" };
        env.push(format!("PATH={DEFAULT_PATH}{busybox}"));
    }
    if family && !user_sets("SSL_CERT_FILE") {
        env.push(format!("SSL_CERT_FILE={CA_BUNDLE}"));
    }
    env.extend(req.env.iter().map(ToString::to_string));
    env
}

pub fn finish(req: Request, opts: &Options) -> Result<Plan, PlanError> {
    let member = match req.base {
        Base::Family(m) => Some(m),
        _ => None,
    };
    let Variant { nonroot, debug, .. } = req.variant;
    let mut env = base_env(&req, member.is_some(), debug);
    let entrypoint = req
        .entrypoint
        .clone()
        .or_else(|| debug.then(|| vec!["/busybox/sh".to_owned()]));
    let added = match member {
        Some(m) => family(&req, m, entrypoint),
        None => Added {
            env: Vec::new(),
            entrypoint,
            links: Vec::new(),
            extra: Vec::new(),
            runtime: None,
            debian: req.debian.clone(),
        },
    };
    env.extend(added.env);
    let (debian, family_links, family_extra) = (added.debian, added.links, added.extra);
    let runtime = added.runtime;
    deny_end_of_life(runtime, opts)?;
    let entrypoint = wrap_init(&req, added.entrypoint)?;
    let family = member;
    let workdir = req
        .workdir
        .clone()
        .or_else(|| (family.is_some() && nonroot).then(|| "/home/nonroot".to_owned()));
    let user = req.user.clone().or_else(|| match (nonroot, family) {
        // The family has /etc/passwd, which gives the group; scratch has none.
        (true, Some(_)) => Some(NONROOT_UID.to_string()),
        (true, None) => Some(format!("{NONROOT_UID}:{NONROOT_UID}")),
        (false, _) => None,
    });
    let annotations = runtime
        .map(|r| {
            BTreeMap::from([
                (
                    ANNOTATION_RUNTIME.to_owned(),
                    format!("{} {}", r.name, r.version),
                ),
                (ANNOTATION_EOL.to_owned(), r.eol.to_string()),
            ])
        })
        .unwrap_or_default();
    Ok(Plan {
        variant: Variant {
            explicit: req.variant.explicit || req.user.is_some(),
            ..req.variant
        },
        runtime,
        family_links,
        family_extra,
        init: req.init,
        detected: None,
        notes: Vec::new(),
        app: None,
        ca_extra: req.ca_extra,
        platforms: req.platforms,
        epoch: opts.epoch,
        compression: req.compression,
        image: ImageSpec {
            platform: None,
            created: opts.epoch,
            entrypoint,
            cmd: req.cmd,
            env,
            workdir,
            user,
            labels: req.labels,
            exposed_ports: req.ports,
            stop_signal: req.stop_signal,
            volumes: req.volumes,
            healthcheck: req.healthcheck,
            annotations,
        },
        files: req.files,
        debian,
        outputs: opts.outputs.clone(),
        registry: opts.registry.clone(),
        base: req.base,
        config: req.config,
        allow_setuid: req.allow_setuid,
    })
}

/// `--deny-eol`: a runtime past its end of life is refused.
fn deny_end_of_life(
    runtime: Option<distill_core::runtime::Runtime>,
    opts: &Options,
) -> Result<(), PlanError> {
    match runtime.filter(|r| opts.deny_eol && r.eol.is_past(now_secs())) {
        Some(r) => Err(PlanError::EndOfLife {
            name: r.name.to_owned(),
            version: r.version.to_owned(),
            eol: r.eol.to_string(),
        }),
        None => Ok(()),
    }
}

/// Now, as Unix seconds (0 if the clock is before 1970).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
