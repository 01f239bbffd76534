//! The checks of single values of `distill.toml`, each pointing at the line it is on.

use std::path::{Component, Path, PathBuf};

use toml::Spanned;

use crate::config::{ConfigError, ModeValue, Source};

/// Turns spans of the config into errors with their line.
pub struct Checker<'a> {
    pub source: &'a Source,
}

impl Checker<'_> {
    pub fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: String,
        hint: &str,
    ) -> Result<T, ConfigError> {
        Err(self.error(span, message, hint))
    }

    pub fn error(&self, span: std::ops::Range<usize>, message: String, hint: &str) -> ConfigError {
        ConfigError::Invalid {
            at: self.source.locate(&span),
            message,
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
        }
    }

    pub fn origin(&self, span: &std::ops::Range<usize>) -> String {
        let at = self.source.locate(span);
        format!("{}:{}", at.path.display(), at.line)
    }
}

/// Validates `[entrypoint]`, so that distill-init's own checks never first fail at run time.
pub fn init(
    c: &Checker,
    section: &toml::Spanned<crate::config::EntrypointSection>,
) -> Result<crate::init::InitPlan, ConfigError> {
    let s = section.get_ref();
    let mut plan = crate::init::InitPlan::default();
    for v in &s.file_env {
        let name = v.get_ref();
        let valid = !name.is_empty()
            && !name.starts_with(|ch: char| ch.is_ascii_digit())
            && name
                .chars()
                .all(|ch| ch == '_' || ch.is_ascii_alphanumeric());
        if !valid {
            return c.err(
                v.span(),
                format!("`{name}` is not an environment variable name"),
                "write the variable's name, such as \"DB_PASSWORD\"; its value is read from the file named in DB_PASSWORD_FILE",
            );
        }
        plan.file_env.push(name.clone());
    }
    for w in &s.wait {
        let ok = w
            .get_ref()
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return c.err(
                w.span(),
                format!("`{}` is not HOST:PORT", w.get_ref()),
                "write the server to wait for as \"db:5432\"",
            );
        }
        plan.wait.push(w.get_ref().clone());
    }
    if let Some(n) = &s.wait_tries {
        match u32::try_from(*n.get_ref()) {
            Ok(v) if v > 0 => plan.wait_tries = Some(v),
            _ => {
                return c.err(
                    n.span(),
                    format!("wait_tries = {} is not a positive number", n.get_ref()),
                    "write wait_tries = 30",
                );
            }
        }
    }
    if let Some(i) = &s.wait_interval {
        let v = i.get_ref();
        let num = v
            .strip_suffix("ms")
            .or_else(|| v.strip_suffix('s'))
            .unwrap_or(v);
        if !num.parse::<f64>().is_ok_and(|n| n.is_finite() && n >= 0.0) {
            return c.err(
                i.span(),
                format!("wait_interval = \"{v}\" is not a duration"),
                "write wait_interval = \"1s\", \"500ms\" or \"0.5\"",
            );
        }
        plan.wait_interval = Some(v.clone());
    }
    Ok(plan)
}

/// Resolves a path written in the config against the config file's directory.
pub fn beside(source: &Source, p: &str) -> PathBuf {
    let base = source.path.parent().unwrap_or(Path::new("."));
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Resolves a `src` inside the context; refuses absolute paths and `..` that leave it, so
/// a build reads only what its context holds, as `docker build` does.
pub(crate) fn context_path(
    c: &Checker,
    context: &Path,
    src: &Spanned<String>,
) -> Result<PathBuf, ConfigError> {
    let rel = Path::new(src.get_ref());
    let mut depth = 0i32;
    for comp in rel.components() {
        match comp {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => depth -= 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => depth = i32::MIN / 2,
        }
        if depth < 0 {
            return c.err(
                src.span(),
                format!(
                    "src `{}` is outside the build context {}",
                    src.get_ref(),
                    context.display()
                ),
                "move the file into the context, or pass a context that contains it",
            );
        }
    }
    Ok(context.join(rel))
}

pub fn dst(c: &Checker, dst: &Spanned<String>) -> Result<String, ConfigError> {
    let d = dst.get_ref();
    if !d.starts_with('/') {
        return c.err(
            dst.span(),
            format!("dst `{d}` is not absolute"),
            "write it from the image root, such as \"/app/\"",
        );
    }
    if d.split('/').any(|p| p == "..") || d.contains('\0') {
        return c.err(
            dst.span(),
            format!("dst `{d}` contains `..`"),
            "write the plain path inside the image",
        );
    }
    Ok(d.clone())
}

pub fn mode(c: &Checker, mode: &Spanned<ModeValue>) -> Result<u32, ConfigError> {
    let hint = "write the mode as a string of octal digits, such as \"0644\" or \"0755\"";
    let text = match mode.get_ref() {
        ModeValue::Text(t) => t,
        ModeValue::Integer(i) => {
            return c.err(
                mode.span(),
                format!("mode {i} is a number, which TOML reads as decimal"),
                hint,
            );
        }
    };
    let value = match u32::from_str_radix(text, 8) {
        Ok(v) if !text.is_empty() && v <= 0o7777 => v,
        _ => return c.err(mode.span(), format!("Invalid mode `{text}`"), hint),
    };
    if value & 0o6000 != 0 {
        return c.err(
            mode.span(),
            format!("mode `{text}` sets setuid or setgid"),
            "images carry no setuid or setgid files; drop the leading 4 or 2",
        );
    }
    Ok(value)
}

pub fn port(c: &Checker, p: &Spanned<String>) -> Result<String, ConfigError> {
    let (num, proto) = p.get_ref().split_once('/').unwrap_or((p.get_ref(), "tcp"));
    match (num.parse::<u16>(), proto) {
        (Ok(n), "tcp" | "udp" | "sctp") if n > 0 => Ok(format!("{n}/{proto}")),
        _ => c.err(
            p.span(),
            format!("Invalid port `{}`", p.get_ref()),
            "write PORT or PORT/PROTO, such as \"8080\" or \"53/udp\"",
        ),
    }
}

const SIGNALS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGKILL",
    "SIGUSR1",
    "SIGUSR2",
    "SIGTERM",
    "SIGWINCH",
    "SIGPWR",
    "SIGRTMIN+3",
];

pub fn signal(c: &Checker, s: &Spanned<String>) -> Result<String, ConfigError> {
    let v = s.get_ref();
    let upper = v.to_ascii_uppercase();
    let named = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if SIGNALS.contains(&named.as_str()) {
        return Ok(named);
    }
    match v.parse::<u8>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n.to_string()),
        _ => c.err(
            s.span(),
            format!("Unknown stop signal `{v}`"),
            "use a name such as \"SIGTERM\" or \"SIGINT\", or a number",
        ),
    }
}
