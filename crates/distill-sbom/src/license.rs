//! A Debian package's licence as an SPDX expression, read from its copyright file.
//!
//! - A machine-readable file (DEP-5, `Format: …copyright-format/1.0/`) names a licence in
//!   its header and in each `Files` paragraph; the package's licence is all of them, joined
//!   with `AND` (each applies to some of its files). Stand-alone `License` paragraphs hold
//!   the texts, kept for the licences SPDX has no identifier for.
//! - An older free-form file (libc6, python3, libgcc-s1) is read for the common-licenses it
//!   points to (`/usr/share/common-licenses/GPL-2`) and for the licences it quotes by name
//!   (the PSF licence); "or (at your option) any later version" makes the GPL family
//!   `-or-later`. This is a heuristic, as syft's and trivy's readers are.
//! - DEP-5 names map to SPDX (`Expat` is `MIT`, `GPL-2+` is `GPL-2.0-or-later`); a name SPDX
//!   lacks becomes `LicenseRef-NAME`, with its text where the file has one.
//!
//! The result always parses as an SPDX expression; `None` means no licence could be read,
//! which an SBOM writes as `NOASSERTION`.

use std::collections::{BTreeMap, BTreeSet};

/// What a copyright file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Licence {
    /// An SPDX expression, `None` when the file names no licence.
    pub expression: Option<String>,
    /// The `LicenseRef-…` identifiers the expression uses, with their texts.
    pub refs: BTreeMap<String, String>,
}

/// Reads a Debian copyright file.
pub fn from_copyright(text: &str) -> Licence {
    let paragraphs = paragraphs(text);
    let dep5 = paragraphs
        .first()
        .and_then(|p| field(p, "Format"))
        .is_some_and(|f| f.contains("copyright-format"));
    if dep5 {
        from_dep5(&paragraphs)
    } else {
        from_free_form(text)
    }
}

/// One deb822 paragraph: its fields in order, continuation lines joined by newlines.
pub type Paragraph = Vec<(String, String)>;

/// The paragraphs of a deb822 text (a copyright file, a dpkg status database).
pub fn paragraphs(text: &str) -> Vec<Paragraph> {
    let mut out: Vec<Paragraph> = Vec::new();
    let mut current: Paragraph = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            current.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The value of field `key` (case-insensitive) of `p`.
pub fn field<'a>(p: &'a Paragraph, key: &str) -> Option<&'a str> {
    p.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn from_dep5(paragraphs: &[Paragraph]) -> Licence {
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut named: Vec<String> = Vec::new();
    for (i, p) in paragraphs.iter().enumerate() {
        let Some(licence) = field(p, "License") else {
            continue;
        };
        let (name, body) = licence.split_once('\n').unwrap_or((licence, ""));
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if i == 0 || field(p, "Files").is_some() {
            named.push(name.to_owned());
        }
        if !body.trim().is_empty() {
            texts
                .entry(name.to_owned())
                .or_insert_with(|| body.to_owned());
        }
    }
    let mut terms = BTreeSet::new();
    let mut refs = BTreeMap::new();
    for name in &named {
        terms.extend(dep5_conjuncts(name, &texts, &mut refs));
    }
    licence_of(terms, refs)
}

/// A DEP-5 licence field's first line as SPDX terms that all apply: `,` and `and` bind
/// looser than `or`.
fn dep5_conjuncts(
    field: &str,
    texts: &BTreeMap<String, String>,
    refs: &mut BTreeMap<String, String>,
) -> Vec<String> {
    let normal = field.replace(", and ", " and ").replace(',', " and ");
    split_words(&normal, " and ")
        .iter()
        .map(|part| {
            let disj: Vec<String> = split_words(part, " or ")
                .iter()
                .map(|t| term(t.trim(), texts, refs))
                .collect();
            group(&disj, " OR ")
        })
        .collect()
}

fn split_words(s: &str, sep: &str) -> Vec<String> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = lower[start..].find(sep) {
        out.push(s[start..start + i].to_owned());
        start += i + sep.len();
    }
    out.push(s[start..].to_owned());
    out.into_iter().filter(|t| !t.trim().is_empty()).collect()
}

fn group(terms: &[String], op: &str) -> String {
    match terms {
        [one] => one.clone(),
        _ => format!("({})", terms.join(op)),
    }
}

/// One licence name, with an optional `with NAME exception`.
fn term(t: &str, texts: &BTreeMap<String, String>, refs: &mut BTreeMap<String, String>) -> String {
    let lower = t.to_ascii_lowercase();
    if let Some(i) = lower.find(" with ") {
        let (base, exc) = (&t[..i], t[i + 6..].trim());
        let exc_name = exc
            .trim_end_matches(" exception")
            .trim_end_matches(" Exception");
        if let (Some(id), Some(e)) = (spdx_id(base.trim()), exception(exc_name)) {
            return format!("{id} WITH {e}");
        }
        return licence_ref(t, texts, refs);
    }
    match spdx_id(t) {
        Some(id) => id,
        None => licence_ref(t, texts, refs),
    }
}

fn licence_ref(
    name: &str,
    texts: &BTreeMap<String, String>,
    refs: &mut BTreeMap<String, String>,
) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id: Vec<&str> = id.split('-').filter(|p| !p.is_empty()).collect();
    let id = format!("LicenseRef-{}", id.join("-"));
    let text = texts.get(name).cloned().unwrap_or_else(|| {
        format!(
            "The licence named `{name}` in the package's copyright file, which has no text for it."
        )
    });
    refs.entry(id.clone()).or_insert(text);
    id
}

/// The SPDX identifier of a DEP-5 short name, or of a name SPDX itself uses.
fn spdx_id(name: &str) -> Option<String> {
    let name = name.trim();
    let (base, later) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, false),
    };
    let lower = base.to_ascii_lowercase();
    let fixed = match lower.as_str() {
        "expat" | "mit" => Some("MIT"),
        "public-domain" => None,
        "bsd-2-clause" => Some("BSD-2-Clause"),
        "bsd-3-clause" => Some("BSD-3-Clause"),
        "bsd-4-clause" => Some("BSD-4-Clause"),
        "apache-2" | "apache-2.0" => Some("Apache-2.0"),
        "artistic" | "artistic-1" | "artistic-1.0" => Some("Artistic-1.0-Perl"),
        "artistic-2" | "artistic-2.0" => Some("Artistic-2.0"),
        "perl" => return Some("(Artistic-1.0-Perl OR GPL-1.0-or-later)".into()),
        "psf-2" | "psf-2.0" | "psf" => Some("PSF-2.0"),
        "zlib" => Some("Zlib"),
        "isc" => Some("ISC"),
        "cc0" | "cc0-1.0" => Some("CC0-1.0"),
        _ => None,
    };
    if let Some(id) = fixed {
        return Some(id.to_owned());
    }
    // Newer files use SPDX's own names (`GPL-2.0-or-later`).
    if let Some(l) = spdx::license_id(name).filter(|l| !l.is_deprecated()) {
        return Some(l.name.to_owned());
    }
    // The GNU family: a bare name is any version, `-N` only N, `-N+` N or later.
    for family in ["agpl", "lgpl", "gpl", "gfdl"] {
        let Some(rest) = lower.strip_prefix(family) else {
            continue;
        };
        let upper = family.to_ascii_uppercase();
        let version = rest.trim_start_matches('-');
        let (version, later) = match version {
            "" => (if family == "lgpl" { "2.0" } else { "1.0" }, true),
            v => (v, later),
        };
        let version = if version.contains('.') {
            version.to_owned()
        } else {
            format!("{version}.0")
        };
        let id = format!(
            "{upper}-{version}-{}",
            if later { "or-later" } else { "only" }
        );
        return spdx::license_id(&id).map(|_| id);
    }
    if later {
        return None;
    }
    // Deprecated identifiers are not valid in an SPDX 2.3 document: those names become
    // LicenseRefs like any other SPDX lacks.
    let current = |id: &str| spdx::license_id(id).filter(|l| !l.is_deprecated());
    current(base).map(|l| l.name.to_owned()).or_else(|| {
        spdx::identifiers::LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(base))
            .and_then(|l| current(l.name))
            .map(|l| l.name.to_owned())
    })
}

fn exception(name: &str) -> Option<&'static str> {
    let id = match name.to_ascii_lowercase().as_str() {
        "autoconf" | "autoconf-2.0" => "Autoconf-exception-2.0",
        "autoconf-3.0" => "Autoconf-exception-3.0",
        "bison" | "bison-2.2" => "Bison-exception-2.2",
        "classpath" | "classpath-2.0" => "Classpath-exception-2.0",
        "font" => "Font-exception-2.0",
        "gcc" | "gcc-3.1" | "gcc-runtime-library" => "GCC-exception-3.1",
        "libtool" => "Libtool-exception",
        _ => return None,
    };
    spdx::exception_id(id).map(|e| e.name)
}

fn from_free_form(text: &str) -> Licence {
    let later = text.contains("any later version");
    let mut terms = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("common-licenses/") {
        rest = &rest[i + 16..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
            .collect();
        let name = name.trim_end_matches('.');
        let versioned = name.contains('-') && !name.ends_with('+');
        let gnu = name.to_ascii_uppercase().contains("GPL");
        let name = if later && versioned && gnu {
            format!("{name}+")
        } else {
            name.to_owned()
        };
        if let Some(id) = spdx_id(&name) {
            terms.insert(id);
        }
    }
    // Licences quoted whole rather than pointed to.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.contains("PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2") {
        terms.insert("PSF-2.0".into());
    }
    if flat.contains("Permission is hereby granted, free of charge, to any person obtaining a copy")
    {
        terms.insert("MIT".into());
    }
    licence_of(terms, BTreeMap::new())
}

/// GCC's runtime libraries (libgcc-s1, libstdc++6, libgomp1, …): GCC's copyright file says
/// in prose that they, unlike the compiler, are under the GPL v3 or later with the GCC
/// Runtime Library Exception 3.1; `None` for any other package.
pub fn gcc_runtime(name: &str, source: &str, copyright: &str) -> Option<Licence> {
    const RUNTIMES: [&str; 8] = [
        "libgcc",
        "libatomic",
        "libgomp",
        "libitm",
        "libssp",
        "libstdc++",
        "libobjc",
        "libgfortran",
    ];
    let runtime = source.starts_with("gcc-") && RUNTIMES.iter().any(|r| name.starts_with(r));
    let flat = copyright.split_whitespace().collect::<Vec<_>>().join(" ");
    (runtime && flat.contains("with version 3.1 of the GCC Runtime Library Exception")).then(|| {
        licence_of(
            BTreeSet::from(["GPL-3.0-or-later WITH GCC-exception-3.1".to_owned()]),
            BTreeMap::new(),
        )
    })
}

/// A licence as a language package declares it: npm's `license`, a wheel's
/// `License-Expression` or `License`. An SPDX expression is kept as it is; a lone name is
/// mapped as a DEP-5 short name is; prose is no expression.
pub fn from_declared(declared: &str) -> Licence {
    let declared = declared.trim();
    if declared.is_empty() || declared.len() > 512 || declared.contains('\n') {
        return Licence::default();
    }
    if spdx::Expression::parse_mode(declared, spdx::ParseMode::STRICT).is_ok() {
        return licence_of(BTreeSet::from([declared.to_owned()]), BTreeMap::new());
    }
    let lax = spdx::Expression::parse_mode(declared, spdx::ParseMode::LAX)
        .ok()
        .map(|e| e.to_string())
        .filter(|e| spdx::Expression::parse_mode(e, spdx::ParseMode::STRICT).is_ok());
    let id = lax.or_else(|| spdx_id(declared));
    licence_of(id.into_iter().collect(), BTreeMap::new())
}

/// A licence from the text of a licence file (a wheel's `License-File`), for the few
/// licences whose texts are told apart by a sentence each.
pub fn from_text(text: &str) -> Licence {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let id = if flat.contains("Permission is hereby granted, free of charge, to any person obtaining a copy") {
        "MIT"
    } else if flat.contains("Redistribution and use in source and binary forms") {
        if flat.contains("Neither the name") || flat.contains("names of its contributors may") {
            "BSD-3-Clause"
        } else {
            "BSD-2-Clause"
        }
    } else if flat.contains("Apache License") && flat.contains("Version 2.0, January 2004") {
        "Apache-2.0"
    } else if flat.contains("Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted") {
        "ISC"
    } else {
        return Licence::default();
    };
    licence_of(BTreeSet::from([id.to_owned()]), BTreeMap::new())
}

/// A licence from a wheel's trove classifiers (`License :: OSI Approved :: MIT License`),
/// for distributions that declare nothing else.
pub fn from_classifiers<'a>(classifiers: impl Iterator<Item = &'a str>) -> Licence {
    const TROVE: &[(&str, &str)] = &[
        ("MIT License", "MIT"),
        ("Apache Software License", "Apache-2.0"),
        ("ISC License (ISCL)", "ISC"),
        ("Python Software Foundation License", "PSF-2.0"),
        ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
        ("GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
        ("GNU General Public License v2 (GPLv2)", "GPL-2.0-only"),
        (
            "GNU Lesser General Public License v3 (LGPLv3)",
            "LGPL-3.0-only",
        ),
        ("The Unlicense (Unlicense)", "Unlicense"),
    ];
    let terms = classifiers
        .filter_map(|c| c.trim().rsplit(" :: ").next())
        .filter_map(|name| {
            TROVE
                .iter()
                .find(|(t, _)| *t == name)
                .map(|(_, id)| (*id).to_owned())
        })
        .collect();
    licence_of(terms, BTreeMap::new())
}

fn licence_of(terms: BTreeSet<String>, refs: BTreeMap<String, String>) -> Licence {
    if terms.is_empty() {
        return Licence::default();
    }
    let terms: Vec<String> = terms.into_iter().collect();
    let expression = if terms.len() == 1 {
        terms[0]
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_owned()
    } else {
        terms
            .iter()
            .map(|t| {
                if t.contains(" OR ") && !t.starts_with('(') {
                    format!("({t})")
                } else {
                    t.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    // What fails to parse is a bug of the mapping above; no expression beats a wrong one.
    if spdx::Expression::parse_mode(&expression, spdx::ParseMode::STRICT).is_err() {
        return Licence::default();
    }
    let refs = refs
        .into_iter()
        .filter(|(id, _)| expression.contains(id.as_str()))
        .collect();
    Licence {
        expression: Some(expression),
        refs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP5: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example

Files: *
Copyright: 2020 Someone
License: Apache-2.0

Files: crypto/perl/*
Copyright: 2020 Someone
License: Artistic or GPL-1+

Files: debian/*
License: GPL-2+ with Autoconf exception

Files: fonts/*
License: OFL-1.1, and custom-thing

License: custom-thing
 You may do what you like,
 as long as you smile.

License: Apache-2.0
 On Debian systems, see /usr/share/common-licenses/Apache-2.0.
";

    #[test]
    fn dep5_files_licences_are_joined_with_and() {
        let l = from_copyright(DEP5);
        assert_eq!(
            l.expression.as_deref(),
            Some(
                "(Artistic-1.0-Perl OR GPL-1.0-or-later) AND Apache-2.0 AND GPL-2.0-or-later WITH Autoconf-exception-2.0 AND LicenseRef-custom-thing AND OFL-1.1"
            )
        );
        assert_eq!(
            l.refs["LicenseRef-custom-thing"],
            "You may do what you like,\nas long as you smile."
        );
    }

    #[test]
    fn dep5_names_map_to_spdx() {
        let one = |n: &str| dep5_conjuncts(n, &BTreeMap::new(), &mut BTreeMap::new()).join(" AND ");
        assert_eq!(one("Expat"), "MIT");
        assert_eq!(one("GPL-2"), "GPL-2.0-only");
        assert_eq!(one("GPL-2+"), "GPL-2.0-or-later");
        assert_eq!(one("LGPL-2.1+"), "LGPL-2.1-or-later");
        assert_eq!(one("GPL"), "GPL-1.0-or-later");
        assert_eq!(one("BSD-3-clause"), "BSD-3-Clause");
        assert_eq!(one("public-domain"), "LicenseRef-public-domain");
        assert_eq!(one("MPL-2.0"), "MPL-2.0");
        assert_eq!(one("GPL-2.0-or-later"), "GPL-2.0-or-later");
        assert_eq!(one("LGPL-2.1-only"), "LGPL-2.1-only");
        // Deprecated in SPDX, so not an identifier an SPDX 2.3 document may use.
        assert_eq!(one("BSD-2-clause-NetBSD"), "LicenseRef-BSD-2-clause-NetBSD");
        assert_eq!(one("GPL-2+ or MIT"), "(GPL-2.0-or-later OR MIT)");
        assert_eq!(one("ISC, and MIT or Zlib"), "ISC AND (MIT OR Zlib)");
        assert_eq!(
            one("GPL-2+ with OpenSSL exception"),
            "LicenseRef-GPL-2-with-OpenSSL-exception"
        );
    }

    #[test]
    fn free_form_files_are_read_for_their_common_licenses() {
        let glibc = "This is the Debian prepackaged version of the GNU C Library.
The GNU C Library is free software; you can redistribute it and/or modify it under the
terms of the GNU Lesser General Public License; either version 2.1 of the License, or (at
your option) any later version. On Debian systems, the complete text of the GNU Lesser
General Public License can be found in `/usr/share/common-licenses/LGPL-2.1'. Some files
are under the GPL, in /usr/share/common-licenses/GPL-2.";
        assert_eq!(
            from_copyright(glibc).expression.as_deref(),
            Some("GPL-2.0-or-later AND LGPL-2.1-or-later")
        );
        let python = "This is the Debian GNU/Linux prepackaged version of the Python programming
language.
PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2
--------------------------------------------";
        assert_eq!(
            from_copyright(python).expression.as_deref(),
            Some("PSF-2.0")
        );
        assert_eq!(from_copyright("no licence at all").expression, None);
    }

    #[test]
    fn every_expression_parses() {
        for name in [
            "GPL-3+",
            "LGPL-3",
            "AGPL-3+",
            "GFDL-1.3+",
            "Zlib",
            "ISC",
            "Perl",
        ] {
            let l = from_copyright(&format!(
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: {name}\n"
            ));
            let e = l
                .expression
                .unwrap_or_else(|| panic!("{name}: no expression"));
            assert!(spdx::Expression::parse(&e).is_ok(), "{name}: {e}");
        }
    }
}
