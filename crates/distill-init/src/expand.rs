//! Variable expansion in arguments: `$VAR`, `${VAR}` and `${VAR:-default}` (POSIX sh
//! parameter expansion, the subset entrypoints use), and `$$` for a literal `$`.
//!
//! A known bug of such helpers is a `${X:-d}` expansion that eats the character after `}`;
//! here the scanner resumes exactly after the closing brace.

#[derive(Debug, PartialEq, Eq)]
pub enum ExpandError {
    Unclosed { arg: String },
    BadName { arg: String },
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Unclosed { arg } => write!(f, "`${{` without a closing `}}` in `{arg}`"),
            ExpandError::BadName { arg } => write!(f, "bad variable name after `${{` in `{arg}`"),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Expands `arg` with `lookup` (unset and empty variables give their default, as `:-` does).
pub fn expand(arg: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let chars: Vec<char> = arg.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' || i + 1 == chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        if next == '$' {
            out.push('$');
            i += 2;
        } else if next == '{' {
            let close = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .map(|p| p + i + 2)
                .ok_or_else(|| ExpandError::Unclosed { arg: arg.into() })?;
            let inner: String = chars[i + 2..close].iter().collect();
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner.as_str(), None),
            };
            let valid = name.chars().next().is_some_and(is_name_start) && name.chars().all(is_name);
            if !valid {
                return Err(ExpandError::BadName { arg: arg.into() });
            }
            match (
                lookup(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {}
            }
            i = close + 1;
        } else if is_name_start(next) {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| !is_name(c))
                .map_or(chars.len(), |p| p + i + 1);
            let name: String = chars[i + 1..end].iter().collect();
            out.push_str(&lookup(&name).unwrap_or_default());
            i = end;
        } else {
            // `$` before anything else (`$1`, `$-`, ` `) stays as written.
            out.push('$');
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> String {
        expand(s, &env).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(x("$A"), "alpha");
        assert_eq!(x("${A}"), "alpha");
        assert_eq!(x("${A}x"), "alphax");
        assert_eq!(x("$A/x"), "alpha/x");
        assert_eq!(x("$Ax"), "");
        assert_eq!(x("--port=$PORT"), "--port=8080");
        assert_eq!(x("$UNSET"), "");
        assert_eq!(x("cost: $$5"), "cost: $5");
        assert_eq!(x("$1 $ end$"), "$1 $ end$");
        assert_eq!(x("plain"), "plain");
        assert_eq!(x("héllo ${A}é"), "héllo alphaé");
    }

    #[test]
    fn defaults_keep_the_character_after_the_brace() {
        assert_eq!(x("${B:-x}/p"), "x/p");
        assert_eq!(x("${A:-x}/p"), "alpha/p");
        assert_eq!(x("${EMPTY:-x}y"), "xy");
        assert_eq!(x("${EMPTY}y"), "y");
        assert_eq!(x("${B:-}z"), "z");
        assert_eq!(x("${B:-a b}${A}"), "a balpha");
        assert_eq!(x("/${B:-usr}/${C:-bin}/app"), "/usr/bin/app");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            expand("${A", &env),
            Err(ExpandError::Unclosed { .. })
        ));
        assert!(matches!(
            expand("${1A}", &env),
            Err(ExpandError::BadName { .. })
        ));
        assert!(matches!(
            expand("${}", &env),
            Err(ExpandError::BadName { .. })
        ));
    }
}
