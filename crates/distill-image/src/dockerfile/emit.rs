//! The translated Dockerfile as a distill.toml: the [`Draft`] a stage's instructions fill
//! in, written as TOML with a comment naming the Dockerfile line of each item.

use std::collections::BTreeMap;
use std::fmt::Write;

/// One `[[files]]` item.
#[derive(Debug, Clone, Default)]
pub struct FileItem {
    /// The instruction, `Dockerfile:4: COPY app.py ./`.
    pub origin: String,
    pub src: Option<String>,
    pub dst: String,
    pub mode: Option<String>,
    /// `--chmod` of a directory source: its directories get it too.
    pub dir_mode: Option<String>,
    pub uid: u64,
    pub gid: u64,
}

/// The config the instructions build up.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub base: String,
    pub debian: Option<String>,
    pub variant: Option<String>,
    pub platforms: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<String>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    pub ignore: Vec<String>,
    pub files: Vec<FileItem>,
}

#[derive(Debug, Clone, Default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    /// `(key, value)` in the order the config documents them.
    pub durations: Vec<(&'static str, String)>,
    pub retries: Option<i64>,
}

fn s(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}

fn list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|x| s(x)).collect();
    format!("[{}]", items.join(", "))
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        s(k)
    }
}

impl Draft {
    /// The distill.toml text, headed by `header` lines (each written as a comment).
    pub fn toml(&self, header: &[String]) -> String {
        let mut out = String::new();
        for line in header {
            let _ = writeln!(out, "# {line}");
        }
        out.push_str("[image]\n");
        let _ = writeln!(out, "base = {}", s(&self.base));
        let opt = |out: &mut String, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                let _ = writeln!(out, "{k} = {}", s(v));
            }
        };
        opt(&mut out, "debian", &self.debian);
        opt(&mut out, "variant", &self.variant);
        if !self.platforms.is_empty() {
            let _ = writeln!(out, "platforms = {}", list(&self.platforms));
        }
        if let Some(e) = &self.entrypoint {
            let _ = writeln!(out, "entrypoint = {}", list(e));
        }
        if let Some(c) = &self.cmd {
            let _ = writeln!(out, "cmd = {}", list(c));
        }
        opt(&mut out, "workdir", &self.workdir);
        opt(&mut out, "user", &self.user);
        if !self.ports.is_empty() {
            let _ = writeln!(out, "ports = {}", list(&self.ports));
        }
        opt(&mut out, "stop_signal", &self.stop_signal);
        if !self.volumes.is_empty() {
            let _ = writeln!(out, "volumes = {}", list(&self.volumes));
        }
        for (name, table) in [("env", &self.env), ("labels", &self.labels)] {
            if !table.is_empty() {
                let _ = writeln!(out, "\n[image.{name}]");
                for (k, v) in table {
                    let _ = writeln!(out, "{} = {}", key(k), s(v));
                }
            }
        }
        if let Some(h) = &self.healthcheck {
            let _ = writeln!(out, "\n[image.healthcheck]\ntest = {}", list(&h.test));
            for (k, v) in &h.durations {
                let _ = writeln!(out, "{k} = {}", s(v));
            }
            if let Some(r) = h.retries {
                let _ = writeln!(out, "retries = {r}");
            }
        }
        if !self.ignore.is_empty() {
            out.push_str("\n# .dockerignore\n[context]\nignore = [\n");
            for p in &self.ignore {
                let _ = writeln!(out, "  {},", s(p));
            }
            out.push_str("]\n");
        }
        for f in &self.files {
            let _ = writeln!(out, "\n# {}\n[[files]]", f.origin.replace('\n', " "));
            if let Some(src) = &f.src {
                let _ = writeln!(out, "src = {}", s(src));
            }
            let _ = writeln!(out, "dst = {}", s(&f.dst));
            if let Some(m) = &f.mode {
                let _ = writeln!(out, "mode = {}", s(m));
            }
            if let Some(m) = &f.dir_mode {
                let _ = writeln!(out, "dir_mode = {}", s(m));
            }
            if f.uid != 0 || f.gid != 0 {
                let _ = writeln!(out, "uid = {}\ngid = {}", f.uid, f.gid);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_is_valid_toml_that_the_config_reads_back() {
        let d = Draft {
            base: "static".into(),
            cmd: Some(vec!["/app".into(), "say \"hi\"".into()]),
            env: [("A.B".to_owned(), "x\ny".to_owned())].into(),
            labels: [("org.opencontainers.image.title".to_owned(), "t".to_owned())].into(),
            files: vec![FileItem {
                origin: "Dockerfile:3: COPY a /a".into(),
                src: Some("a".into()),
                dst: "/a".into(),
                mode: Some("0640".into()),
                dir_mode: None,
                uid: 65532,
                gid: 65532,
            }],
            ..Draft::default()
        };
        let text = d.toml(&["written by a test".into()]);
        let config: crate::config::Config = toml::from_str(&text).unwrap();
        assert_eq!(config.image.cmd.unwrap()[1], "say \"hi\"");
        assert_eq!(config.image.env["A.B"].get_ref(), "x\ny");
        assert_eq!(config.files[0].uid, Some(65532));
        assert!(text.starts_with("# written by a test\n[image]\n"), "{text}");
    }
}
