//! The pipeline end to end, below the CLI: the family's lower members and a scratch image
//! with packages and files, built from the signed repository in memory.

use std::collections::BTreeSet;

use distill_core::{Component, FamilyMember};
use distill_test::aptrepo::DebSpec;

use crate::fixture::Fixture;

/// Digests of `distill base MEMBER --debian 12` on the fixture at the fixed epoch. They
/// change only when image bytes do; a deliberate change updates them here, with the reason
/// in the commit (scripts/compare-digests checks the real family against an older binary).
/// Last changed by the SBOM layer every image now ends with (issue #13): the layers below it
/// are the pipeline redesign's, byte for byte.
const GOLDEN: [(FamilyMember, &str); 4] = [
    (
        FamilyMember::Static,
        "sha256:0f0e05d24106d4a8df2a56df8a128400bf522d449a07aa8b2eb8f2d1acdf7225",
    ),
    (
        FamilyMember::BaseNossl,
        "sha256:43fa40c93bdd6bb69c60505a90ac3d3355f50ed1b8b490ffec8156dcaa47e283",
    ),
    (
        FamilyMember::Base,
        "sha256:254f2d882dd91b51d2b8a134a9284f7a042afb6663012b4859c3672fdefe07de",
    ),
    (
        FamilyMember::Cc,
        "sha256:46e4904e15d12ef51181ffceb486e6fd42e2f1392643e69302e9d97dc1dfe88b",
    ),
];

#[test]
fn the_family_builds_below_the_cli_to_pinned_digests() {
    let f = Fixture::new();
    let mut got = Vec::new();
    for (member, _) in GOLDEN {
        let plan = f.member(member, member.name());
        got.push((member, f.build_ok(&plan).digest().to_string()));
    }
    let want: Vec<(FamilyMember, String)> =
        GOLDEN.iter().map(|(m, d)| (*m, (*d).to_owned())).collect();
    assert_eq!(got, want);
    // Each member starts with the layers of the one below, but for that one's top layer and
    // its SBOM layer, the last, which holds one file.
    let cc = distill_test::layer_digests(&f.layout("cc"));
    let base = distill_test::layer_digests(&f.layout("base"));
    assert_eq!(base[..base.len() - 2], cc[..base.len() - 2]);
    let paths = distill_test::layout_paths(&f.layout("cc"));
    let sbom = distill_sbom::metadata::IN_IMAGE_PATH;
    assert_eq!(paths.iter().filter(|p| p.as_str() == sbom).count(), 1);
    // The same plan, built again into another output, gives the same digest.
    let again = f.build_ok(&f.member(FamilyMember::Cc, "cc-again"));
    assert_eq!(again.digest().to_string(), got[3].1);
}

#[test]
fn the_family_lock_is_a_snapshot() {
    let f = Fixture::new();
    let lock = f.lock(&f.member(FamilyMember::Cc, "cc"));
    assert_eq!(lock.platforms[0].excluded, ["debconf", "openssl"]);
    insta::assert_snapshot!("family_cc_lock", lock.to_toml());
}

/// Issue #12, acceptance 4, on the fixture: the report lists exactly the packages status.d
/// records, with the sha256 the lock pins, and the report's JSON is a snapshot.
#[test]
fn the_report_lists_the_packages_of_status_d_with_the_locks_sha256() {
    let f = Fixture::new();
    let plan = f.member(FamilyMember::Base, "base");
    let report = f.build_ok(&plan);
    let debs: BTreeSet<(String, String)> = report
        .components()
        .filter_map(|c| match c {
            Component::Deb { name, sha256, .. } => Some((name.clone(), sha256.clone())),
            _ => None,
        })
        .collect();
    let status: BTreeSet<String> = distill_test::layout_paths(&f.layout("base"))
        .into_iter()
        .filter_map(|p| p.strip_prefix("var/lib/dpkg/status.d/").map(str::to_owned))
        .filter(|n| !n.ends_with(".md5sums") && !n.is_empty())
        .collect();
    let names: BTreeSet<String> = debs.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, status);
    let lock = f.lock(&plan);
    let pinned: BTreeSet<(String, String)> = lock.platforms[0]
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.sha256.clone()))
        .collect();
    assert_eq!(debs, pinned);
    let json = serde_json::to_string_pretty(&report.to_json()).unwrap();
    insta::assert_snapshot!("family_base_report", json);
}

#[test]
fn files_and_generated_files_are_in_the_inventory_with_their_sha256() {
    let debs = vec![DebSpec::new("hello-app", "1.0-1").file("usr/bin/hello-app", "#!app\n")];
    let f = Fixture::with(&debs);
    let config = "[image]\ndebian = \"12\"\nentrypoint = [\"/usr/bin/hello-app\"]\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"hello-app\"]\n\n[[files]]\nsrc = \"greeting.txt\"\ndst = \"/etc/greeting.txt\"\n";
    let ctx = f.out.path().join("scratch-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("greeting.txt"), "hi\n").unwrap();
    let plan = f.config(config, "scratch").unwrap();
    let report = f.build_ok(&plan);
    let all: Vec<&Component> = report.components().collect();
    assert!(all.contains(&&Component::File {
        path: "/etc/greeting.txt".into(),
        // printf 'hi\n' | sha256sum
        sha256: "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4".into(),
    }));
    assert!(
        all.iter()
            .any(|c| matches!(c, Component::Deb { name, source, .. } if name == "hello-app" && source == "hello-app")),
        "{all:?}"
    );
    let inputs = &report.inputs;
    let config_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(config));
    assert_eq!(inputs.config.as_deref(), Some(config_sha.as_str()));
    assert!(matches!(&inputs.lock, Some((_, false))));
}
