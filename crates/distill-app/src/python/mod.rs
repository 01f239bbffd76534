//! The Python app kind: a directory with a lockfile (`uv.lock`, `poetry.lock`, `pdm.lock`,
//! `Pipfile.lock`, `pylock.toml`, read by [`locks`]), `requirements.txt`, `pyproject.toml`,
//! or a loose `app.py`/`main.py`/`__main__.py` ([`app`]). Its Python, and so its Debian
//! release, is the one the project asks for ([`version`]).
//!
//! It goes onto the `python3` member (Debian's Python), with its dependencies installed by uv
//! for that interpreter, glibc and architecture ([`uv`]), checked wheel by wheel
//! ([`wheels`]), and its bytecode compiled by the image's own interpreter ([`bytecode`]).
//! Dependencies the project's files do not pin are pinned by `distill lock` ([`pin`]).

pub mod app;
pub mod bytecode;
pub mod index;
pub mod locks;
pub mod pin;
pub mod sdist;
pub mod source;
pub mod types;
pub mod uv;
pub mod version;
pub mod wheels;

pub use app::{Python, detect};
pub use types::{Deps, LockKind, PythonApp, PythonError, Start};
