//! What registries say when they refuse: `WWW-Authenticate` challenges (RFC 7235, RFC 6750
//! for Bearer) and the JSON error bodies of the distribution spec.

/// The `errors` of a registry's JSON error body, as `CODE: message`.
pub fn registry_errors(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let parts: Vec<String> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["code"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    parts.join("; ")
}

/// The `error_description` (or `error`) parameter of a Bearer challenge (RFC 6750 §3).
pub fn challenge_error(h: &str) -> Option<String> {
    let param = |name: &str| {
        let start = h.find(&format!("{name}=\""))? + name.len() + 2;
        let end = h[start..].find('"')?;
        Some(h[start..start + end].to_owned())
    };
    param("error_description").or_else(|| param("error"))
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The first challenge of a `WWW-Authenticate` header that distill can answer.
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, params) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    // key="value" pairs; values may hold commas (scopes do), so split on `",`.
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(v) = after.strip_prefix('"') {
            let end = v.find('"')?;
            (
                &v[..end],
                v[end + 1..]
                    .trim_start()
                    .trim_start_matches(',')
                    .trim_start(),
            )
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n.trim_start()),
                None => (after, ""),
            }
        };
        match key.trim() {
            "realm" => realm = Some(value.to_owned()),
            "service" => service = Some(value.to_owned()),
            "scope" => scope = Some(value.to_owned()),
            _ => {}
        }
        rest = next;
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_commas_inside_scopes() {
        assert_eq!(
            parse_challenge("Basic realm=\"Registry\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"https://auth.invalid/token\",service=\"reg\",scope=\"repository:a/b:pull,push\""
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.invalid/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(
            challenge_error(
                "Bearer realm=\"r\",error=\"invalid_token\",error_description=\"token expired\""
            )
            .as_deref(),
            Some("token expired")
        );
        assert_eq!(parse_challenge("Bearer service=\"x\""), None);
    }

    #[test]
    fn registry_error_bodies_become_short_text() {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        assert_eq!(
            registry_errors(body),
            "UNAUTHORIZED: authentication required"
        );
        assert_eq!(registry_errors("<html>"), "");
    }
}
