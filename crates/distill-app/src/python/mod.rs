//! The Python app kind: a directory with `uv.lock`, `pyproject.toml`, `requirements.txt`, or
//! a loose `app.py`/`main.py`/`__main__.py` ([`app`]).
//!
//! It goes onto the `python3` member (Debian's Python), with its dependencies installed by uv
//! for that interpreter, glibc and architecture ([`uv`]), checked wheel by wheel
//! ([`wheels`]), and its bytecode compiled by the image's own interpreter ([`bytecode`]).

pub mod app;
pub mod bytecode;
pub mod types;
pub mod uv;
pub mod wheels;

pub use app::{Python, detect};
pub use types::{Deps, PythonApp, PythonError, Start};
