//! `COPY` and `ADD` from the context into `[[files]]` items, with Docker's rules for
//! destinations: relative to `WORKDIR`, a directory when it ends with `/` (or is `.`), and
//! one when there are several sources; `--chown` and `--chmod` on every entry.

use parse_dockerfile::{AddInstruction, CopyInstruction, Flag, Source, Span};

use super::emit::FileItem;
use super::hints;
use super::stage::{Translator, clean_path, owner};
use super::types::DockerfileError;

/// What the flags of one `COPY`/`ADD` say.
#[derive(Default)]
struct Flags {
    owner: Option<(u64, u64)>,
    mode: Option<String>,
}

impl Translator<'_, '_> {
    pub(super) fn copy(&mut self, c: &CopyInstruction<'_>) -> Result<(), DockerfileError> {
        let span = &c.copy.span;
        let flags = self.flags(&c.options, span, "COPY")?;
        let end = c.dest.span.end;
        self.sources(span, end, &c.src, &c.dest.value, flags, false)
    }

    pub(super) fn add(&mut self, a: &AddInstruction<'_>) -> Result<(), DockerfileError> {
        let span = &a.add.span;
        let flags = self.flags(&a.options, span, "ADD")?;
        let end = a.dest.span.end;
        self.sources(span, end, &a.src, &a.dest.value, flags, true)
    }

    fn flags(
        &self,
        options: &[Flag<'_>],
        span: &Span,
        what: &str,
    ) -> Result<Flags, DockerfileError> {
        let mut out = Flags::default();
        for flag in options {
            let value = match &flag.value {
                Some(v) => self.word(&v.value, span)?,
                None => String::new(),
            };
            match &*flag.name.value {
                "chown" => {
                    let Some(o) = owner(&value) else {
                        return self.refuse(
                            span,
                            format!(
                                "--chown={value} names a user the image's /etc/passwd does not have"
                            ),
                            "use root, nonroot, nobody, or numbers: --chown=65532:65532",
                        );
                    };
                    out.owner = Some(o);
                }
                "chmod" => {
                    let octal = !value.is_empty()
                        && value.len() <= 4
                        && value.bytes().all(|b| (b'0'..=b'7').contains(&b));
                    if !octal {
                        return self.refuse(
                            span,
                            format!("--chmod={value} is not an octal mode"),
                            "write the mode in octal, such as --chmod=0755",
                        );
                    }
                    out.mode = Some(format!("{:0>4}", value));
                }
                "link" => {}
                "from" => return self.copy_from(&value, span),
                "checksum" if what == "ADD" => {
                    return self.refuse(
                        span,
                        "ADD --checksum is for a download, which distill does not make yet".into(),
                        "download the file before the build, check its digest, and COPY it from the context",
                    );
                }
                other => {
                    return self.refuse(
                        span,
                        format!("{what} --{other} is not supported"),
                        "use --chown, --chmod or --link, or copy the files as they should land",
                    );
                }
            }
        }
        Ok(out)
    }

    /// `--from=NAME`: a stage that runs commands is refused with what distill does
    /// instead; other stages and images are not read yet.
    fn copy_from<T>(&self, name: &str, span: &Span) -> Result<T, DockerfileError> {
        if let Some(index) = self.stage_index(name) {
            if let Some((at, run)) = self.runs(index) {
                return self.refuse(
                    span,
                    format!(
                        "COPY --from={name} copies from a stage that runs commands (RUN at {at})"
                    ),
                    &hints::for_run(&run),
                );
            }
            return self.refuse(
                span,
                format!("COPY --from={name} copies from another stage"),
                "COPY the files from the context directly",
            );
        }
        self.refuse(
            span,
            format!("COPY --from={name} copies from an image, which distill does not read yet"),
            "copy the files out of the image before the build (docker cp, crane export), and COPY them from the context",
        )
    }

    fn sources(
        &mut self,
        span: &Span,
        end: usize,
        src: &[Source<'_>],
        dest: &str,
        flags: Flags,
        add: bool,
    ) -> Result<(), DockerfileError> {
        let origin = format!("{}: {}", self.at(span), self.source(span.start, end));
        let dest = self.word(dest, span)?;
        let many = src.len() > 1
            || src
                .iter()
                .any(|s| matches!(s, Source::Path(p) if p.value.contains(['*', '?', '['])));
        let dir_dest = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        if many && !dir_dest {
            return self.refuse(
                span,
                format!("With more than one source, the destination `{dest}` must be a directory"),
                "end the destination with `/`",
            );
        }
        let absolute = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{dest}", self.workdir)
        };
        let mut dst = clean_path(&absolute);
        if dir_dest && dst != "/" {
            dst.push('/');
        }
        for s in src {
            let Source::Path(p) = s else {
                return self.refuse(
                    span,
                    "A here-document source is not supported".into(),
                    "write the file into the context and COPY it",
                );
            };
            let path = self.word(&p.value, span)?;
            if add && (path.contains("://") || path.starts_with("git@")) {
                return self.refuse(
                    span,
                    format!("ADD {path} downloads, which distill does not do yet"),
                    "download the file before the build, check its digest, and COPY it from the context",
                );
            }
            let rel = path.trim_start_matches('/');
            let rel = if rel.is_empty() { "." } else { rel };
            if add && is_archive(&self.opts.context.join(rel)) {
                return self.refuse(
                    span,
                    format!("ADD {path} would unpack an archive, which distill does not do yet"),
                    "unpack it into the context before the build and COPY the directory",
                );
            }
            let (uid, gid) = flags.owner.unwrap_or((0, 0));
            let is_dir = rel.contains(['*', '?', '[']) || self.opts.context.join(rel).is_dir();
            self.draft.files.push(FileItem {
                origin: origin.clone(),
                src: Some(rel.to_owned()),
                dst: dst.clone(),
                mode: flags.mode.clone(),
                dir_mode: flags.mode.clone().filter(|_| is_dir),
                uid,
                gid,
            });
        }
        Ok(())
    }
}

/// Whether `path` is a file Docker's `ADD` would unpack: a tar, plain or compressed
/// (gzip, bzip2, xz).
fn is_archive(path: &std::path::Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 512];
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || (n >= 262 && &head[257..262] == b"ustar")
}
