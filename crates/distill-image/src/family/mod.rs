//! The distroless image family: `static`, `base-nossl`, `base`, `cc`, `python3`, `java`
//! and `nodejs22`/`24`/`26`, on Debian 12 and 13.
//!
//! A recipe is a short list of root packages, resolved by the resolver like any
//! `[packages] include`, plus the packages to keep out: what only maintainer scripts need
//! (debconf, dpkg, an awk) and, for `static`, openssl, which ca-certificates needs only to
//! build its bundle, a bundle distill builds itself. The files distroless adds are in
//! [`files`]; the package-layer treatment (pruned docs, status.d, the CA bundle) in
//! [`packages`]; Java's keystore in [`cacerts`]; the official Node builds in [`node`].

pub mod cacerts;
pub mod eol;
pub mod files;
pub mod ldcache;
pub mod node;
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
    /// Debian's headless OpenJDK JRE (17 on 12, 21 on 13), on top of `cc`.
    Java,
    /// The official Node build of this major, from the npm registry, on top of `cc`.
    Nodejs(u8),
}

/// The Node majors the family offers.
pub const NODE_MAJORS: [u8; 3] = [22, 24, 26];

impl Name {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "static" => Name::Static,
            "base-nossl" => Name::BaseNossl,
            "base" => Name::Base,
            "cc" => Name::Cc,
            "python3" => Name::Python3,
            "java" => Name::Java,
            _ => {
                let major: u8 = s.strip_prefix("nodejs")?.parse().ok()?;
                return NODE_MAJORS.contains(&major).then_some(Name::Nodejs(major));
            }
        })
    }

    /// Every name `parse` accepts, for messages.
    pub const ALL: &'static str =
        "static, base-nossl, base, cc, python3, java, nodejs22, nodejs24, nodejs26";
}

/// The members `name` builds on, in order, ending with itself: each one's packages form a
/// layer that every member above it shares. The language runtimes all stand on `cc`; Node
/// adds no Debian package to it, so its tiers are `cc`'s.
pub fn tiers(name: Name) -> Vec<Name> {
    let chain = [Name::Static, Name::BaseNossl, Name::Base, Name::Cc];
    match chain.iter().position(|n| *n == name) {
        Some(end) => chain[..=end].to_vec(),
        None if matches!(name, Name::Nodejs(_)) => chain.to_vec(),
        None => [&chain[..], &[name]].concat(),
    }
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
    /// Extra symlinks `(path, target)` the member adds; [`ARCH`] in a target stands for
    /// the platform's Debian architecture.
    pub symlinks: Vec<(String, String)>,
}

/// Stands for the Debian architecture in a recipe's symlink targets.
pub const ARCH: &str = "{arch}";

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
    let on_cc = matches!(
        name,
        Name::Cc | Name::Python3 | Name::Java | Name::Nodejs(_)
    );
    if on_cc || name == Name::Base {
        packages.push(match release {
            Release::Bookworm => "libssl3".into(),
            Release::Trixie => "libssl3t64".into(),
        });
        if release == Release::Trixie {
            packages.extend(owned(&["zlib1g", "libzstd1"]));
        }
    }
    if on_cc {
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
    let mut exclude = owned(&[
        "debconf",
        "dpkg",
        "mawk",
        "openssl",
        "openssl-provider-legacy",
        "perl-base",
    ]);
    if name == Name::Java {
        let (jre, version) = match release {
            Release::Bookworm => ("openjdk-17-jre-headless", 17),
            Release::Trixie => ("openjdk-21-jre-headless", 21),
        };
        packages.push(jre.into());
        env.push("LANG=C.UTF-8".into());
        entrypoint = Some(vec!["/usr/bin/java".into(), "-jar".into()]);
        // update-alternatives makes this link in the postinst, which never runs here.
        symlinks.push((
            "usr/bin/java".into(),
            format!("/usr/lib/jvm/java-{version}-openjdk-{ARCH}/bin/java"),
        ));
        // What only the postinst needs (ca-certificates-java builds the keystore, which
        // distill builds itself), and what a headless JVM loads only when configured to:
        // printing (CUPS and its avahi, dbus, gnutls and krb5), sound, smart cards, and
        // NSS as a PKCS#11 provider.
        exclude.extend(owned(&[
            "ca-certificates-java",
            "java-common",
            "util-linux",
            "libcups2",
            "libasound2",
            "libasound2t64",
            "libpcsclite1",
            "libnss3",
        ]));
    }
    if let Name::Nodejs(major) = name {
        entrypoint = Some(vec![node::NODE.into()]);
        // From Node 26 the official build links libatomic; the build checks node's
        // DT_NEEDED against the image, so a future need fails the build, not the container.
        if major >= 26 {
            packages.push("libatomic1".into());
        }
    }
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
        assert_eq!(Name::parse("java"), Some(Name::Java));
        assert_eq!(Name::parse("nodejs24"), Some(Name::Nodejs(24)));
        assert_eq!(Name::parse("nodejs23"), None);
        assert_eq!(Name::parse("nodejs"), None);
        for n in Name::ALL.split(", ") {
            assert!(Name::parse(n).is_some(), "{n}");
        }
        // The runtimes stand on cc; Node adds no Debian package (26 adds libatomic).
        assert_eq!(tiers(Name::Java).last(), Some(&Name::Java));
        assert_eq!(tiers(Name::Nodejs(24)), tiers(Name::Cc));
        assert_eq!(
            recipe(Name::Nodejs(24), Release::Trixie).packages,
            recipe(Name::Cc, Release::Trixie).packages
        );
        let java = recipe(Name::Java, Release::Bookworm);
        assert!(
            java.packages
                .contains(&"openjdk-17-jre-headless".to_owned())
        );
        assert!(java.exclude.contains(&"ca-certificates-java".to_owned()));
        assert_eq!(
            java.symlinks[0].1,
            "/usr/lib/jvm/java-17-openjdk-{arch}/bin/java"
        );
        assert_eq!(
            recipe(Name::Python3, Release::Trixie).entrypoint,
            Some(vec!["/usr/bin/python3.13".to_owned()])
        );
    }
}
