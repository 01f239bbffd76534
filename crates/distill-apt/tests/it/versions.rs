//! Version ordering against `dpkg --compare-versions`: a fixed table of tricky pairs
//! (issue #11), and 10,000 pairs drawn from the real bookworm Packages index fetched in the
//! same run, by a property test (issue #3).

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use distill_apt::debian::Release;
use distill_apt::version::{TRICKY_PAIRS, Version};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// dpkg's verdict on each pair, from one shell per batch (dpkg runs once per comparison).
fn dpkg_order(pairs: &[(String, String)]) -> Vec<Ordering> {
    require_tool("dpkg");
    let script = r#"while read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then echo lt
  elif dpkg --compare-versions "$a" eq "$b"; then echo eq
  else echo gt; fi
done"#;
    let chunks: Vec<&[(String, String)]> = pairs.chunks(pairs.len().div_ceil(2)).collect();
    let results: Vec<Vec<Ordering>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut child = Command::new("sh")
                        .args(["-c", script])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let input: String = chunk.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
                    let mut stdin = child.stdin.take().unwrap();
                    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
                    let out = child.wait_with_output().unwrap();
                    writer.join().unwrap().unwrap();
                    String::from_utf8(out.stdout)
                        .unwrap()
                        .lines()
                        .map(|l| match l {
                            "lt" => Ordering::Less,
                            "eq" => Ordering::Equal,
                            _ => Ordering::Greater,
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    results.concat()
}

/// distill-test's `require`, which this crate cannot use: distill-test depends on distill-apt.
fn require_tool(tool: &str) {
    assert!(
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success(),
        "{tool} is required; run ./scripts/test, which installs it"
    );
}

/// Issue #11: each pair of the regression table is ordered by dpkg as the table says, and by
/// distill as dpkg does, both ways round.
#[test]
fn tricky_pairs_agree_with_dpkg() {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (a, b, _) in TRICKY_PAIRS {
        pairs.push((a.to_string(), b.to_string()));
        pairs.push((b.to_string(), a.to_string()));
    }
    let dpkg = dpkg_order(&pairs);
    assert_eq!(dpkg.len(), pairs.len(), "dpkg answered every pair");
    let mut wrong = Vec::new();
    for ((a, b), want) in pairs.iter().zip(&dpkg) {
        let table = TRICKY_PAIRS
            .iter()
            .find_map(|(x, y, o)| match (x == a, y == b, x == b && y == a) {
                (true, true, _) => Some(*o),
                (_, _, true) => Some(o.reverse()),
                _ => None,
            })
            .unwrap();
        let got = a
            .parse::<Version>()
            .unwrap()
            .cmp(&b.parse::<Version>().unwrap());
        if table != *want || got != *want {
            wrong.push(format!(
                "{a} vs {b}: dpkg {want:?}, table {table:?}, distill {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn ordering_agrees_with_dpkg_on_10000_real_pairs() {
    let universe = crate::common::universe(Release::Bookworm, distill_core::Arch::Amd64);
    let mut versions: Vec<String> = universe.versions().map(|v| v.to_string()).collect();
    versions.sort();
    versions.dedup();
    let parsed: Vec<Version> = versions.iter().map(|v| v.parse().unwrap()).collect();
    // Neighbours in our own order are the close calls (`1.0-1` vs `1.0-1+b1`, `~rc`):
    // half the pairs are those, half are drawn anywhere.
    let mut order: Vec<usize> = (0..versions.len()).collect();
    order.sort_by(|&a, &b| parsed[a].cmp(&parsed[b]));

    let n = versions.len();
    let strategy = prop_oneof![(0..n, 0..n), (0..n - 1).prop_map(move |i| (i, i + 1)),];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mut pairs = Vec::new();
    let mut idx = Vec::new();
    while pairs.len() < 10_000 {
        let (a, b) = strategy.new_tree(&mut runner).unwrap().current();
        let (a, b) = if a + 1 == b {
            (order[a], order[b])
        } else {
            (a, b)
        };
        idx.push((a, b));
        pairs.push((versions[a].clone(), versions[b].clone()));
    }
    let dpkg = dpkg_order(&pairs);
    assert_eq!(dpkg.len(), pairs.len(), "dpkg answered every pair");
    let mut disagreements = Vec::new();
    for ((a, b), want) in idx.iter().zip(&dpkg) {
        let got = parsed[*a].cmp(&parsed[*b]);
        if got != *want {
            disagreements.push(format!(
                "{} vs {}: dpkg {want:?}, distill {got:?}",
                versions[*a], versions[*b]
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The sample is real data, not a degenerate one.
    assert!(dpkg.iter().filter(|o| **o == Ordering::Less).count() > 1000);
    assert!(n > 20_000, "only {n} versions");
}
