//! The Node app kind's data: what was detected, and what can go wrong.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NodeAppError {
    #[error("Cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid JSON: {why}", path.display())]
    #[diagnostic(help("fix the JSON of {}", path.display()))]
    Json { path: PathBuf, why: String },
    #[error("{}/package.json has no lockfile beside it (package-lock.json, yarn.lock, pnpm-lock.yaml or bun.lock)", dir.display())]
    #[diagnostic(help(
        "run your package manager's install (`npm install`, `yarn`, `pnpm install`, `bun install`) to write its lock, and commit it"
    ))]
    NoLock { dir: PathBuf },
    #[error("{} has more than one lockfile: {}", dir.display(), locks.join(", "))]
    #[diagnostic(help(
        "delete the ones your project does not use, or name the manager in package.json's \"packageManager\" field (\"pnpm@10.34.8\")"
    ))]
    TwoLocks { dir: PathBuf, locks: Vec<String> },
    #[error("{}/package.json names {manager} in \"packageManager\", but there is no {lock} (found: {})", dir.display(), if found.is_empty() { "none".to_owned() } else { found.join(", ") })]
    #[diagnostic(help(
        "run {manager} install to write {lock} and commit it, or correct \"packageManager\""
    ))]
    NoLockFor {
        dir: PathBuf,
        manager: String,
        lock: String,
        found: Vec<String>,
    },
    #[error("{}/package.json: \"packageManager\": \"{text}\" is not NAME@X.Y.Z[+ALGO.HEX] for npm, yarn, pnpm or bun", dir.display())]
    #[diagnostic(help(
        "write an exact version, as Corepack does: \"pnpm@10.34.8\" (`corepack use pnpm@10` writes one with its hash)"
    ))]
    PackageManagerField { dir: PathBuf, text: String },
    #[error("{}/bun.lockb is Bun's old binary lockfile, which distill cannot read or check", dir.display())]
    #[diagnostic(help(
        "run `bun install --save-text-lockfile` to write bun.lock, commit it and delete bun.lockb"
    ))]
    BinaryBunLock { dir: PathBuf },
    #[error("Cannot fetch {spec} from the npm registry:\n{output}")]
    #[diagnostic(help(
        "check that npm reaches the registry (`npm view {spec} version`), or name another version in \"packageManager\""
    ))]
    ToolFetch { spec: String, output: String },
    #[error(
        "{spec} from the npm registry does not have the hash \"packageManager\" names: {algo}.{expected}, but {found}"
    )]
    #[diagnostic(help(
        "the hash must be the one Corepack recorded for this version; run `corepack use {spec}` to write it again, or drop the +{algo}… suffix"
    ))]
    ToolHash {
        spec: String,
        algo: String,
        expected: String,
        /// What the tarball and the entry file hash to.
        found: String,
    },
    #[error("{spec}: \"packageManager\" hash algorithm `{algo}` is not one distill checks")]
    #[diagnostic(help("use sha512, sha384, sha256 or sha224, as Corepack writes them"))]
    HashAlgo { spec: String, algo: String },
    #[error("The {spec} tarball from the npm registry is not a package distill can use: {why}")]
    #[diagnostic(help(
        "the registry or a proxy served an unexpected archive; nothing was kept, so build again, and if it persists report it to the registry's operator"
    ))]
    ToolArchive { spec: String, why: String },
    #[error("These packages build or download a native addon in an install script, which distill does not run, and ship no addon for {platform}: {}", packages.join(", "))]
    #[diagnostic(help(
        "run their scripts confined with --allow-scripts={} (or `[node] allow_scripts` in distill.toml), use versions that ship a prebuilt .node for {platform} (often as an optional dependency), or build node_modules for {platform} yourself and pass --use-node-modules",
        names(packages)
    ))]
    NativeAddons {
        platform: String,
        packages: Vec<String>,
    },
    #[error("{}/package.json: the dependency {name} is `{spec}`, not a package from the npm registry", dir.display())]
    #[diagnostic(help(
        "distill installs production dependencies from the registry your npm is configured with: publish {name} there (a private registry with its credentials in .npmrc works), or install node_modules yourself and pass --use-node-modules"
    ))]
    NotFromRegistry {
        dir: PathBuf,
        name: String,
        spec: String,
    },
    #[error("--allow-scripts: install scripts build for this machine, not for {platform} ({})", packages.join(", "))]
    #[diagnostic(help(
        "build {platform} on a {platform} machine, or drop --allow-scripts for it and use packages that ship prebuilt binaries"
    ))]
    ScriptsForeign {
        platform: String,
        packages: Vec<String>,
    },
    #[error("--allow-scripts={name}: no package of that name is installed")]
    #[diagnostic(help(
        "name a production dependency as its package.json does (`bcrypt`, `@scope/name`)"
    ))]
    NotInstalled { name: String },
    #[error("--allow-scripts: npm's node-gyp is not on this machine")]
    #[diagnostic(help(
        "install npm (it carries node-gyp), and Node's headers (/usr/include/node)"
    ))]
    NoNodeGyp,
    #[error("The {event} script of {package} failed in the sandbox:\n{output}")]
    #[diagnostic(help(
        "the script runs with no network and only its package directory writable; a script that downloads its addon must fall back to building it (a compiler and Node's headers are on the host)"
    ))]
    Script {
        package: String,
        event: String,
        output: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("{} in the installed tree points outside node_modules, to {}", path.display(), target.display())]
    #[diagnostic(help(
        "a link:, file: or workspace dependency outside the app cannot go into the image; publish it, or vendor it into the app's directory"
    ))]
    OutsideLink { path: PathBuf, target: PathBuf },
    #[error("{source_name} in {} asks for Node `{text}`, which names no Node major distill builds (4 to 26)", path.display())]
    #[diagnostic(help(
        "write a major (24), a version (v24.1.0), a range (>=22), `node` or `lts/*`; or pass --entrypoint and write a distill.toml with base = \"nodejs24\""
    ))]
    Version {
        path: PathBuf,
        source_name: String,
        text: String,
    },
    #[error(
        "No entrypoint for the Node app in {}: no `node FILE` start script, `main` or index.js",
        dir.display()
    )]
    #[diagnostic(help(
        "set \"main\" or a \"start\": \"node FILE\" script in package.json, or pass --entrypoint \"/nodejs/bin/node FILE\""
    ))]
    NoEntrypoint { dir: PathBuf },
    #[error("{}: Yarn {version} installs production dependencies only with its workspace-tools plugin", dir.display())]
    #[diagnostic(help(
        "move the project to Yarn 4 (`yarn set version 4 && yarn install`), whose production install is built in (a plugin is code from the project, which distill does not run), or pass --use-node-modules with a tree you installed"
    ))]
    OldYarn { dir: PathBuf, version: String },
    #[error("{}: the workspaces cannot be read: {why}", dir.display())]
    #[diagnostic(help(
        "list the members as directories under the repository, such as \"packages/*\""
    ))]
    Workspace { dir: PathBuf, why: String },
    #[error("{} has no workspace member `{wanted}`", dir.display())]
    #[diagnostic(help("pass --workspace with a member's package name or directory: {members}"))]
    NoSuchWorkspace {
        dir: PathBuf,
        wanted: String,
        members: String,
    },
    #[error("--workspace {wanted}: {} declares no workspaces", dir.display())]
    #[diagnostic(help(
        "build the repository's root, whose package.json lists `workspaces` (or whose pnpm-workspace.yaml lists `packages`), or drop --workspace"
    ))]
    NotAWorkspace { dir: PathBuf, wanted: String },
    #[error("{} is a workspace root with no program of its own", dir.display())]
    #[diagnostic(help("choose the member to build with --workspace NAME: {members}"))]
    WorkspaceNeeded { dir: PathBuf, members: String },
    #[error("--use-node-modules: {} has no node_modules", dir.display())]
    #[diagnostic(help("run `npm ci --omit=dev` first, or drop --use-node-modules"))]
    NoNodeModules { dir: PathBuf },
    #[error("Cannot run npm: {why}")]
    #[diagnostic(help("install Node.js and npm on the build machine"))]
    Npm { why: String },
    #[error("{tool} failed for {platform}:\n{output}")]
    #[diagnostic(help(
        "check {lock} against package.json: `{tool}` must pass in the app's directory"
    ))]
    Install {
        tool: String,
        lock: String,
        platform: String,
        output: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Elf(#[from] crate::elf::ElfError),
}

/// The Node version a project asks for: the file or field, and its text
/// ([`super::version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct NodeApp {
    pub dir: PathBuf,
    pub package: serde_json::Value,
    /// The file that starts the app, relative to the app's directory.
    pub start: Option<String>,
    /// The Node version the project asks for, when it names one ([`super::version`]).
    pub wanted: Option<Wanted>,
    /// Use the app's own `node_modules` as it is, instead of `npm ci` (when asked).
    pub use_existing: bool,
    /// Packages whose install scripts run, confined (`--allow-scripts`).
    pub allow_scripts: Vec<String>,
    /// The Debian release under Node: the config's, else Debian 13.
    pub release: distill_core::Release,
    /// The workspace member built (`--workspace`), when the app is one.
    pub workspace: Option<Chosen>,
}

impl From<NodeAppError> for crate::kind::AppError {
    fn from(e: NodeAppError) -> Self {
        Self::new(e)
    }
}

/// `bcrypt,@scope/x` of labels `bcrypt@5.0.1 (install: ...)`.
fn names(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| {
            let spec = l.split(' ').next().unwrap_or(l);
            spec.rfind('@')
                .filter(|i| *i > 0)
                .map_or(spec, |i| &spec[..i])
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn read_json(path: &Path) -> Result<serde_json::Value, NodeAppError> {
    let text = std::fs::read_to_string(path).map_err(|source| NodeAppError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| NodeAppError::Json {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// One member of a workspace ([`super::workspace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Its directory, relative to the root, `/`-separated.
    pub dir: String,
}

/// The member being built, with the members it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub members: Vec<Member>,
    /// Index in `members` of the one built.
    pub chosen: usize,
    /// Indexes of the members the image holds: the chosen one and its member dependencies.
    pub needed: Vec<usize>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hint_names_the_packages_to_allow() {
        let labels = [
            "bcrypt@5.1.1 (install: node-pre-gyp install)".to_owned(),
            "@scope/x@1.0.0 (install: node-gyp rebuild)".to_owned(),
        ];
        assert_eq!(super::names(&labels), "bcrypt,@scope/x");
    }
}
