//! distill-apt against the real Debian mirror of the host's apt sources: dpkg's version
//! ordering and apt's resolution are the oracles.

mod common;
mod oracle;
mod versions;
