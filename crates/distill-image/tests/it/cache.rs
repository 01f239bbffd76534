//! The layer cache (issue #20): a warm build takes every layer from the cache and gives the
//! cold build's digest; a damaged entry is rebuilt, a format bump changes every key, and
//! builds sharing a cache at once agree. What was written is counted on disk, in the
//! cache's blob directory, never taken from distill's own report.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use distill_core::{Component, FamilyMember};
use distill_image::layercache::{FORMAT, LayerCache};
use distill_test::aptrepo::DebSpec;

use crate::fixture::Fixture;

/// Every blob of the cache, by name, with its inode and modification time: a blob written
/// again (even to the same bytes) gets a new inode, since entries are renamed into place.
fn blobs(f: &Fixture) -> BTreeMap<String, (u64, i64, i64)> {
    let dir = f.cache.path().join("sha256");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                (m.ino(), m.mtime(), m.mtime_nsec()),
            )
        })
        .collect()
}

fn records(f: &Fixture) -> usize {
    std::fs::read_dir(f.cache.path().join("layers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// A scratch image with a package and a file of the user's, beside the family member.
fn scratch(f: &Fixture, name: &str, greeting: &str) -> distill_image::Plan {
    let debs_config = "[image]\ndebian = \"12\"\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"libc6\"]\n\n[[files]]\nsrc = \"greeting.txt\"\ndst = \"/etc/greeting.txt\"\n";
    let ctx = f.out.path().join(format!("{name}-ctx"));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("greeting.txt"), greeting).unwrap();
    f.config(debs_config, name).unwrap()
}

#[test]
fn a_warm_build_writes_no_layer_and_gives_the_cold_digest() {
    let mut f = Fixture::new();
    f.layers = LayerCache::disabled();
    let uncached = f.build_ok(&f.member(FamilyMember::Cc, "uncached"));
    assert!(
        !f.cache.path().join("layers").exists(),
        "a disabled cache keeps nothing"
    );
    f.layers = LayerCache::new();
    let cold = f.build_ok(&f.member(FamilyMember::Cc, "cold"));
    assert_eq!(cold.digest(), uncached.digest());
    let kept = blobs(&f);
    let layers = distill_test::layer_digests(&f.layout("cold"));
    for d in &layers {
        let hex = d.strip_prefix("sha256:").unwrap();
        assert!(kept.contains_key(hex), "layer {d} is not in the cache");
    }
    let warm = f.build_ok(&f.member(FamilyMember::Cc, "warm"));
    assert_eq!(warm.digest(), cold.digest());
    assert_eq!(
        blobs(&f),
        kept,
        "the warm build wrote a blob into the cache"
    );
    // Each layer of the warm image is the cache's own file: none was written anew.
    for d in distill_test::layer_digests(&f.layout("warm")) {
        let hex = d.strip_prefix("sha256:").unwrap();
        assert_eq!(
            inode(&f.layout("warm").join("blobs/sha256").join(hex)),
            inode(&f.cache.path().join("sha256").join(hex)),
            "layer {d} of the warm build was written, not taken from the cache"
        );
    }
    // A change to the user's file rewrites that layer (and the SBOM's) alone.
    let one = f.build_ok(&scratch(&f, "one", "hi\n"));
    let before = blobs(&f);
    let two = f.build_ok(&scratch(&f, "two", "hello\n"));
    assert_ne!(one.digest(), two.digest());
    let (a, b) = (
        distill_test::layer_digests(&f.layout("one")),
        distill_test::layer_digests(&f.layout("two")),
    );
    let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert_eq!(changed, 2, "{a:?} {b:?}");
    assert_eq!(blobs(&f).len(), before.len() + 2);
}

#[test]
fn a_damaged_entry_is_rebuilt_and_the_digest_stays() {
    let f = Fixture::new();
    let cold = f.build_ok(&f.member(FamilyMember::Base, "cold"));
    let layers = distill_test::layer_digests(&f.layout("cold"));
    // The first package layer, the largest: its bytes flipped in place, then its record
    // garbled for the next layer.
    let hex = layers[0].strip_prefix("sha256:").unwrap();
    let entry = f.cache.path().join("sha256").join(hex);
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let record = std::fs::read_dir(f.cache.path().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains(&layers[1]))
        .unwrap();
    std::fs::write(&record, "{ not json").unwrap();
    let warm = f.build_ok(&f.member(FamilyMember::Base, "warm"));
    assert_eq!(warm.digest(), cold.digest());
    let again = std::fs::read(&entry).unwrap();
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&again)),
        hex,
        "the damaged entry was not replaced by good bytes"
    );
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains(&layers[1])
    );
}

#[test]
fn a_format_bump_makes_every_layer_anew() {
    let mut f = Fixture::new();
    let first = f.build_ok(&f.member(FamilyMember::Base, "old"));
    let old = records(&f);
    let layers = distill_test::layer_digests(&f.layout("old"));
    assert_eq!(old, layers.len(), "one record per layer");
    let before = blobs(&f);
    f.layers = LayerCache::with_format(FORMAT + 1);
    let new = f.build_ok(&f.member(FamilyMember::Base, "new"));
    // None of the old records served: every layer was made and recorded again.
    assert_eq!(records(&f), 2 * old);
    // The same code makes the same bytes, so the blobs themselves are shared.
    assert_eq!(new.digest(), first.digest());
    assert_eq!(
        blobs(&f).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
}

#[test]
fn builds_sharing_a_cache_at_once_agree() {
    let f = Fixture::new();
    let digests: Vec<String> = std::thread::scope(|s| {
        let builds: Vec<_> = (0..3)
            .map(|i| {
                let f = &f;
                s.spawn(move || {
                    let plan = f.member(FamilyMember::Cc, &format!("at-once-{i}"));
                    f.build_ok(&plan).digest().to_string()
                })
            })
            .collect();
        builds.into_iter().map(|b| b.join().unwrap()).collect()
    });
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[1], digests[2]);
    // One record per layer, however many builds made it at once.
    let layers = distill_test::layer_digests(&f.layout("at-once-0"));
    assert_eq!(records(&f), layers.len());
    for name in ["at-once-0", "at-once-1", "at-once-2"] {
        distill_test::validate_layout(&f.layout(name)).unwrap();
    }
}

/// The resolution is kept too, keyed by the sha256 of the indexes the signed Release names:
/// a new version published on the mirror is resolved on the next build, not the cached one.
#[test]
fn a_resolution_is_reused_only_for_the_same_indexes() {
    let debs = |v: &str| {
        let mut all = distill_test::family::packages();
        all.push(DebSpec::new("hello-app", v).file("usr/bin/hello-app", v));
        all
    };
    let f = Fixture::with(&debs("1.0-1"));
    let config = "[image]\ndebian = \"12\"\n\n[debian]\nkeyring = \"repo.asc\"\n\n[packages]\ninclude = [\"hello-app\"]\n";
    let version = |r: &distill_image::Report| {
        r.components()
            .find_map(|c| match c {
                Component::Deb { name, version, .. } if name == "hello-app" => {
                    Some(version.clone())
                }
                _ => None,
            })
            .unwrap()
    };
    let first = f.build_ok(&f.config(config, "first").unwrap());
    assert_eq!(version(&first), "1.0-1");
    let resolved = std::fs::read_dir(f.cache.path().join("resolved"))
        .unwrap()
        .count();
    assert_eq!(resolved, 1, "one record for one platform's resolution");
    let again = f.build_ok(&f.config(config, "again").unwrap());
    assert_eq!(again.digest(), first.digest());
    // The mirror publishes 1.0-2, a second later (a Release must not go back in time).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    f.repo.bookworm(&debs("1.0-2"), &f.key);
    for e in walkdir::WalkDir::new(f.repo.path()) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(f.repo.path()).unwrap();
            f.fetcher
                .put(&rel.to_string_lossy(), std::fs::read(e.path()).unwrap());
        }
    }
    let next = f.build_ok(&f.config(config, "next").unwrap());
    assert_eq!(version(&next), "1.0-2");
}
