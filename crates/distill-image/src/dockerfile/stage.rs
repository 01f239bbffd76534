//! One stage's instructions, in order, into the [`Draft`]: the variables each instruction
//! sees, the working directory and user that relative paths and `WORKDIR` use, and the
//! refusals, each naming its line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use parse_dockerfile::{Command, Dockerfile, Instruction, Span};

use super::emit::{Draft, FileItem};
use super::from::{self, From};
use super::hints;
use super::types::{DockerfileError, Options};
use super::words::{self, Vars};

pub(super) struct Translator<'a, 'f> {
    pub path: &'a Path,
    pub text: &'a str,
    pub file: &'a Dockerfile<'f>,
    pub opts: &'a Options,
    pub escape: char,
    /// Global `ARG`s (before the first `FROM`), with their values.
    pub globals: Vars,
    pub used_args: BTreeSet<String>,
    pub notes: Vec<String>,
    pub draft: Draft,
    pub args: Vars,
    pub env: Vars,
    pub workdir: String,
    /// The user `WORKDIR` creates directories as, `(uid, gid)`.
    pub owner: (u64, u64),
    pub cmd_set: bool,
    pub ignore: Vec<String>,
}

impl<'a, 'f> Translator<'a, 'f> {
    pub fn new(
        path: &'a Path,
        text: &'a str,
        file: &'a Dockerfile<'f>,
        opts: &'a Options,
        ignore: Vec<String>,
    ) -> Result<Self, DockerfileError> {
        let escape = file
            .parser_directives
            .escape
            .as_ref()
            .map_or('\\', |e| e.value.value);
        let mut t = Self {
            path,
            text,
            file,
            opts,
            escape,
            globals: predefined(),
            used_args: BTreeSet::new(),
            notes: Vec::new(),
            draft: Draft::default(),
            args: Vars::new(),
            env: Vars::new(),
            workdir: "/".into(),
            owner: (0, 0),
            cmd_set: false,
            ignore,
        };
        for arg in file.global_args() {
            let vars = t.globals.clone();
            for (name, default) in t.pairs(&arg.arguments.value, &vars, &arg.arg.span, false)? {
                let value = t.arg_value(&name, default);
                t.globals.insert(name, value);
            }
        }
        Ok(t)
    }

    /// `file:line`, for an instruction at `span`.
    pub fn at(&self, span: &Span) -> String {
        let line = self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        format!("{}:{line}", self.path.display())
    }

    pub fn refuse<T>(
        &self,
        span: &Span,
        message: String,
        hint: &str,
    ) -> Result<T, DockerfileError> {
        Err(DockerfileError::Refused {
            at: self.at(span),
            message,
            hint: hint.to_owned(),
        })
    }

    /// The instruction's text, for comments: `COPY app.py ./`.
    pub fn source(&self, start: usize, end: usize) -> String {
        let t = self.text.get(start..end).unwrap_or_default();
        t.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn arg_value(&mut self, name: &str, default: Option<String>) -> String {
        match self.opts.build_args.get(name) {
            Some(v) => {
                self.used_args.insert(name.to_owned());
                v.clone()
            }
            None => default
                .or_else(|| self.globals.get(name).cloned())
                .unwrap_or_default(),
        }
    }

    /// What `$NAME` means in the stage: its `ARG`s, overridden by its `ENV`.
    pub fn vars(&self) -> Vars {
        let mut v = self.args.clone();
        v.extend(self.env.clone());
        v
    }

    pub fn word(&self, text: &str, span: &Span) -> Result<String, DockerfileError> {
        words::word(text, &self.vars(), self.escape).or_else(|e| {
            self.refuse(
                span,
                e.0,
                "quote and escape as in a shell; `\\$` is a literal dollar",
            )
        })
    }

    fn pairs(
        &self,
        text: &str,
        vars: &Vars,
        span: &Span,
        legacy: bool,
    ) -> Result<Vec<(String, Option<String>)>, DockerfileError> {
        words::pairs(text, vars, self.escape, legacy).or_else(|e| {
            self.refuse(
                span,
                e.0,
                "write NAME=VALUE pairs, quoting values with spaces",
            )
        })
    }

    /// The index of the stage to build: `--target`, or the last.
    pub fn final_stage(&self) -> Result<usize, DockerfileError> {
        let count = self.file.stages().len();
        let Some(target) = &self.opts.target else {
            return Ok(count.saturating_sub(1));
        };
        self.stage_index(target)
            .ok_or_else(|| DockerfileError::Refused {
                at: self.path.display().to_string(),
                message: format!("No stage is named `{target}`"),
                hint: "name a stage of the Dockerfile (`FROM ... AS NAME`), or drop --target"
                    .into(),
            })
    }

    /// The stage `name` means (its `AS` name, or its number).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let stages: Vec<_> = self.file.stages().collect();
        stages
            .iter()
            .position(|s| {
                s.from
                    .as_
                    .as_ref()
                    .is_some_and(|(_, n)| n.value.eq_ignore_ascii_case(name))
            })
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < stages.len()))
    }

    /// The `RUN`s of stage `index` (or of a stage it builds on).
    /// The line of the first, and the commands of all of them, so the hint sees what the
    /// stage is for (a `go build` after a `go mod download`).
    pub fn runs(&self, index: usize) -> Option<(String, String)> {
        let stage = self.file.stages().nth(index)?;
        let runs: Vec<(String, String)> = stage
            .instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Run(r) => Some(self.runs_of(r)),
                _ => None,
            })
            .collect();
        if let Some((at, _)) = runs.first() {
            let all: Vec<&str> = runs.iter().map(|(_, t)| t.as_str()).collect();
            return Some((at.clone(), all.join("\n")));
        }
        let base = self.globals_word(&stage.from.image.value);
        self.stage_index(&base)
            .filter(|b| *b < index)
            .and_then(|b| self.runs(b))
    }

    fn globals_word(&self, text: &str) -> String {
        words::word(text, &self.globals, self.escape).unwrap_or_default()
    }

    /// Translates stage `index` into the draft, after the stage it builds on.
    pub fn stage(&mut self, index: usize) -> Result<(), DockerfileError> {
        let file = self.file;
        let Some(stage) = file.stages().nth(index) else {
            return Err(DockerfileError::Refused {
                at: self.path.display().to_string(),
                message: "The Dockerfile has no FROM".into(),
                hint: "start the build stage with FROM, such as FROM gcr.io/distroless/static-debian13:nonroot".into(),
            });
        };
        let span = &stage.from.from.span;
        let image = words::word(&stage.from.image.value, &self.globals, self.escape)
            .or_else(|e| self.refuse(span, e.0, "check the FROM line's variables"))?;
        for flag in &stage.from.options {
            if flag.name.value == "platform" {
                self.notes.push(format!(
                    "{}: FROM --platform is left out; distill builds for --platform (or [image] platforms)",
                    self.at(span)
                ));
            }
        }
        match self.stage_index(&image).filter(|b| *b < index) {
            Some(base) => self.stage(base)?,
            None => self.base(&image, span)?,
        }
        // A stage's own CMD is what an ENTRYPOINT after it keeps; one it built on is a base's.
        self.args.clear();
        self.cmd_set = false;
        for i in stage.instructions {
            self.instruction(i)?;
        }
        Ok(())
    }

    fn base(&mut self, image: &str, span: &Span) -> Result<(), DockerfileError> {
        let found = from::parse(image, &mut self.notes).or_else(|e| {
            self.refuse(
                span,
                e,
                "use a distroless name (gcr.io/distroless/NAME-debian12:nonroot), scratch, or a registry image",
            )
        })?;
        self.draft = Draft {
            ignore: std::mem::take(&mut self.draft.ignore),
            ..Draft::default()
        };
        self.env = [("PATH".to_owned(), crate::plan::DEFAULT_PATH.to_owned())].into();
        match found {
            From::Scratch => {
                self.draft.base = "scratch".into();
                self.draft.variant = Some("latest".into());
                self.notes.push(format!(
                    "{}: FROM scratch runs as root, as in Docker; set variant = \"nonroot\" to run as 65532",
                    self.at(span)
                ));
            }
            From::Member {
                member,
                release,
                variant,
            } => {
                let nonroot = variant.ends_with("nonroot");
                self.draft.base = member.name().to_owned();
                self.draft.debian = release.map(|r| r.number().to_owned());
                self.draft.variant = Some(variant);
                if nonroot {
                    self.workdir = "/home/nonroot".into();
                    self.owner = (65532, 65532);
                }
            }
            From::Registry(r) => {
                self.draft.base = format!("docker://{r}");
            }
        }
        Ok(())
    }

    fn instruction(&mut self, i: &Instruction<'_>) -> Result<(), DockerfileError> {
        match i {
            Instruction::Arg(_) | Instruction::Env(_) | Instruction::Label(_) => {
                self.variables(i)?;
            }
            Instruction::Workdir(w) => self.workdir(&w.arguments.value, &w.workdir.span)?,
            Instruction::User(u) => {
                let user = self.word(&u.arguments.value, &u.user.span)?;
                self.owner = owner(&user).unwrap_or((0, 0));
                self.draft.user = Some(user);
            }
            Instruction::Expose(e) => {
                for p in &e.arguments {
                    let p = self.word(&p.value, &e.expose.span)?;
                    self.draft
                        .ports
                        .extend(p.split_whitespace().map(str::to_owned));
                }
            }
            Instruction::Stopsignal(s) => {
                self.draft.stop_signal = Some(self.word(&s.arguments.value, &s.stopsignal.span)?);
            }
            Instruction::Volume(v) => {
                let list = match &v.arguments {
                    parse_dockerfile::JsonOrStringArray::Json(j) => {
                        j.value.iter().collect::<Vec<_>>()
                    }
                    parse_dockerfile::JsonOrStringArray::String(s) => s.iter().collect(),
                };
                for w in list {
                    let w = self.word(&w.value, &v.volume.span)?;
                    self.draft.volumes.push(w);
                }
            }
            Instruction::Cmd(c) => {
                self.draft.cmd = Some(self.exec(&c.arguments, &c.cmd.span, "CMD")?);
                self.cmd_set = true;
            }
            Instruction::Entrypoint(e) => {
                let args = self.exec(&e.arguments, &e.entrypoint.span, "ENTRYPOINT")?;
                if !self.cmd_set {
                    self.draft.cmd = None;
                }
                self.draft.entrypoint = Some(args);
            }
            Instruction::Healthcheck(h) => self.healthcheck(h)?,
            Instruction::Copy(c) => self.copy(c)?,
            Instruction::Add(a) => self.add(a)?,
            Instruction::Run(r) => {
                let (_, text) = self.runs_of(r);
                return self.refuse(
                    &r.run.span,
                    "RUN needs a shell, and the image has none".into(),
                    &hints::for_run(&text),
                );
            }
            Instruction::Shell(s) => self.notes.push(format!(
                "{}: SHELL is left out: without RUN or shell forms nothing uses it",
                self.at(&s.shell.span)
            )),
            Instruction::Onbuild(o) => self.notes.push(format!(
                "{}: ONBUILD is left out: OCI images carry no build triggers",
                self.at(&o.onbuild.span)
            )),
            Instruction::Maintainer(m) => {
                let name = self.word(&m.name.value, &m.maintainer.span)?;
                self.draft.labels.insert("maintainer".into(), name);
                self.notes.push(format!(
                    "{}: MAINTAINER is written as the label `maintainer`, as Docker recommends",
                    self.at(&m.maintainer.span)
                ));
            }
            Instruction::From(_) => {}
            _ => {}
        }
        Ok(())
    }

    /// `ARG`, `ENV` and `LABEL`: names and values, each seeing the variables from before
    /// the instruction.
    fn variables(&mut self, i: &Instruction<'_>) -> Result<(), DockerfileError> {
        let vars = self.vars();
        match i {
            Instruction::Arg(a) => {
                for (name, default) in self.pairs(&a.arguments.value, &vars, &a.arg.span, false)? {
                    let value = self.arg_value(&name, default);
                    self.args.insert(name, value);
                }
            }
            Instruction::Env(e) => {
                for (name, value) in self.pairs(&e.arguments.value, &vars, &e.env.span, true)? {
                    let Some(value) = value else {
                        return self.refuse(
                            &e.env.span,
                            format!("ENV {name} has no value"),
                            "write ENV NAME=VALUE",
                        );
                    };
                    self.env.insert(name.clone(), value.clone());
                    self.draft.env.insert(name, value);
                }
            }
            Instruction::Label(l) => {
                for (name, value) in self.pairs(&l.arguments.value, &vars, &l.label.span, true)? {
                    self.draft.labels.insert(name, value.unwrap_or_default());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn runs_of(&self, r: &parse_dockerfile::RunInstruction<'_>) -> (String, String) {
        let text = match &r.arguments {
            Command::Exec(e) => e
                .value
                .iter()
                .map(|w| w.value.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            Command::Shell(s) => s.value.to_owned(),
            _ => String::new(),
        };
        (self.at(&r.run.span), text)
    }

    /// An exec-form command; a shell form is refused with the exec form it could be.
    pub fn exec(
        &self,
        cmd: &Command<'_>,
        span: &Span,
        what: &str,
    ) -> Result<Vec<String>, DockerfileError> {
        match cmd {
            Command::Exec(e) => {
                let v: Vec<String> = e.value.iter().map(|w| w.value.to_string()).collect();
                if what == "ENTRYPOINT" && v.is_empty() {
                    return self.refuse(
                        span,
                        "ENTRYPOINT [] clears the entrypoint, which distill does not do".into(),
                        "name the program to run: ENTRYPOINT [\"/app\"]",
                    );
                }
                Ok(v)
            }
            Command::Shell(s) => {
                let words: Vec<String> = s
                    .value
                    .split_whitespace()
                    .map(|w| format!("{w:?}"))
                    .collect();
                self.refuse(
                    span,
                    format!("Shell-form {what} runs /bin/sh -c, and the image has no shell"),
                    &format!("write the exec form: {what} [{}]", words.join(", ")),
                )
            }
            _ => self.refuse(
                span,
                format!("Unknown {what} form"),
                "write the exec form: [\"PROGRAM\", \"ARG\"]",
            ),
        }
    }

    fn workdir(&mut self, text: &str, span: &Span) -> Result<(), DockerfileError> {
        let w = self.word(text, span)?;
        let joined = if w.starts_with('/') {
            w
        } else {
            format!("{}/{w}", self.workdir)
        };
        let clean = clean_path(&joined);
        self.workdir = clean.clone();
        self.draft.workdir = Some(clean.clone());
        let exists = self
            .draft
            .files
            .iter()
            .any(|f| f.src.is_none() && f.dst == clean);
        // A directory the base has is left as it is, as BuildKit's mkdir leaves it: an entry
        // of ours would replace its mode and owner (/tmp's sticky bit, /home/nonroot's 0700).
        let base_has = self.draft.base != "scratch" && BASE_DIRS.contains(&clean.as_str());
        if clean != "/" && !exists && !base_has {
            // BuildKit makes the directory as the current user.
            self.draft.files.push(FileItem {
                origin: format!(
                    "{}: {}",
                    self.at(span),
                    self.source(span.start, span.end + text.len() + 1)
                ),
                src: None,
                dst: clean,
                mode: None,
                dir_mode: None,
                uid: self.owner.0,
                gid: self.owner.1,
            });
        }
        Ok(())
    }

    pub fn finish(mut self) -> (Draft, Vec<String>) {
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k))
            .collect();
        if !unused.is_empty() {
            self.notes
                .push(format!("build arguments no ARG uses: {unused:?}"));
        }
        if self
            .draft
            .files
            .iter()
            .any(|f| f.src.as_deref() == Some("."))
        {
            self.ignore.push("/distill.toml".into());
        }
        self.draft.ignore = std::mem::take(&mut self.ignore);
        self.draft.ports.dedup();
        (self.draft, self.notes)
    }
}

/// Directories every distroless image has (and most registry images).
const BASE_DIRS: [&str; 14] = [
    "/bin",
    "/etc",
    "/home",
    "/home/nonroot",
    "/lib",
    "/root",
    "/sbin",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/var",
];

/// The `ARG`s BuildKit defines in the global scope, for the host.
fn predefined() -> Vars {
    let arch = distill_core::Arch::host().map_or("amd64", |a| a.debian());
    let platform = format!("linux/{arch}");
    BTreeMap::from([
        ("TARGETPLATFORM".into(), platform.clone()),
        ("TARGETOS".into(), "linux".into()),
        ("TARGETARCH".into(), arch.into()),
        ("TARGETVARIANT".into(), String::new()),
        ("BUILDPLATFORM".into(), platform),
        ("BUILDOS".into(), "linux".into()),
        ("BUILDARCH".into(), arch.into()),
    ])
}

/// `(uid, gid)` of `USER` or `--chown` text, from distroless's `/etc/passwd`; numbers as
/// they are, a missing group the user's own.
pub fn owner(spec: &str) -> Option<(u64, u64)> {
    let id = |name: &str| match name {
        "root" => Some(0),
        "nonroot" => Some(65532),
        "nobody" => Some(65534),
        n => n.parse::<u64>().ok(),
    };
    match spec.split_once(':') {
        Some((u, g)) => Some((id(u)?, id(g)?)),
        None => id(spec).map(|u| (u, u)),
    }
}

/// `/a/./b//c/` → `/a/b/c`; `..` goes up, never above the root.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    format!("/{}", parts.join("/"))
}
