//! The image model: an [`ImageSpec`] plus its layers become a config blob and a manifest, and
//! several platform images become an index.
//!
//! Implements the OCI image-spec v1.1 `config.md`, `manifest.md` and `image-index.md`. The
//! config's `created` and every history entry carry the build's epoch
//! (`SOURCE_DATE_EPOCH`, 0 by default), never the wall clock: "The same inputs give the
//! same digest."

use std::collections::BTreeMap;
use std::fmt;

use oci_spec::image::{
    Arch, ConfigBuilder, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, PlatformBuilder, RootFsBuilder,
};

use crate::blob::{BlobStore, BlobStoreError};
use crate::canonical;
use crate::digest::Digest;
use crate::layer::Layer;
use crate::media;
use distill_core::Platform;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImageError {
    #[error("Cannot build the OCI {what}: {source}")]
    Spec {
        what: &'static str,
        source: oci_spec::OciSpecError,
    },
    #[error("Cannot serialize the OCI {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("Creation time {0} is past the year 9999, which RFC 3339 cannot write")]
    #[diagnostic(help("set SOURCE_DATE_EPOCH to a Unix time before the year 10000"))]
    Created(u64),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Blob(#[from] BlobStoreError),
}

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
pub const MAX_EPOCH: u64 = 253_402_300_799;

/// A platform as an OCI descriptor or config writes it: any OS and architecture, as images
/// pulled from registries may carry. What distill builds for is [`distill_core::Platform`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OciPlatform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl From<Platform> for OciPlatform {
    fn from(p: Platform) -> Self {
        Self {
            os: p.os().to_owned(),
            architecture: p.arch.debian().to_owned(),
            variant: p.arch.oci_variant().map(str::to_owned),
        }
    }
}

impl OciPlatform {
    /// The build platform this is, when distill builds for it.
    pub fn platform(&self) -> Option<Platform> {
        let arch = distill_core::Arch::ALL
            .into_iter()
            .find(|a| a.debian() == self.architecture)?;
        (self.os == "linux").then_some(Platform::linux(arch))
    }

    fn to_oci(&self) -> Result<oci_spec::image::Platform, ImageError> {
        let mut b = PlatformBuilder::default()
            .architecture(Arch::from(self.architecture.as_str()))
            .os(Os::from(self.os.as_str()));
        if let Some(v) = &self.variant {
            b = b.variant(v.clone());
        }
        b.build().map_err(|source| ImageError::Spec {
            what: "platform",
            source,
        })
    }
}

impl fmt::Display for OciPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Everything about one platform's image except its layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSpec {
    pub platform: Option<Platform>,
    /// Seconds since the Unix epoch; also every layer entry's mtime.
    pub created: u64,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE` pairs, in the order given.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT/PROTO` such as `8080/tcp`.
    pub exposed_ports: Vec<String>,
    pub stop_signal: Option<String>,
    /// Mount points (`Volumes`), such as `/data`.
    pub volumes: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Docker's `Healthcheck` in the image config. The OCI image-spec has no such field, but
/// Docker and podman read it from there, so it is written as Docker writes it; durations
/// are in nanoseconds, and unset ones (Docker's zero) are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Healthcheck {
    /// `["CMD", PROGRAM, ARGS...]` or `["NONE"]`.
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// One layer plus the history line that says where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    pub layer: Layer,
    pub created_by: String,
}

/// A written platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub platform: OciPlatform,
    /// The manifest's media type: OCI for what distill writes, maybe Docker's when pulled.
    pub media_type: &'static str,
    pub manifest: Digest,
    pub manifest_size: u64,
    pub config: Digest,
    pub config_size: u64,
    pub layers: Vec<Layer>,
}

/// The result of a build: one image, or an index over several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub images: Vec<BuiltImage>,
    /// The index (media type, digest, size), when there is more than one platform.
    pub index: Option<(&'static str, Digest, u64)>,
}

impl Built {
    /// The digest a user refers to: the index when multi-platform, else the manifest.
    pub fn digest(&self) -> &Digest {
        match &self.index {
            Some((_, d, _)) => d,
            None => &self.images[0].manifest,
        }
    }

    /// The media type, digest and size of [`Built::digest`].
    pub fn root(&self) -> (&'static str, &Digest, u64) {
        match &self.index {
            Some((m, d, s)) => (m, d, *s),
            None => (
                self.images[0].media_type,
                &self.images[0].manifest,
                self.images[0].manifest_size,
            ),
        }
    }

    /// Every blob the image references, each once, index and manifests first.
    pub fn blobs(&self) -> Vec<Digest> {
        let mut out: Vec<Digest> = Vec::new();
        let mut push = |d: &Digest| {
            if !out.contains(d) {
                out.push(d.clone());
            }
        };
        if let Some((_, d, _)) = &self.index {
            push(d);
        }
        for img in &self.images {
            push(&img.manifest);
            push(&img.config);
            img.layers.iter().for_each(|l| push(&l.digest));
        }
        out
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time: depends on nothing but the epoch (no time zone).
/// `None` past [`MAX_EPOCH`], where humantime's formatter fails (and `to_string` panics).
pub fn rfc3339(epoch: u64) -> Option<String> {
    use std::fmt::Write;
    if epoch > MAX_EPOCH {
        return None;
    }
    let t = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(epoch))?;
    let mut out = String::new();
    write!(out, "{}", humantime::format_rfc3339_seconds(t)).ok()?;
    Some(out)
}

fn put_json<T: serde::Serialize>(
    store: &BlobStore,
    what: &'static str,
    value: &T,
) -> Result<(Digest, u64), ImageError> {
    let bytes = canonical::to_vec(value).map_err(|source| ImageError::Json { what, source })?;
    let digest = store.put(&bytes)?;
    Ok((digest, bytes.len() as u64))
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> DescriptorBuilder {
    DescriptorBuilder::default()
        .media_type(MediaType::from(media_type))
        .digest(crate::digest::to_oci(digest))
        .size(size)
}

fn spec_err(what: &'static str) -> impl FnOnce(oci_spec::OciSpecError) -> ImageError {
    move |source| ImageError::Spec { what, source }
}

/// The runtime part of an image config (`config` in image-spec `config.md`).
fn runtime_config(spec: &ImageSpec) -> Result<oci_spec::image::Config, ImageError> {
    let mut cfg = ConfigBuilder::default();
    if let Some(v) = &spec.entrypoint {
        cfg = cfg.entrypoint(v.clone());
    }
    if let Some(v) = &spec.cmd {
        cfg = cfg.cmd(v.clone());
    }
    if !spec.env.is_empty() {
        cfg = cfg.env(spec.env.clone());
    }
    if let Some(v) = &spec.workdir {
        cfg = cfg.working_dir(v.clone());
    }
    if let Some(v) = &spec.user {
        cfg = cfg.user(v.clone());
    }
    if !spec.labels.is_empty() {
        cfg = cfg.labels(
            spec.labels
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
    }
    if !spec.exposed_ports.is_empty() {
        cfg = cfg.exposed_ports(spec.exposed_ports.clone());
    }
    if let Some(v) = &spec.stop_signal {
        cfg = cfg.stop_signal(v.clone());
    }
    if !spec.volumes.is_empty() {
        cfg = cfg.volumes(spec.volumes.clone());
    }
    cfg.build().map_err(spec_err("config"))
}

/// The config as JSON with `config.Healthcheck` added.
fn with_healthcheck(
    config: &oci_spec::image::ImageConfiguration,
    check: &Healthcheck,
) -> Result<serde_json::Value, ImageError> {
    let json = |source| ImageError::Json {
        what: "image config",
        source,
    };
    let mut value = serde_json::to_value(config).map_err(json)?;
    let check = serde_json::to_value(check).map_err(json)?;
    if let Some(cfg) = value.get_mut("config").and_then(|c| c.as_object_mut()) {
        cfg.insert("Healthcheck".into(), check);
    }
    Ok(value)
}

/// Writes the config and manifest of one platform image into `store`.
pub fn write_image(
    store: &BlobStore,
    spec: &ImageSpec,
    layers: &[ImageLayer],
) -> Result<BuiltImage, ImageError> {
    let platform = OciPlatform::from(spec.platform.unwrap_or_else(Platform::host));
    let created = rfc3339(spec.created).ok_or(ImageError::Created(spec.created))?;
    let cfg = runtime_config(spec)?;
    let history = layers
        .iter()
        .map(|l| {
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(l.created_by.clone())
                .build()
                .map_err(spec_err("history"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|l| l.layer.diff_id.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec_err("rootfs"))?;
    let mut config = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::from(platform.architecture.as_str()))
        .os(Os::from(platform.os.as_str()))
        .config(cfg)
        .rootfs(rootfs)
        .history(history);
    if let Some(v) = &platform.variant {
        config = config.variant(v.clone());
    }
    let config = config.build().map_err(spec_err("image config"))?;
    let (config_digest, config_size) = match &spec.healthcheck {
        None => put_json(store, "image config", &config)?,
        Some(h) => put_json(store, "image config", &with_healthcheck(&config, h)?)?,
    };

    let layer_descs = layers
        .iter()
        .map(|l| {
            descriptor(l.layer.media_type, &l.layer.digest, l.layer.size)
                .build()
                .map_err(spec_err("layer descriptor"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut annotations = spec.annotations.clone();
    annotations.insert(media::ANNOTATION_CREATED.into(), created);
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(
            descriptor(media::OCI_CONFIG, &config_digest, config_size)
                .build()
                .map_err(spec_err("config descriptor"))?,
        )
        .layers(layer_descs)
        .annotations(
            annotations
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .map_err(spec_err("manifest"))?;
    let (manifest, manifest_size) = put_json(store, "manifest", &manifest)?;
    Ok(BuiltImage {
        platform,
        media_type: media::OCI_MANIFEST,
        manifest,
        manifest_size,
        config: config_digest,
        config_size,
        layers: layers.iter().map(|l| l.layer.clone()).collect(),
    })
}

/// Writes an index over `images` (one per platform) when there are several.
pub fn finish(store: &BlobStore, images: Vec<BuiltImage>) -> Result<Built, ImageError> {
    if images.len() < 2 {
        return Ok(Built {
            images,
            index: None,
        });
    }
    let manifests = images
        .iter()
        .map(|img| {
            descriptor(img.media_type, &img.manifest, img.manifest_size)
                .platform(img.platform.to_oci()?)
                .build()
                .map_err(spec_err("manifest descriptor"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(spec_err("index"))?;
    let (digest, size) = put_json(store, "index", &index)?;
    Ok(Built {
        images,
        index: Some((media::OCI_INDEX, digest, size)),
    })
}

/// The descriptor of the built image for an image layout's `index.json`, tagged `tag`.
pub(crate) fn root_descriptor(
    built: &Built,
    tag: Option<&str>,
) -> Result<oci_spec::image::Descriptor, ImageError> {
    let (media_type, digest, size) = built.root();
    let mut d = descriptor(media_type, digest, size);
    if built.index.is_none() {
        d = d.platform(built.images[0].platform.to_oci()?);
    }
    if let Some(tag) = tag {
        d = d.annotations(std::collections::HashMap::from([(
            media::ANNOTATION_REF_NAME.to_owned(),
            tag.to_owned(),
        )]));
    }
    d.build().map_err(spec_err("descriptor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        let f = |t| rfc3339(t).unwrap();
        assert_eq!(f(0), "1970-01-01T00:00:00Z");
        assert_eq!(f(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(f(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(f(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(f(MAX_EPOCH), "9999-12-31T23:59:59Z");
        // Issue #11: past the year 9999 the formatter fails, which `to_string` turned into
        // a panic on SOURCE_DATE_EPOCH=253402300800.
        assert_eq!(rfc3339(MAX_EPOCH + 1), None);
        assert_eq!(rfc3339(u64::MAX), None);
    }

    #[test]
    fn config_json_is_byte_stable_with_labels_and_ports() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let spec = ImageSpec {
            platform: Some(Platform::linux(distill_core::Arch::Amd64)),
            labels: (0..20).map(|i| (format!("l{i}"), "v".into())).collect(),
            exposed_ports: (0..20).map(|i| format!("{}/tcp", 8000 + i)).collect(),
            env: vec!["A=1".into()],
            user: Some("65532".into()),
            ..Default::default()
        };
        let a = write_image(&store, &spec, &[]).unwrap();
        for _ in 0..5 {
            assert_eq!(write_image(&store, &spec, &[]).unwrap(), a);
        }
        let cfg: serde_json::Value =
            serde_json::from_slice(&store.read(&a.config).unwrap()).unwrap();
        assert_eq!(cfg["created"], "1970-01-01T00:00:00Z");
        assert_eq!(cfg["config"]["User"], "65532");
        assert_eq!(cfg["config"]["ExposedPorts"].as_object().unwrap().len(), 20);
    }

    #[test]
    fn volumes_and_healthcheck_are_written_as_docker_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let spec = ImageSpec {
            volumes: vec!["/data".into(), "/var/log".into()],
            healthcheck: Some(Healthcheck {
                test: vec!["CMD".into(), "/x".into()],
                interval: Some(30_000_000_000),
                retries: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        let a = write_image(&store, &spec, &[]).unwrap();
        assert_eq!(write_image(&store, &spec, &[]).unwrap(), a);
        let cfg: serde_json::Value =
            serde_json::from_slice(&store.read(&a.config).unwrap()).unwrap();
        let volumes = cfg["config"]["Volumes"].as_object().unwrap();
        assert_eq!(volumes.keys().collect::<Vec<_>>(), ["/data", "/var/log"]);
        assert_eq!(volumes["/data"], serde_json::json!({}));
        assert_eq!(
            cfg["config"]["Healthcheck"],
            serde_json::json!({"Test": ["CMD", "/x"], "Interval": 30_000_000_000u64, "Retries": 3})
        );
    }
}
