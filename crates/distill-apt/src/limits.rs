//! What a `.deb` may hold, within [`distill_oci::tarlimits`]'s bounds on its tar streams:
//! its data.tar is allowed four times its `Installed-Size` (tar's framing included), and
//! no package more than [`MAX_PACKAGE`], [`MAX_ENTRIES`] entries or a file of [`MAX_FILE`].

pub use distill_oci::tarlimits::{Crossed, Guarded, Limit, Limits, MAX_PATH};

/// The largest file a package may hold (Debian's largest are a few hundred MiB).
pub const MAX_FILE: u64 = 2 << 30;
/// The most a package's data.tar may decompress to, whatever its `Installed-Size` says.
pub const MAX_PACKAGE: u64 = 4 << 30;
/// The most entries a package may hold (Debian's largest hold tens of thousands).
pub const MAX_ENTRIES: u64 = 250_000;
/// The most control.tar may decompress to.
pub const MAX_CONTROL: u64 = 64 << 20;

/// The budget for a data.tar whose package declares `installed_kib`: four times that, plus
/// 64 MiB for tar's own framing, but never above [`MAX_PACKAGE`].
pub fn data_budget(installed_kib: Option<u64>) -> u64 {
    installed_kib.map_or(MAX_PACKAGE, |kib| {
        kib.saturating_mul(4 << 10)
            .saturating_add(64 << 20)
            .min(MAX_PACKAGE)
    })
}

/// The limits of a package's tar stream of `bytes`.
pub fn package(bytes: u64) -> Limits {
    Limits {
        bytes,
        entries: MAX_ENTRIES,
        file: MAX_FILE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_budget_follows_installed_size_within_the_cap() {
        assert_eq!(data_budget(Some(10)), 40 * 1024 + (64 << 20));
        assert_eq!(data_budget(None), MAX_PACKAGE);
        assert_eq!(data_budget(Some(u64::MAX)), MAX_PACKAGE);
    }
}
