//! Docker's word processing: quotes, the escape character and variable substitution
//! (`$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}`, `${VAR-word}`, `${VAR+word}`), as
//! the Dockerfile reference describes them for `ENV`, `ARG`, `LABEL`, `COPY`, `ADD`,
//! `WORKDIR`, `USER`, `EXPOSE`, `VOLUME`, `STOPSIGNAL` and `FROM`.

use std::collections::BTreeMap;

/// Variables visible to an instruction, by name.
pub type Vars = BTreeMap<String, String>;

/// A word that cannot be processed, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordError(pub String);

/// One word: quotes removed, escapes applied, variables substituted. Whitespace is kept.
pub fn word(text: &str, vars: &Vars, escape: char) -> Result<String, WordError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch == escape && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
        } else if ch == '\'' {
            let end = find(&chars, i + 1, '\'').ok_or_else(|| unclosed('\''))?;
            out.extend(&chars[i + 1..end]);
            i = end + 1;
        } else if ch == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(unclosed('"')),
                    Some('"') => break,
                    Some(&c) if c == escape && matches!(chars.get(i + 1), Some('"' | '$')) => {
                        out.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&c) if c == escape && chars.get(i + 1) == Some(&escape) => {
                        out.push(escape);
                        i += 2;
                    }
                    Some('$') => i = dollar(&chars, i, vars, escape, &mut out)?,
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
        } else if ch == '$' {
            i = dollar(&chars, i, vars, escape, &mut out)?;
        } else {
            out.push(ch);
            i += 1;
        }
    }
    Ok(out)
}

fn unclosed(q: char) -> WordError {
    WordError(format!("a {q} quote is not closed"))
}

fn find(chars: &[char], from: usize, what: char) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j] == what)
}

/// Substitutes the variable at `chars[i] == '$'`; returns the index after it.
fn dollar(
    chars: &[char],
    i: usize,
    vars: &Vars,
    escape: char,
    out: &mut String,
) -> Result<usize, WordError> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match chars.get(i + 1) {
        Some('{') => {
            let mut depth = 1;
            let mut j = i + 2;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(WordError("a ${ is not closed".into()));
            }
            let inner: String = chars[i + 2..j].iter().collect();
            out.push_str(&braced(&inner, vars, escape)?);
            Ok(j + 1)
        }
        Some(&c) if name_char(c) => {
            let end = (i + 1..chars.len())
                .find(|&j| !name_char(chars[j]))
                .unwrap_or(chars.len());
            let name: String = chars[i + 1..end].iter().collect();
            out.push_str(vars.get(&name).map_or("", String::as_str));
            Ok(end)
        }
        _ => {
            out.push('$');
            Ok(i + 1)
        }
    }
}

/// `NAME`, `NAME:-word`, `NAME:+word`, `NAME-word`, `NAME+word`.
fn braced(inner: &str, vars: &Vars, escape: char) -> Result<String, WordError> {
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(end);
    if name.is_empty() {
        return Err(WordError(format!("`${{{inner}}}` names no variable")));
    }
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let (test, word_text) = if let Some(w) = op.strip_prefix(":-") {
        (!set_nonempty, Some(w))
    } else if let Some(w) = op.strip_prefix(":+") {
        (set_nonempty, Some(w))
    } else if let Some(w) = op.strip_prefix('-') {
        (value.is_none(), Some(w))
    } else if let Some(w) = op.strip_prefix('+') {
        (value.is_some(), Some(w))
    } else if op.is_empty() {
        (false, None)
    } else {
        return Err(WordError(format!(
            "`${{{inner}}}` uses a substitution distill does not support"
        )));
    };
    let plus = op.starts_with(":+") || op.starts_with('+');
    match (word_text, test) {
        (Some(w), true) => word(w, vars, escape),
        (Some(_), false) if plus => Ok(String::new()),
        _ => Ok(value.cloned().unwrap_or_default()),
    }
}

/// Splits `text` at whitespace outside quotes and escapes, keeping quotes in the words.
pub fn split(text: &str, escape: char) -> Result<Vec<String>, WordError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (_, c) if c == escape && quote != Some('\'') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c @ ('\'' | '"')) => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, c) => cur.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(unclosed(q));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// `ENV`/`LABEL`/`ARG` arguments as `(name, value)`: `K=V K2="v 2"`, or the old
/// `KEY the rest`. A name without `=` (an `ARG` without default) has no value. Values are
/// processed against `vars` as they were before the instruction.
pub fn pairs(
    text: &str,
    vars: &Vars,
    escape: char,
    legacy: bool,
) -> Result<Vec<(String, Option<String>)>, WordError> {
    let words = split(text, escape)?;
    let Some(first) = words.first() else {
        return Err(WordError("it names nothing".into()));
    };
    if legacy && !first.contains('=') && words.len() > 1 {
        let rest = text.trim_start()[first.len()..].trim();
        return Ok(vec![(
            word(first, vars, escape)?,
            Some(word(rest, vars, escape)?),
        )]);
    }
    let mut out = Vec::new();
    for w in &words {
        match w.split_once('=') {
            Some((k, v)) => out.push((word(k, vars, escape)?, Some(word(v, vars, escape)?))),
            None => out.push((word(w, vars, escape)?, None)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "1"), ("EMPTY", ""), ("P", "/usr/bin")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn substitution_follows_the_dockerfile_reference() {
        let w = |t| word(t, &vars(), '\\').unwrap();
        assert_eq!(w("$A-${A}"), "1-1");
        assert_eq!(w("${NOPE:-dflt} ${EMPTY:-e} ${EMPTY-x}|"), "dflt e |");
        assert_eq!(w("${A:+set} ${NOPE:+set}|${EMPTY+here}"), "set |here");
        assert_eq!(w("${P}:/app"), "/usr/bin:/app");
        assert_eq!(w(r"\$A '$A' "), "$A $A ");
        assert_eq!(w(r#""a $A \"q\"" b"#), r#"a 1 "q" b"#);
        assert_eq!(w("cost $ 5"), "cost $ 5");
        assert_eq!(word("`$A", &vars(), '`').unwrap(), "$A");
        assert!(word("${A", &vars(), '\\').is_err());
        assert!(word("'open", &vars(), '\\').is_err());
        assert!(word("${A/x/y}", &vars(), '\\').is_err());
    }

    #[test]
    fn pairs_read_both_env_forms() {
        let p = |t, legacy| pairs(t, &vars(), '\\', legacy).unwrap();
        assert_eq!(
            p(r#"X=1 Y="two words" Z=$A"#, true),
            [
                ("X".into(), Some("1".into())),
                ("Y".into(), Some("two words".into())),
                ("Z".into(), Some("1".into()))
            ]
        );
        assert_eq!(
            p("NAME John  Doe", true),
            [("NAME".into(), Some("John  Doe".into()))]
        );
        assert_eq!(
            p("V other=2", false),
            [("V".into(), None), ("other".into(), Some("2".into()))]
        );
        assert_eq!(p(r"MSG=a\ b", true), [("MSG".into(), Some("a b".into()))]);
    }
}
