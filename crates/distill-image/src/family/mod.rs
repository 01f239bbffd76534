//! The distroless image family: `static`, `base-nossl`, `base`, `cc` and `python3`, on
//! Debian 12 and 13.
//!
//! A recipe is a short list of root packages, resolved by the resolver like any
//! `[packages] include`, plus the packages to keep out: what only maintainer scripts need
//! (debconf, dpkg, an awk) and, for `static`, openssl, which ca-certificates needs only to
//! build its bundle, a bundle distill builds itself. The files distroless adds are in
//! [`files`]; the package-layer treatment (pruned docs, status.d, the CA bundle) in
//! [`packages`].

pub mod eol;
pub mod files;
pub mod ldcache;
pub mod packages;

use distill_apt::debian::Release;

/// A member of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Static,
    BaseNossl,
    Base,
    Cc,
    /// Debian's Python (3.11 on 12, 3.13 on 13), on top of `cc`.
    Python3,
}

impl Name {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "static" => Name::Static,
            "base-nossl" => Name::BaseNossl,
            "base" => Name::Base,
            "cc" => Name::Cc,
            "python3" => Name::Python3,
            _ => return None,
        })
    }
}

/// The members `name` builds on, in order, ending with itself: each one's packages form a
/// layer that every member above it shares.
pub fn tiers(name: Name) -> Vec<Name> {
    let chain = [
        Name::Static,
        Name::BaseNossl,
        Name::Base,
        Name::Cc,
        Name::Python3,
    ];
    let end = chain
        .iter()
        .position(|n| *n == name)
        .expect("every member is in the chain");
    chain[..=end].to_vec()
}

/// What a member is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub packages: Vec<String>,
    pub exclude: Vec<String>,
    /// Environment the member sets, `KEY=VALUE`.
    pub env: Vec<String>,
    /// The member's entrypoint, when it has one.
    pub entrypoint: Option<Vec<String>>,
    /// Extra symlinks `(path, target)` the member adds.
    pub symlinks: Vec<(String, String)>,
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The recipe of `name` on `release`: each member is the one before it plus its own roots,
/// as in distroless.
pub fn recipe(name: Name, release: Release) -> Recipe {
    let mut packages = owned(&[
        "base-files",
        "netbase",
        "tzdata",
        "media-types",
        "ca-certificates",
    ]);
    if name != Name::Static {
        packages.push("libc6".into());
    }
    if matches!(name, Name::Base | Name::Cc | Name::Python3) {
        packages.push(match release {
            Release::Bookworm => "libssl3".into(),
            Release::Trixie => "libssl3t64".into(),
        });
        if release == Release::Trixie {
            packages.extend(owned(&["zlib1g", "libzstd1"]));
        }
    }
    if matches!(name, Name::Cc | Name::Python3) {
        packages.extend(owned(&["libgcc-s1", "libstdc++6", "libgomp1"]));
    }
    let (mut env, mut entrypoint, mut symlinks) = (Vec::new(), None, Vec::new());
    if name == Name::Python3 {
        let python = match release {
            Release::Bookworm => "python3.11",
            Release::Trixie => "python3.13",
        };
        // libc-bin brings `ldconfig`, through which ctypes.util.find_library reads the cache.
        packages.extend(owned(&["python3", "libc-bin"]));
        env.push("LANG=C.UTF-8".into());
        entrypoint = Some(vec![format!("/usr/bin/{python}")]);
        // python3 itself ships /usr/bin/python3 -> python3.X; distroless adds `python` too.
        symlinks.push(("usr/bin/python".to_owned(), python.to_owned()));
    }
    // Maintainer scripts' tools, never run in an image; openssl only builds the CA bundle.
    let exclude = owned(&[
        "debconf",
        "dpkg",
        "mawk",
        "openssl",
        "openssl-provider-legacy",
        "perl-base",
    ]);
    Recipe {
        packages,
        exclude,
        env,
        entrypoint,
        symlinks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_extends_the_one_before() {
        for release in [Release::Bookworm, Release::Trixie] {
            let chain: Vec<Recipe> = [Name::Static, Name::BaseNossl, Name::Base, Name::Cc]
                .iter()
                .map(|n| recipe(*n, release))
                .collect();
            for w in chain.windows(2) {
                assert!(w[0].packages.iter().all(|p| w[1].packages.contains(p)));
            }
        }
        assert!(
            recipe(Name::Base, Release::Trixie)
                .packages
                .contains(&"libzstd1".to_owned())
        );
        assert!(
            !recipe(Name::Base, Release::Bookworm)
                .packages
                .contains(&"libzstd1".to_owned())
        );
        assert_eq!(Name::parse("cc"), Some(Name::Cc));
        assert_eq!(Name::parse("python3"), Some(Name::Python3));
        assert_eq!(
            recipe(Name::Python3, Release::Trixie).entrypoint,
            Some(vec!["/usr/bin/python3.13".to_owned()])
        );
    }
}
