//! A pin: exactly which file a package is, as distill-apt downloads and verifies it.
//!
//! A fresh resolution and a lockfile meet in this one form, so that `build` and
//! `build --locked` install through the same code. What a lockfile adds around pins (which
//! layer, the Node build, the base image) belongs to the image, not to apt.

use serde::{Deserialize, Serialize};

use crate::packages::Package;
use crate::repo::Suite;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The repository base URI.
    pub repository: String,
    pub suite: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
}

impl Pin {
    /// The pin of a resolved package; `suites` are those the universe was loaded from.
    pub fn of(p: &Package, suites: &[Suite]) -> Self {
        let (repository, suite) = suites
            .get(p.repo)
            .map(|s| (s.uri.clone(), s.suite.clone()))
            .unwrap_or_default();
        Self {
            name: p.name.clone(),
            version: p.version.to_string(),
            architecture: p.architecture.clone(),
            repository,
            suite,
            filename: p.filename.clone(),
            size: p.size,
            sha256: p.sha256.clone(),
        }
    }

    /// Where the file is.
    pub fn url(&self) -> String {
        format!("{}/{}", self.repository, self.filename)
    }

    /// A filename that stays inside its repository: no absolute path, no `..`.
    pub fn is_safe(&self) -> bool {
        let f = std::path::Path::new(&self.filename);
        !self.filename.is_empty()
            && !f.is_absolute()
            && f.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    }
}
