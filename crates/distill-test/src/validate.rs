//! The image validator every test asserts with: the library's own
//! ([`distill_oci::validate`]), which re-hashes every blob and checks sizes, media types
//! and `diff_ids`, as go-containerregistry's `validate` does.

pub use distill_oci::validate::{Invalid, Summary, validate, validate_archive, validate_layout};

/// Every path (with ` -> TARGET` for links) in the layers of the first image of `layout`.
pub fn layout_paths(layout: &std::path::Path) -> Vec<String> {
    let json = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &serde_json::Value| layout.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let index = json(layout.join("index.json"));
    let manifest = json(blob(&index["manifests"][0]["digest"]));
    let mut out = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let f = std::fs::File::open(blob(&l["digest"])).unwrap();
        let r: Box<dyn std::io::Read> = match l["mediaType"].as_str() {
            Some(m) if m.ends_with("+zstd") => Box::new(zstd::Decoder::new(f).unwrap()),
            Some(m) if m.ends_with("+gzip") => Box::new(flate2::read::GzDecoder::new(f)),
            _ => Box::new(f),
        };
        for e in tar::Archive::new(r).entries().unwrap() {
            let e = e.unwrap();
            let mut s = e.path().unwrap().display().to_string();
            if let Some(t) = e.link_name().unwrap() {
                s += &format!(" -> {}", t.display());
            }
            out.push(s.trim_end_matches('/').to_owned());
        }
    }
    out
}

/// The first image of `layout` unpacked into a new directory, layer over layer (a test's
/// view of the root filesystem; whiteouts are not applied, distill writes none).
pub fn unpack_layout(layout: &std::path::Path) -> tempfile::TempDir {
    let json = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &serde_json::Value| layout.join("blobs/sha256").join(&d.as_str().unwrap()[7..]);
    let index = json(layout.join("index.json"));
    let manifest = json(blob(&index["manifests"][0]["digest"]));
    let dir = tempfile::tempdir().unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let f = std::fs::File::open(blob(&l["digest"])).unwrap();
        let r: Box<dyn std::io::Read> = match l["mediaType"].as_str() {
            Some(m) if m.ends_with("+zstd") => Box::new(zstd::Decoder::new(f).unwrap()),
            Some(m) if m.ends_with("+gzip") => Box::new(flate2::read::GzDecoder::new(f)),
            _ => Box::new(f),
        };
        let mut ar = tar::Archive::new(r);
        ar.set_preserve_permissions(false);
        ar.set_overwrite(true);
        ar.unpack(dir.path()).unwrap();
    }
    dir
}
