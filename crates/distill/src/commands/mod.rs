//! One module per verb of the command line.

pub mod base;
pub mod build;
pub mod lock;
pub mod push;
