//! What a `RUN` step does, for the hint that says what distill does instead.

/// The hint for a stage whose `RUN` is `command`.
pub fn for_run(command: &str) -> String {
    let c = command.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| c.contains(w));
    if has(&[
        "pip install",
        "pip3 install",
        "poetry install",
        "uv sync",
        "uv pip",
        "pipenv",
        "pdm install",
    ]) {
        return "this stage installs Python dependencies; `distill build .` installs them for the image's Python, glibc and arch, from the project's lock".into();
    }
    if has(&["npm ci", "npm install", "yarn", "pnpm", "bun install"]) {
        return "this stage installs Node dependencies; `distill build .` installs them from the project's lock, scripts off, for the image's Node".into();
    }
    if has(&["apt-get install", "apt install"]) {
        let packages = apt_packages(&c);
        let list: Vec<String> = packages.iter().map(|p| format!("\"{p}\"")).collect();
        return format!(
            "this stage installs Debian packages; write [packages] include = [{}] in a distill.toml, and distill resolves and verifies them",
            list.join(", ")
        );
    }
    if has(&[
        "go build",
        "cargo build",
        "mvn ",
        "gradle",
        "make",
        "gcc ",
        "cmake",
    ]) {
        return "this stage compiles the app; build it before distill runs, then COPY the binary or jar from the context (`distill build ./app` takes a binary and finds its libraries)".into();
    }
    "build what this stage makes before distill runs, then COPY the result from the context".into()
}

/// The package names after `apt-get install` (options and `&&` chains left out).
fn apt_packages(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in command.split("&&").flat_map(|p| p.split(';')) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "install") else {
            continue;
        };
        if !words[..at].iter().any(|w| w.starts_with("apt")) {
            continue;
        }
        for w in &words[at + 1..] {
            if w.starts_with('-') || *w == "\\" {
                continue;
            }
            let name = w.split('=').next().unwrap_or(w);
            if !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_what_distill_does_instead() {
        assert!(for_run("pip install --no-cache-dir -r requirements.txt").contains("Python"));
        assert!(for_run("npm ci --omit=dev").contains("Node"));
        let apt = for_run(
            "apt-get update && apt-get install -y --no-install-recommends curl ca-certificates=1",
        );
        assert!(
            apt.contains(r#"include = ["curl", "ca-certificates"]"#),
            "{apt}"
        );
        assert!(for_run("CGO_ENABLED=0 go build -o /app .").contains("compiles"));
        assert!(for_run("echo hi").contains("COPY the result"));
    }
}
