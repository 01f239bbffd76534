//! The distroless image family, as one table: `static`, `base-nossl`, `base`, `cc`,
//! `python3`, `java` and `nodejs22`/`24`/`26`, on Debian 12 and 13.
//!
//! Each row of [`TABLE`] names the member it stands on and only what it adds: root packages
//! (resolved like any `[packages] include`), packages to keep out, environment, entrypoint,
//! links, the files distill writes for it, and the runtime it ships. [`recipe`] walks a member's chain and fills in the
//! release's facts (`{python}`, `{jdk}`). What to keep out is what only maintainer scripts
//! need (debconf, dpkg, an awk) and openssl, which ca-certificates needs only to build its
//! bundle, a bundle distill builds itself.
//!
//! The files distroless adds are in [`files`]; the package treatment (pruned docs,
//! status.d, the CA bundle) in [`treatment`]; Java's keystore in [`cacerts`]; the dynamic
//! loader's cache in [`ldcache`]; the official Node builds in [`node`].

pub mod cacerts;
pub mod files;
pub mod ldcache;
pub mod node;
pub mod treatment;

use distill_core::runtime::{self, Runtime};
use distill_core::{FamilyMember, NODE_BINARY, Release};

/// The releases a root package is taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Both,
    Bookworm,
    Trixie,
}

impl On {
    fn includes(self, r: Release) -> bool {
        match self {
            On::Both => true,
            On::Bookworm => r == Release::Bookworm,
            On::Trixie => r == Release::Trixie,
        }
    }
}

/// The runtime a member ships, for its end-of-life annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ships {
    Nothing,
    /// Debian's Python of the release.
    Python,
    /// The official Node build of this major.
    Node(u8),
}

/// A file distill writes itself for a member, where the package's maintainer script would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Java's trust store, `/etc/ssl/certs/java/cacerts`, from the image's CA certificates
    /// ([`cacerts`]): ca-certificates-java's postinst would need the image's own JVM.
    JavaTrustStore,
}

/// One row of the family: what a member adds to the member it stands on.
#[derive(Clone, Copy)]
struct Row {
    member: FamilyMember,
    on: Option<FamilyMember>,
    roots: &'static [(&'static str, On)],
    exclude: &'static [&'static str],
    env: &'static [&'static str],
    /// Empty: the member has no entrypoint of its own.
    entrypoint: &'static [&'static str],
    /// `(path, target)`; [`ARCH`] in a target stands for the platform's architecture.
    links: &'static [(&'static str, &'static str)],
    extra: &'static [Extra],
    ships: Ships,
}

/// Stands for the Debian architecture in a recipe's link targets.
pub const ARCH: &str = "{arch}";

/// What maintainer scripts need, never run in an image; openssl only builds the CA bundle.
const SCRIPT_TOOLS: &[&str] = &[
    "debconf",
    "dpkg",
    "mawk",
    "openssl",
    "openssl-provider-legacy",
    "perl-base",
];

/// From Node 25 the official build links libatomic; the build checks node's DT_NEEDED
/// against the image, so a future need fails the build, not the container.
const NODE_ATOMIC: &[(&str, On)] = &[("libatomic1", On::Both)];

const NODE_ROW: Row = Row {
    member: FamilyMember::Nodejs(0),
    on: Some(FamilyMember::Cc),
    roots: &[],
    exclude: &[],
    env: &[],
    entrypoint: &[NODE_BINARY],
    links: &[],
    extra: &[],
    ships: Ships::Node(0),
};

/// The family. Each member is the one it stands on plus its own row, as in distroless; the
/// Node members, one per major, are [`NODE_ROW`] with their major (see [`row`]).
static TABLE: &[Row] = &[
    Row {
        member: FamilyMember::Static,
        on: None,
        roots: &[
            ("base-files", On::Both),
            ("netbase", On::Both),
            ("tzdata", On::Both),
            ("media-types", On::Both),
            ("ca-certificates", On::Both),
        ],
        exclude: SCRIPT_TOOLS,
        env: &[],
        entrypoint: &[],
        links: &[],
        extra: &[],
        ships: Ships::Nothing,
    },
    Row {
        member: FamilyMember::BaseNossl,
        on: Some(FamilyMember::Static),
        roots: &[("libc6", On::Both)],
        ..EMPTY
    },
    Row {
        member: FamilyMember::Base,
        on: Some(FamilyMember::BaseNossl),
        roots: &[
            ("libssl3", On::Bookworm),
            ("libssl3t64", On::Trixie),
            ("zlib1g", On::Trixie),
            ("libzstd1", On::Trixie),
        ],
        ..EMPTY
    },
    Row {
        member: FamilyMember::Cc,
        on: Some(FamilyMember::Base),
        roots: &[
            ("libgcc-s1", On::Both),
            ("libstdc++6", On::Both),
            ("libgomp1", On::Both),
        ],
        ..EMPTY
    },
    Row {
        member: FamilyMember::Python3,
        on: Some(FamilyMember::Cc),
        // libc-bin brings `ldconfig`, through which ctypes.util.find_library reads the cache.
        roots: &[("python3", On::Both), ("libc-bin", On::Both)],
        env: &["LANG=C.UTF-8"],
        entrypoint: &["/usr/bin/{python}"],
        // python3 ships /usr/bin/python3 -> python3.X; distroless adds `python` too.
        links: &[("usr/bin/python", "{python}")],
        ships: Ships::Python,
        ..EMPTY
    },
    Row {
        member: FamilyMember::Java,
        on: Some(FamilyMember::Cc),
        roots: &[("openjdk-{jdk}-jre-headless", On::Both)],
        // What only the postinst needs (ca-certificates-java builds the keystore, which
        // distill builds itself), and what a headless JVM loads only when configured to:
        // printing (CUPS and its avahi, dbus, gnutls and krb5), sound, smart cards, and NSS
        // as a PKCS#11 provider.
        exclude: &[
            "ca-certificates-java",
            "java-common",
            "util-linux",
            "libcups2",
            "libasound2",
            "libasound2t64",
            "libpcsclite1",
            "libnss3",
        ],
        env: &["LANG=C.UTF-8"],
        entrypoint: &["/usr/bin/java", "-jar"],
        // update-alternatives makes this link in the postinst, which never runs here.
        links: &[(
            "usr/bin/java",
            "/usr/lib/jvm/java-{jdk}-openjdk-{arch}/bin/java",
        )],
        extra: &[Extra::JavaTrustStore],
        ships: Ships::Nothing,
    },
];

const EMPTY: Row = Row {
    member: FamilyMember::Static,
    on: None,
    roots: &[],
    exclude: &[],
    env: &[],
    entrypoint: &[],
    links: &[],
    extra: &[],
    ships: Ships::Nothing,
};

/// The row of `member`: a Node major's is the Node row with that major, whether it is one of
/// the family's own or past its end of life.
fn row(member: FamilyMember) -> Row {
    if let FamilyMember::Nodejs(major) = member {
        return Row {
            member,
            roots: if major >= 25 { NODE_ATOMIC } else { &[] },
            ships: Ships::Node(major),
            ..NODE_ROW
        };
    }
    *TABLE
        .iter()
        .find(|r| r.member == member)
        .unwrap_or_else(|| unreachable!("every member has a row: {member}"))
}

/// `member` and the members it stands on, from the bottom (`static`) up.
fn chain(member: FamilyMember) -> Vec<Row> {
    let mut out = vec![row(member)];
    while let Some(on) = out.last().and_then(|r| r.on) {
        out.push(row(on));
    }
    out.reverse();
    out
}

/// What a member is made of on one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub packages: Vec<String>,
    pub exclude: Vec<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    /// `(path, target)`; [`ARCH`] in a target stands for the platform's architecture.
    pub links: Vec<(String, String)>,
    /// Files distill writes for the member.
    pub extra: Vec<Extra>,
    pub runtime: Option<Runtime>,
}

/// The release's facts in a recipe's text.
fn fill(text: &str, release: Release) -> String {
    let (major, minor) = release.python();
    let jdk = match release {
        Release::Bookworm => "17",
        Release::Trixie => "21",
    };
    text.replace("{python}", &format!("python{major}.{minor}"))
        .replace("{jdk}", jdk)
}

/// The recipe of `member` on `release`: its chain's rows, added up.
pub(crate) fn recipe(member: FamilyMember, release: Release) -> Recipe {
    let rows = chain(member);
    let strings = |pick: fn(&Row) -> &'static [&'static str]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &rows {
            for s in pick(r) {
                let s = fill(s, release);
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    };
    let packages = rows
        .iter()
        .flat_map(|r| r.roots.iter())
        .filter(|(_, on)| on.includes(release))
        .map(|(p, _)| fill(p, release))
        .collect();
    let top = row(member);
    let entrypoint = rows
        .iter()
        .rev()
        .find(|r| !r.entrypoint.is_empty())
        .map(|r| r.entrypoint.iter().map(|e| fill(e, release)).collect());
    let runtime = match top.ships {
        Ships::Nothing => None,
        Ships::Python => {
            let (major, minor) = release.python();
            runtime::find("python", &format!("{major}.{minor}"))
        }
        Ships::Node(major) => runtime::find("node", &major.to_string()),
    };
    Recipe {
        packages,
        exclude: strings(|r| r.exclude),
        env: strings(|r| r.env),
        entrypoint,
        links: rows
            .iter()
            .flat_map(|r| r.links.iter())
            .map(|(p, t)| ((*p).to_owned(), fill(t, release)))
            .collect(),
        extra: rows.iter().flat_map(|r| r.extra.iter().copied()).collect(),
        runtime,
    }
}

/// The members `member` builds on, in order, ending with the top of its chain: each one's
/// packages form a layer that every member above it shares. The language runtimes all
/// stand on `cc`; Node adds no Debian package of its own beyond `cc`'s tiers.
pub fn tiers(member: FamilyMember) -> Vec<FamilyMember> {
    let rows = chain(member);
    rows.iter()
        .map(|r| r.member)
        .filter(|m| !matches!(m, FamilyMember::Nodejs(_)))
        .collect()
}

/// The Node major a member ships, if it ships one.
pub(crate) fn node_major(member: FamilyMember) -> Option<u8> {
    match row(member).ships {
        Ships::Node(major) => Some(major),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FamilyMember as M;

    #[test]
    fn each_member_extends_the_one_before() {
        for release in Release::ALL {
            let chain: Vec<Recipe> = [M::Static, M::BaseNossl, M::Base, M::Cc]
                .iter()
                .map(|n| recipe(*n, release))
                .collect();
            for w in chain.windows(2) {
                assert!(w[0].packages.iter().all(|p| w[1].packages.contains(p)));
            }
        }
        assert!(
            recipe(M::Base, Release::Trixie)
                .packages
                .contains(&"libzstd1".to_owned())
        );
        assert!(
            !recipe(M::Base, Release::Bookworm)
                .packages
                .contains(&"libzstd1".to_owned())
        );
        assert_eq!(tiers(M::Java).last(), Some(&M::Java));
        assert_eq!(tiers(M::Nodejs(24)), tiers(M::Cc));
        assert_eq!(
            recipe(M::Nodejs(24), Release::Trixie).packages,
            recipe(M::Cc, Release::Trixie).packages
        );
        assert_eq!(node_major(M::Nodejs(26)), Some(26));
        assert_eq!(node_major(M::Java), None);
        let java = recipe(M::Java, Release::Bookworm);
        assert!(
            java.packages
                .contains(&"openjdk-17-jre-headless".to_owned())
        );
        assert!(java.exclude.contains(&"ca-certificates-java".to_owned()));
        assert!(java.exclude.contains(&"dpkg".to_owned()));
        assert_eq!(
            java.links[0].1,
            "/usr/lib/jvm/java-17-openjdk-{arch}/bin/java"
        );
        assert_eq!(java.extra, [Extra::JavaTrustStore]);
        assert!(recipe(M::Cc, Release::Bookworm).extra.is_empty());
        let py = recipe(M::Python3, Release::Trixie);
        assert_eq!(py.entrypoint, Some(vec!["/usr/bin/python3.13".to_owned()]));
        assert_eq!(
            py.links,
            [("usr/bin/python".to_owned(), "python3.13".to_owned())]
        );
        assert_eq!(py.runtime.unwrap().version, "3.13");
        assert_eq!(
            recipe(M::Nodejs(22), Release::Bookworm)
                .runtime
                .unwrap()
                .version,
            "22"
        );
        assert_eq!(recipe(M::Cc, Release::Trixie).entrypoint, None);
    }

    /// The table's order of roots is the resolver's order of roots, which decides between
    /// alternatives as apt does: it must not change unnoticed.
    #[test]
    fn package_order_is_the_chain_order() {
        assert_eq!(
            recipe(M::Python3, Release::Trixie).packages,
            [
                "base-files",
                "netbase",
                "tzdata",
                "media-types",
                "ca-certificates",
                "libc6",
                "libssl3t64",
                "zlib1g",
                "libzstd1",
                "libgcc-s1",
                "libstdc++6",
                "libgomp1",
                "python3",
                "libc-bin"
            ]
        );
        assert_eq!(
            recipe(M::Nodejs(26), Release::Bookworm)
                .packages
                .last()
                .unwrap(),
            "libatomic1"
        );
    }
}
