//! Every user-facing error of planning and building, rendered as the CLI prints it, in one
//! snapshot: a change of wording is one reviewed diff (docs/style.md is the style they
//! follow). Temporary paths, key fingerprints and the clock are filtered out.

use distill_core::FamilyMember;
use distill_test::aptrepo::{DebEntry, DebSpec, GpgKey};

use crate::fixture::{Fixture, MIRROR};

fn render(e: &(dyn miette::Diagnostic + 'static)) -> String {
    distill_core::hint::render(e)
}

const PACKAGES: &str = "[image]\ndebian = \"12\"\nentrypoint = [\"/usr/bin/hello-app\"]\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"hello-app\"]\n";

fn app_packages() -> Vec<DebSpec> {
    vec![
        DebSpec::new("hello-app", "1.0-1")
            .depends("libgreet (>= 2)")
            .file("usr/bin/hello-app", "#!app\n"),
        DebSpec::new("libgreet", "2.1-1").file("usr/lib/libgreet.so.2", "ELF\n"),
    ]
}

/// Configs that do not plan.
const CONFIGS: &[(&str, &str)] = &[
    ("unknown key", "[image]\nentrypiont = [\"/x\"]\n"),
    ("bad TOML", "[image]\nbase = \n"),
    ("unknown base", "[image]\nbase = \"ubuntu\"\n"),
    ("debug on scratch", "[image]\nvariant = \"debug\"\n"),
    ("unknown variant", "[image]\nvariant = \"fat\"\n"),
    ("bad platform", "[image]\nplatforms = [\"linux/s390x\"]\n"),
    ("bad compression", "[image]\ncompression = \"lz4\"\n"),
    ("bad port", "[image]\nports = [\"http\"]\n"),
    ("relative workdir", "[image]\nworkdir = \"app\"\n"),
    ("bad signal", "[image]\nstop_signal = \"SIGFOO\"\n"),
    ("empty entrypoint", "[image]\nentrypoint = []\n"),
    (
        "bad env",
        "[image]\nenv = { \"A=B\" = \"x\" }\n[[files]]\nsrc = \"x\"\ndst = \"/x\"\n",
    ),
    ("unknown release", "[image]\ndebian = \"11\"\n"),
    ("bad package name", "[packages]\ninclude = [\"Python3\"]\n"),
    (
        "repository without keyring",
        "[packages]\ninclude = [\"a1\"]\n[[repositories]]\nuri = \"http://vendor.invalid\"\nsuites = [\"stable\"]\n",
    ),
    (
        "decimal mode",
        "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = 644\n",
    ),
    (
        "setuid mode",
        "[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = \"4755\"\n",
    ),
    (
        "src outside the context",
        "[[files]]\nsrc = \"../a\"\ndst = \"/a\"\n",
    ),
    ("relative dst", "[[files]]\nsrc = \"a\"\ndst = \"a\"\n"),
    ("nothing to build", "[image]\nentrypoint = [\"/x\"]\n"),
    (
        "entrypoint helper with no program",
        "[entrypoint]\nwait = [\"db:5432\"]\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\n",
    ),
    (
        "bad wait",
        "[image]\nbase = \"static\"\nentrypoint = [\"/x\"]\n[entrypoint]\nwait = [\"db\"]\n",
    ),
];

#[test]
fn every_error_message_is_a_snapshot() {
    let mut out = String::new();
    let mut case = |name: &str, text: String| {
        out += &format!("## {name}\n{text}\n");
    };
    let f = Fixture::with(&app_packages());
    for (name, config) in CONFIGS {
        match f.config(config, "cfg") {
            Ok(_) => panic!("{name} planned"),
            Err(e) => case(name, render(&e)),
        }
    }

    // Building: each case spoils one thing of a good repository.
    let build = |f: &Fixture| -> String {
        let plan = f.config(PACKAGES, "img").unwrap();
        match f.build(&plan) {
            Ok(_) => panic!("built"),
            Err(e) => render(&e),
        }
    };
    let inrelease = "debian/dists/bookworm/InRelease";
    let good = f.fetcher.get_file(inrelease).unwrap();
    let tampered =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("Suite: bookworm", "Suite: bookwarm", 1);
    f.fetcher.put(inrelease, tampered.into_bytes());
    case("tampered InRelease", build(&f));
    let stranger = GpgKey::generate("stranger");
    f.repo
        .publish("debian", "bookworm", &app_packages(), &stranger, 86_400);
    f.fetcher.put(
        inrelease,
        std::fs::read(f.repo.path().join(inrelease)).unwrap(),
    );
    case("signed by an unknown key", build(&f));
    let old = GpgKey::generate_expired("old");
    f.repo
        .publish("debian", "bookworm", &app_packages(), &old, 86_400);
    f.fetcher.put(
        inrelease,
        std::fs::read(f.repo.path().join(inrelease)).unwrap(),
    );
    let mut ring = std::fs::read(&f.key.public).unwrap();
    ring.extend(std::fs::read(&old.public).unwrap());
    let ring_path = f.out.path().join("ring.asc");
    std::fs::write(&ring_path, ring).unwrap();
    let plan = {
        let mut p = f.config(PACKAGES, "img").unwrap();
        p.debian.keyring = Some(ring_path);
        p
    };
    case(
        "signed only by an expired key",
        render(&f.build(&plan).unwrap_err()),
    );
    f.fetcher.put(inrelease, good);

    let deb = "debian/pool/main/libgreet_2.1-1_amd64.deb";
    let bytes = f.fetcher.get_file(deb).unwrap();
    let mut flipped = bytes.clone();
    let n = flipped.len();
    flipped[n - 10] ^= 0xff;
    f.fetcher.put(deb, flipped);
    case("a .deb that is not what the index says", build(&f));
    f.fetcher.remove(deb);
    case("a .deb the mirror lost", build(&f));
    f.fetcher.put(deb, bytes);

    for (name, debs, include) in [
        (
            "a package that is not there",
            app_packages(),
            "no-such-package",
        ),
        (
            "a dependency no version satisfies",
            vec![
                DebSpec::new("hello-app", "1.0-1").depends("libgreet (>= 2)"),
                DebSpec::new("libgreet", "1.0-1"),
            ],
            "hello-app",
        ),
        (
            "a .deb with a path that climbs out",
            vec![DebSpec::new("hello-app", "1").file("../../../tmp/distill-pwned", "x\n")],
            "hello-app",
        ),
        (
            "a .deb with a link that climbs out",
            vec![DebSpec::new("hello-app", "1").entry(DebEntry::Symlink {
                path: "usr/lib/evil".into(),
                target: "../../../../etc/shadow".into(),
            })],
            "hello-app",
        ),
    ] {
        let g = Fixture::with(&debs);
        let plan = g
            .config(
                &PACKAGES.replace("\"hello-app\"]", &format!("\"{include}\"]")),
                "img",
            )
            .unwrap();
        case(name, render(&g.build(&plan).unwrap_err()));
    }

    let mut plan = f.member(FamilyMember::Static, "nomirror");
    plan.debian.mirror = None;
    case(
        "no mirror in the host's apt sources",
        render(&f.build(&plan).unwrap_err()),
    );
    let mut plan = f.config(PACKAGES, "img").unwrap();
    plan.debian.locked = true;
    case(
        "--locked with no lock",
        render(&f.build(&plan).unwrap_err()),
    );

    let temp = f.out.path().parent().unwrap().display().to_string();
    insta::with_settings!({filters => vec![
        (temp.as_str(), "[TMP]"),
        (r"\.tmp[A-Za-z0-9]{6}", "[DIR]"),
        (r"[0-9A-F]{40}", "[FINGERPRINT]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (MIRROR, "[MIRROR]"),
    ]}, {
        insta::assert_snapshot!("errors", out);
    });
}
