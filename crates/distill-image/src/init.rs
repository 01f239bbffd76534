//! distill-init inside images: the static helper embedded in distill at build time (see
//! `build.rs`), and the entrypoint that wraps the app's in it (`[entrypoint]` in
//! distill.toml).

/// The helper, linked statically for the architecture distill itself was built for.
pub(crate) const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/distill-init"));

/// Where it goes in the image.
pub const PATH: &str = "/distill-init";

/// The architecture of [`BINARY`]: distill's own.
pub fn arch() -> Option<distill_core::Arch> {
    distill_core::Arch::host()
}

/// What `[entrypoint]` asks the helper to do before it execs the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitPlan {
    pub file_env: Vec<String>,
    /// `HOST:PORT` servers to wait for.
    pub wait: Vec<String>,
    pub wait_tries: Option<u32>,
    /// The pause between tries, as distill-init reads it: `1`, `0.5`, `500ms`, `2s`.
    pub wait_interval: Option<String>,
}

impl InitPlan {
    /// The entrypoint that runs the helper, then `app` (the image's entrypoint, or nothing
    /// when the command comes from `cmd`).
    pub(crate) fn wrap(&self, app: &[String]) -> Vec<String> {
        let mut out = vec![PATH.to_owned()];
        out.extend(self.file_env.iter().map(|v| format!("--file-env={v}")));
        out.extend(self.wait.iter().map(|w| format!("--wait-server={w}")));
        if let Some(n) = self.wait_tries {
            out.push(format!("--wait-tries={n}"));
        }
        if let Some(s) = &self.wait_interval {
            out.push(format!("--wait-interval={s}"));
        }
        out.push("--".into());
        out.extend(app.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_helper_is_a_static_elf_and_wraps_entrypoints() {
        let needs = distill_app::elf::parse(BINARY).unwrap();
        assert!(needs.is_static(), "{needs:?}");
        let plan = InitPlan {
            file_env: vec!["DB_PASSWORD".into()],
            wait: vec!["db:5432".into()],
            wait_tries: Some(5),
            wait_interval: Some("0.5".into()),
        };
        assert_eq!(
            plan.wrap(&["/app".into(), "-v".into()]),
            [
                "/distill-init",
                "--file-env=DB_PASSWORD",
                "--wait-server=db:5432",
                "--wait-tries=5",
                "--wait-interval=0.5",
                "--",
                "/app",
                "-v"
            ]
        );
    }
}
