//! `FROM`: a distroless name becomes the family member distill builds itself, `scratch`
//! stays empty, and any other reference becomes a registry base.

use distill_core::{FamilyMember, Release};

/// What a `FROM` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    Scratch,
    Member {
        member: FamilyMember,
        release: Option<Release>,
        /// `latest`, `nonroot`, `debug` or `debug-nonroot`.
        variant: String,
    },
    Registry(String),
}

/// The registries that serve distroless's own images.
const DISTROLESS: [&str; 2] = ["gcr.io/distroless/", "docker.io/distroless/"];

/// Reads an expanded `FROM` image; `notes` gets what the user should know.
pub fn parse(image: &str, notes: &mut Vec<String>) -> Result<From, String> {
    if image == "scratch" {
        return Ok(From::Scratch);
    }
    let Some(rest) = DISTROLESS.iter().find_map(|p| image.strip_prefix(p)) else {
        return Ok(From::Registry(image.to_owned()));
    };
    let (rest, digest) = match rest.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (rest, None),
    };
    let (name, tag) = rest.split_once(':').unwrap_or((rest, "latest"));
    if !matches!(tag, "latest" | "nonroot" | "debug" | "debug-nonroot") {
        return Err(format!(
            "distroless tag `{tag}` is not one distill builds: use latest, nonroot, debug or debug-nonroot"
        ));
    }
    let (runtime, release) = match name.rsplit_once("-debian") {
        Some((n, r)) => (n, Some(r.parse::<Release>().map_err(|e| e.to_string())?)),
        None => (name, None),
    };
    let member = match runtime {
        "nodejs" => {
            let m = FamilyMember::Nodejs(distill_core::member::NODE_DEFAULT_MAJOR);
            notes.push(format!(
                "`{image}` names no Node major: distill uses {m}, today's default; write {m}-debian13 to keep it"
            ));
            m
        }
        // distill's `java` is Debian's JRE: 17 on 12, 21 on 13.
        "java17" | "java21" => {
            let want = if runtime == "java17" {
                Release::Bookworm
            } else {
                Release::Trixie
            };
            if release.is_some_and(|r| r != want) {
                return Err(format!(
                    "{runtime} on Debian {} is not built: Debian 12 has Java 17 and 13 has Java 21",
                    release.map_or("", |r| r.number())
                ));
            }
            notes.push(format!("`{image}` is distill's `java` on {want}"));
            return Ok(From::Member {
                member: FamilyMember::Java,
                release: Some(want),
                variant: tag.to_owned(),
            });
        }
        other => other
            .parse::<FamilyMember>()
            .map_err(|e| format!("{e}: distroless's `{other}` has no member in distill"))?,
    };
    if release.is_none() {
        notes.push(format!(
            "`{image}` names no Debian release: distill uses {}, today's default",
            Release::default()
        ));
    }
    if let Some(d) = digest {
        notes.push(format!(
            "distill builds {member} itself from verified Debian packages; the pin {d} is not used"
        ));
    }
    Ok(From::Member {
        member,
        release,
        variant: tag.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distroless_names_map_to_members_releases_and_variants() {
        let mut notes = Vec::new();
        assert_eq!(
            parse("gcr.io/distroless/static-debian12:nonroot", &mut notes),
            Ok(From::Member {
                member: FamilyMember::Static,
                release: Some(Release::Bookworm),
                variant: "nonroot".into()
            })
        );
        assert!(notes.is_empty());
        let Ok(From::Member {
            member, variant, ..
        }) = parse("gcr.io/distroless/nodejs", &mut notes)
        else {
            panic!()
        };
        assert_eq!(
            (member, variant.as_str()),
            (FamilyMember::Nodejs(24), "latest")
        );
        assert!(
            notes[0].contains("nodejs24") && notes[1].contains("Debian 13"),
            "{notes:?}"
        );
        assert_eq!(parse("scratch", &mut notes), Ok(From::Scratch));
        assert_eq!(
            parse("python:3.12-slim", &mut notes),
            Ok(From::Registry("python:3.12-slim".into()))
        );
        assert_eq!(
            parse("gcr.io/distroless/java17-debian12", &mut notes),
            Ok(From::Member {
                member: FamilyMember::Java,
                release: Some(Release::Bookworm),
                variant: "latest".into()
            })
        );
        let Ok(From::Member { release, .. }) = parse("gcr.io/distroless/java21", &mut notes) else {
            panic!()
        };
        assert_eq!(release, Some(Release::Trixie));
        assert!(parse("gcr.io/distroless/java17-debian13", &mut notes).is_err());
        assert!(parse("gcr.io/distroless/static:v1", &mut notes).is_err());
        assert!(parse("gcr.io/distroless/ruby-debian12", &mut notes).is_err());
        parse("gcr.io/distroless/cc-debian13@sha256:abc", &mut notes).unwrap();
        assert!(notes.last().unwrap().contains("sha256:abc"));
    }
}
