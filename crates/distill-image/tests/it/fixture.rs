//! A signed Debian 12 repository of the family's lower members, served from memory at
//! `http://repo.test`, and the plans and sources to build against it.

use std::path::{Path, PathBuf};

use distill_apt::fetch::Cache;
use distill_core::{FamilyMember, Release};
use distill_image::plan::{Options, Plan, Variant};
use distill_image::{Report, Sources};
use distill_test::aptrepo::{AptRepo, DebSpec, GpgKey};
use distill_test::memfetch::MemFetcher;

pub const MIRROR: &str = "http://repo.test/debian";
/// The build's clock, fixed: digests depend on it.
pub const EPOCH: u64 = 1_700_000_000;

pub struct Fixture {
    pub repo: AptRepo,
    pub key: GpgKey,
    pub fetcher: MemFetcher,
    pub cache: tempfile::TempDir,
    pub out: tempfile::TempDir,
    /// An apt configuration with no sources: the mirror is always given.
    pub apt: tempfile::TempDir,
    /// The layer cache's format (tests bump it).
    pub layers: distill_image::layercache::LayerCache,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(&distill_test::family::packages())
    }

    pub fn with(debs: &[DebSpec]) -> Self {
        let key = GpgKey::generate("repo");
        let repo = AptRepo::new();
        repo.bookworm(debs, &key);
        Self {
            fetcher: MemFetcher::of_dir(repo.path(), "http://repo.test"),
            repo,
            key,
            cache: tempfile::tempdir().unwrap(),
            out: tempfile::tempdir().unwrap(),
            apt: tempfile::tempdir().unwrap(),
            layers: distill_image::layercache::LayerCache::new(),
        }
    }

    pub fn cache(&self) -> Cache {
        Cache::new(self.cache.path().to_path_buf())
    }

    pub fn opts(&self, name: &str) -> Options {
        Options {
            context: self.out.path().to_path_buf(),
            outputs: vec![
                format!("oci:{}", self.layout(name).display())
                    .parse()
                    .unwrap(),
            ],
            epoch: EPOCH,
            mirror: Some(MIRROR.into()),
            ..Default::default()
        }
    }

    pub fn layout(&self, name: &str) -> PathBuf {
        self.out.path().join(name)
    }

    /// The plan of `distill base MEMBER --debian 12 --variant nonroot` on this repository.
    pub fn member(&self, member: FamilyMember, name: &str) -> Plan {
        let variant = Variant {
            nonroot: true,
            debug: false,
            explicit: true,
        };
        let mut plan =
            distill_image::plan::member(member, Release::Bookworm, variant, &self.opts(name))
                .unwrap();
        plan.debian.keyring = Some(self.key.public.clone());
        plan
    }

    /// The plan of the `distill.toml` text `config`, in a context of its own.
    pub fn config(&self, config: &str, name: &str) -> Result<Plan, distill_image::PlanError> {
        let ctx = self.out.path().join(format!("{name}-ctx"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy(&self.key.public, ctx.join("repo.asc")).unwrap();
        std::fs::write(ctx.join("distill.toml"), config).unwrap();
        distill_image::plan(&Options {
            context: ctx,
            ..self.opts(name)
        })
    }

    /// The repository, the cache and no host keyring.
    fn with_sources<T>(&self, f: impl FnOnce(&Sources) -> T) -> T {
        let cache = self.cache();
        f(&Sources {
            cache: &cache,
            fetcher: &self.fetcher,
            apt_dir: self.apt.path(),
            host_keyring: Path::new("/nonexistent/keyring.gpg"),
            layers: self.layers.clone(),
        })
    }

    // The library's own error, as the CLI gets it; a test has no use for boxing it.
    #[allow(clippy::result_large_err)]
    pub fn build(&self, plan: &Plan) -> Result<Report, distill_image::BuildError> {
        self.with_sources(|s| distill_image::assemble(plan, s, &distill_apt::install::Silent))
    }

    /// What `distill lock` resolves for `plan`.
    pub fn lock(&self, plan: &Plan) -> distill_image::lock::Lockfile {
        self.with_sources(|s| {
            distill_image::resolve::lock(
                &plan.debian,
                &plan.platforms,
                s,
                &distill_apt::install::Silent,
            )
        })
        .unwrap()
    }

    pub fn build_ok(&self, plan: &Plan) -> Report {
        let report = self.build(plan).unwrap_or_else(|e| {
            panic!("{}", distill_core::hint::render(&e));
        });
        let layout = plan.outputs[0].path().unwrap();
        distill_test::validate_layout(layout).unwrap();
        report
    }
}
