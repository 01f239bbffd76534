//! Dependency fields (`Depends`, `Pre-Depends`, `Provides`) of Debian Policy §7.1.
//!
//! `a (>= 1.0) | b:any, c` is a list of groups; a group holds alternatives; each names a
//! package, an optional architecture qualifier and an optional version constraint.
//! Architecture restrictions (`[amd64]`) and build profiles (`<!nocheck>`) belong to source
//! packages; they are parsed and evaluated so a stray one cannot break a binary index.

use std::fmt;

use crate::version::{Op, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture, after `:`.
    pub arch: Option<String>,
    pub constraint: Option<(Op, Version)>,
}

impl Relation {
    /// Whether a package or provided name with `version` matches this relation's constraint.
    pub fn accepts(&self, version: Option<&Version>) -> bool {
        match (&self.constraint, version) {
            (None, _) => true,
            (Some((op, want)), Some(have)) => op.holds(have, want),
            // A versioned relation is never satisfied by an unversioned Provides.
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(a) = &self.arch {
            write!(f, ":{a}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({op} {v})")?;
        }
        Ok(())
    }
}

/// Alternatives, any one of which satisfies the group.
pub type Group = Vec<Relation>;

pub(crate) fn group_to_string(g: &Group) -> String {
    g.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("Invalid relation `{text}`: {why}")]
pub struct RelationError {
    pub text: String,
    pub why: &'static str,
}

/// Parses a whole field, keeping the alternatives that apply to `arch`.
pub(crate) fn parse_field(field: &str, arch: &str) -> Result<Vec<Group>, RelationError> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        let group = group.trim();
        if group.is_empty() {
            continue;
        }
        let mut alts = Vec::new();
        for alt in group.split('|') {
            if let Some(r) = parse_one(alt.trim(), arch)? {
                alts.push(r);
            }
        }
        if !alts.is_empty() {
            groups.push(alts);
        }
    }
    Ok(groups)
}

fn parse_one(text: &str, arch: &str) -> Result<Option<Relation>, RelationError> {
    let err = |why| RelationError {
        text: text.to_owned(),
        why,
    };
    let mut rest = text;
    let name_end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<'))
        .unwrap_or(rest.len());
    let (full_name, tail) = rest.split_at(name_end);
    rest = tail.trim_start();
    if full_name.is_empty() {
        return Err(err("no package name"));
    }
    let (name, qual) = match full_name.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (full_name, None),
    };
    let mut constraint = None;
    if let Some(after) = rest.strip_prefix('(') {
        let close = after.find(')').ok_or_else(|| err("unclosed `(`"))?;
        let inner = after[..close].trim();
        let op_len = inner
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .ok_or_else(|| err("no version"))?;
        let op = Op::parse(&inner[..op_len]).ok_or_else(|| err("unknown operator"))?;
        let version = inner[op_len..]
            .trim()
            .parse::<Version>()
            .map_err(|_| err("invalid version"))?;
        constraint = Some((op, version));
        rest = after[close + 1..].trim_start();
    }
    if let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']').ok_or_else(|| err("unclosed `[`"))?;
        let list: Vec<&str> = after[..close].split_whitespace().collect();
        let negated = list.iter().all(|a| a.starts_with('!'));
        let hit = list.iter().any(|a| a.trim_start_matches('!') == arch);
        if negated == hit {
            return Ok(None);
        }
        rest = after[close + 1..].trim_start();
    }
    // Build profiles never restrict binary packages; accept and ignore them.
    if !rest.is_empty() && !rest.starts_with('<') {
        return Err(err("unexpected text after the relation"));
    }
    Ok(Some(Relation {
        name: name.to_owned(),
        arch: qual,
        constraint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_alternatives_qualifiers_and_constraints() {
        let g = parse_field("libc6 (>= 2.34), python3:any | python3-minimal (<< 3.12~), debconf (>= 0.5) | debconf-2.0", "amd64").unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!(g[0][0].name, "libc6");
        assert_eq!(g[0][0].constraint.as_ref().unwrap().0, Op::Ge);
        assert_eq!(g[1][0].arch.as_deref(), Some("any"));
        assert_eq!(g[1][1].to_string(), "python3-minimal (<< 3.12~)");
        assert_eq!(group_to_string(&g[2]), "debconf (>= 0.5) | debconf-2.0");
    }

    #[test]
    fn arch_restrictions_apply() {
        let g = parse_field("a [amd64], b [!amd64], c [arm64 i386] | d", "amd64").unwrap();
        let names: Vec<&str> = g.iter().flatten().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "d"]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_field("a (>= ", "amd64").is_err());
        assert!(parse_field("a (~~ 1)", "amd64").is_err());
        assert!(parse_field("a b", "amd64").is_err());
    }
}
