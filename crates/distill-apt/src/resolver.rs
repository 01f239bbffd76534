//! The dependency resolver: package names in, the closed set of packages to install out.
//!
//! It follows what `apt-get install --no-install-recommends` does on an empty system, so that
//! its answer can be checked against apt's own:
//! - the candidate of a package is its highest version across the merged suites;
//! - `Pre-Depends` and `Depends` are followed (never Recommends or Suggests);
//! - a group already satisfied by a selected package (by name or `Provides`) is skipped;
//! - otherwise the first alternative that can be installed wins: a real package whose
//!   candidate meets the constraint, else the best provider of a virtual name;
//! - like apt's `MarkInstall`, a package's chosen dependencies are all marked before any of
//!   them is expanded, which decides which alternative a later group sees as satisfied;
//! - Essential packages come in only when something depends on them.
//!
//! The output is sorted by name, so it is deterministic whatever the index order.

use std::collections::{HashMap, HashSet};

use crate::packages::{Package, Priority};
use crate::relation::{Group, Relation, group_to_string};
use crate::version::Version;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResolveError {
    #[error(
        "Package `{name}` is not in any configured repository{}",
        chain_text(chain)
    )]
    #[diagnostic(help(
        "check the spelling of {name}, the Debian release (debian = \"12\" or \"13\"), and the components of the repositories (main, contrib, non-free)"
    ))]
    NotFound { name: String, chain: Vec<String> },
    #[error("Cannot satisfy `{group}`{}", chain_text(chain))]
    #[diagnostic(help(
        "the repositories carry no version that fits; try the other Debian release, or add the repository that has it under [[repositories]]"
    ))]
    Unsatisfiable { group: String, chain: Vec<String> },
    #[error("Invalid dependency field of {package}: {why}")]
    BadRelation { package: String, why: String },
}

fn chain_text(chain: &[String]) -> String {
    if chain.is_empty() {
        String::new()
    } else {
        format!(", needed by {}", chain.join(" <- "))
    }
}

/// All candidate packages of one architecture, indexed for resolution.
pub struct Universe {
    arch: String,
    packages: Vec<Package>,
    by_name: HashMap<String, usize>,
    /// Virtual name → (package index, provided version).
    providers: HashMap<String, Vec<(usize, Option<Version>)>>,
}

impl Universe {
    /// Builds the universe from every suite's packages, keeping each name's candidate: the
    /// highest version, the earlier suite on a tie.
    pub fn new(arch: distill_core::Arch, all: Vec<Package>) -> Self {
        let arch = arch.debian();
        // The newest of each name, chosen by index and kept in place: a Debian suite is
        // tens of thousands of packages, and a second collection of them would double the
        // peak memory of a resolution.
        let mut best: HashMap<&str, usize> = HashMap::new();
        for (i, p) in all.iter().enumerate() {
            if p.architecture != arch && p.architecture != "all" {
                continue;
            }
            match best.get(p.name.as_str()) {
                Some(&cur) if all[cur].version >= p.version => {}
                _ => {
                    best.insert(&p.name, i);
                }
            }
        }
        let mut keep = vec![false; all.len()];
        for i in best.into_values() {
            keep[i] = true;
        }
        let mut packages = all;
        let mut i = 0;
        packages.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        packages.shrink_to_fit();
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name = packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let mut providers: HashMap<String, Vec<(usize, Option<Version>)>> = HashMap::new();
        for (i, p) in packages.iter().enumerate() {
            for prov in &p.provides {
                let v = prov.constraint.as_ref().map(|(_, v)| v.clone());
                providers.entry(prov.name.clone()).or_default().push((i, v));
            }
        }
        Self {
            arch: arch.to_owned(),
            packages,
            by_name,
            providers,
        }
    }

    pub fn len(&self) -> usize {
        self.packages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Every candidate's version.
    pub fn versions(&self) -> impl Iterator<Item = &Version> {
        self.packages.iter().map(|p| &p.version)
    }

    pub fn get(&self, name: &str) -> Option<&Package> {
        self.by_name.get(name).map(|&i| &self.packages[i])
    }

    /// Resolves `roots` and everything they need. Returns packages sorted by name.
    pub fn resolve(&self, roots: &[String]) -> Result<Vec<&Package>, ResolveError> {
        self.resolve_excluding(roots, &[])
    }

    /// Like [`Universe::resolve`], with the `excluded` packages treated as present but not
    /// installed: a dependency they satisfy (by name or Provides) is not followed, so they
    /// and whatever only they pulled in stay out. This is how images keep out what only
    /// maintainer scripts need, such as dpkg or debconf.
    pub fn resolve_excluding(
        &self,
        roots: &[String],
        excluded: &[String],
    ) -> Result<Vec<&Package>, ResolveError> {
        let mut r = Run {
            u: self,
            selected: HashSet::new(),
            parent: HashMap::new(),
            excluded: excluded.iter().cloned().collect(),
        };
        let mut to_expand = Vec::new();
        for root in roots.iter().filter(|n| !excluded.contains(n)) {
            let i = r.root_index(root)?;
            if r.selected.insert(i) {
                to_expand.push(i);
            }
        }
        for i in to_expand {
            r.expand(i)?;
        }
        let mut out: Vec<&Package> = r.selected.iter().map(|&i| &self.packages[i]).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

struct Run<'u> {
    u: &'u Universe,
    selected: HashSet<usize>,
    /// Who pulled a package in, for error chains.
    parent: HashMap<usize, usize>,
    excluded: HashSet<String>,
}

impl Run<'_> {
    fn root_index(&self, name: &str) -> Result<usize, ResolveError> {
        if let Some(&i) = self.u.by_name.get(name) {
            return Ok(i);
        }
        // A virtual root with providers resolves like a dependency on it.
        let rel = Relation {
            name: name.to_owned(),
            arch: None,
            constraint: None,
        };
        self.best_provider(&rel)
            .ok_or_else(|| ResolveError::NotFound {
                name: name.to_owned(),
                chain: Vec::new(),
            })
    }

    fn chain(&self, mut i: usize) -> Vec<String> {
        let mut out = vec![self.u.packages[i].name.clone()];
        while let Some(&p) = self.parent.get(&i) {
            out.push(self.u.packages[p].name.clone());
            i = p;
            if out.len() > 64 {
                break;
            }
        }
        out
    }

    fn satisfied(&self, group: &Group) -> bool {
        let excluded = |name: &str| {
            self.excluded.contains(name)
                || self.u.providers.get(name).is_some_and(|ps| {
                    ps.iter()
                        .any(|(i, _)| self.excluded.contains(&self.u.packages[*i].name))
                })
        };
        if group.iter().any(|rel| excluded(&rel.name)) {
            return true;
        }
        group.iter().any(|rel| {
            let by_name = self.u.by_name.get(&rel.name).is_some_and(|&i| {
                self.selected.contains(&i) && rel.accepts(Some(&self.u.packages[i].version))
            });
            by_name
                || self.u.providers.get(&rel.name).is_some_and(|ps| {
                    ps.iter()
                        .any(|(i, v)| self.selected.contains(i) && rel.accepts(v.as_ref()))
                })
        })
    }

    fn best_provider(&self, rel: &Relation) -> Option<usize> {
        let ps = self.u.providers.get(&rel.name)?;
        // apt prefers providers of higher priority; among equals, the first by name keeps
        // the choice deterministic.
        ps.iter()
            .filter(|(_, v)| rel.accepts(v.as_ref()))
            .map(|(i, _)| *i)
            .min_by_key(|&i| {
                (
                    self.u.packages[i].priority.min(Priority::Optional),
                    &self.u.packages[i].name,
                )
            })
    }

    fn choose(&self, group: &Group) -> Option<usize> {
        group.iter().find_map(|rel| {
            if let Some(&i) = self.u.by_name.get(&rel.name) {
                if rel.accepts(Some(&self.u.packages[i].version)) {
                    return Some(i);
                }
                return None;
            }
            self.best_provider(rel)
        })
    }

    /// Marks every unsatisfied dependency of `i`, then expands each newly marked package.
    fn expand(&mut self, i: usize) -> Result<(), ResolveError> {
        let pkg = &self.u.packages[i];
        let groups = pkg
            .dependencies(&self.u.arch)
            .map_err(|e| ResolveError::BadRelation {
                package: pkg.name.clone(),
                why: e.to_string(),
            })?;
        let mut marked = Vec::new();
        for group in &groups {
            if self.satisfied(group) {
                continue;
            }
            let Some(t) = self.choose(group) else {
                let only_missing = group.iter().all(|r| {
                    !self.u.by_name.contains_key(&r.name) && !self.u.providers.contains_key(&r.name)
                });
                let chain = self.chain(i);
                return Err(if only_missing && group.len() == 1 {
                    ResolveError::NotFound {
                        name: group[0].name.clone(),
                        chain,
                    }
                } else {
                    ResolveError::Unsatisfiable {
                        group: group_to_string(group),
                        chain,
                    }
                });
            };
            if self.selected.insert(t) {
                self.parent.insert(t, i);
                marked.push(t);
            }
        }
        for t in marked {
            self.expand(t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::parse;

    fn universe(text: &str) -> Universe {
        Universe::new(distill_core::Arch::Amd64, parse(text, 0, "test").unwrap())
    }

    fn pkg(name: &str, version: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\n{extra}Filename: pool/{name}.deb\nSize: 1\nSHA256: {}\n\n",
            "0".repeat(64)
        )
    }

    fn names(u: &Universe, roots: &[&str]) -> Vec<String> {
        let roots: Vec<String> = roots.iter().map(|s| s.to_string()).collect();
        u.resolve(&roots)
            .unwrap()
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn follows_depends_and_pre_depends_but_not_recommends() {
        let u = universe(
            &(pkg(
                "app",
                "1",
                "Depends: lib\nPre-Depends: pre\nRecommends: extra\n",
            ) + &pkg("lib", "1", "")
                + &pkg("pre", "1", "")
                + &pkg("extra", "1", "")),
        );
        assert_eq!(names(&u, &["app"]), ["app", "lib", "pre"]);
    }

    #[test]
    fn highest_version_wins_and_constraints_are_checked() {
        let u = universe(
            &(pkg("a", "1", "Depends: b (>= 2)\n") + &pkg("b", "1.5", "") + &pkg("b", "2.1", "")),
        );
        let roots = vec!["a".to_owned()];
        let got = u.resolve(&roots).unwrap();
        assert_eq!(got[1].version.to_string(), "2.1");
        let u = universe(&(pkg("a", "1", "Depends: b (>= 3)\n") + &pkg("b", "2.1", "")));
        let err = u.resolve(&roots).unwrap_err();
        assert!(
            matches!(&err, ResolveError::Unsatisfiable { chain, .. } if chain == &["a"]),
            "{err}"
        );
        assert!(err.to_string().contains("b (>= 3)"));
    }

    #[test]
    fn alternatives_prefer_a_satisfied_one_then_the_first_installable() {
        let u = universe(
            &(pkg("a", "1", "Depends: x | y, y\n") + &pkg("x", "1", "") + &pkg("y", "1", "")),
        );
        // x | y is unsatisfied when seen, so x is chosen, even though y comes in later.
        assert_eq!(names(&u, &["a"]), ["a", "x", "y"]);
        let u = universe(
            &(pkg("a", "1", "Depends: y, x | y\n") + &pkg("x", "1", "") + &pkg("y", "1", "")),
        );
        assert_eq!(names(&u, &["a"]), ["a", "y"]);
        let u = universe(&(pkg("a", "1", "Depends: gone | y\n") + &pkg("y", "1", "")));
        assert_eq!(names(&u, &["a"]), ["a", "y"]);
    }

    #[test]
    fn virtual_packages_resolve_through_provides() {
        let u = universe(
            &(pkg("a", "1", "Depends: awk, v (>= 2)\n")
                + &pkg("mawk", "1", "Provides: awk\nPriority: required\n")
                + &pkg("gawk", "1", "Provides: awk\nPriority: optional\n")
                + &pkg("p1", "1", "Provides: v (= 1)\n")
                + &pkg("p2", "1", "Provides: v (= 2)\n")),
        );
        assert_eq!(names(&u, &["a"]), ["a", "mawk", "p2"]);
    }

    #[test]
    fn cycles_terminate_and_essential_comes_only_when_needed() {
        let u = universe(
            &(pkg("a", "1", "Depends: b\n")
                + &pkg("b", "1", "Depends: a\n")
                + &pkg("base", "1", "Essential: yes\n")),
        );
        assert_eq!(names(&u, &["a"]), ["a", "b"]);
    }

    #[test]
    fn excluded_packages_and_what_only_they_need_stay_out() {
        let u = universe(
            &(pkg("py", "1", "Depends: libc, dpkg, debconf | debconf-2.0\n")
                + &pkg("libc", "1", "")
                + &pkg("dpkg", "1", "Depends: tar, libc\n")
                + &pkg("tar", "1", "")
                + &pkg("debconf", "1", "Depends: perl\n")
                + &pkg("cdebconf", "1", "Provides: debconf-2.0\n")
                + &pkg("perl", "1", "")),
        );
        let roots = vec!["py".to_owned()];
        let got: Vec<String> = u
            .resolve_excluding(&roots, &["dpkg".into(), "debconf".into()])
            .unwrap()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(got, ["libc", "py"]);
    }

    #[test]
    fn missing_packages_show_the_chain() {
        let u = universe(&(pkg("a", "1", "Depends: b\n") + &pkg("b", "1", "Depends: nothere\n")));
        let err = u.resolve(&["a".to_owned()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Package `nothere` is not in any configured repository, needed by b <- a"
        );
        let err = u.resolve(&["zzz".to_owned()]).unwrap_err();
        assert!(matches!(err, ResolveError::NotFound { .. }));
    }
}
