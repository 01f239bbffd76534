//! The platform an image is built for: Linux on one of distill's architectures.

use std::fmt;
use std::str::FromStr;

use crate::arch::Arch;

/// `linux/amd64` or `linux/arm64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub arch: Arch,
}

/// A string that is not a platform distill builds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum PlatformError {
    #[error("Invalid platform `{0}`: expected OS/ARCH such as linux/amd64 or linux/arm64")]
    #[diagnostic(help("write linux/amd64 or linux/arm64"))]
    Syntax(String),
    #[error("Unsupported platform `{0}`: distill builds linux/amd64 and linux/arm64")]
    #[diagnostic(help("write linux/amd64 or linux/arm64"))]
    Unsupported(String),
}

impl Platform {
    pub const fn linux(arch: Arch) -> Self {
        Self { arch }
    }

    /// The machine distill runs on (amd64 where it is neither).
    pub fn host() -> Self {
        Self::linux(Arch::host().unwrap_or(Arch::Amd64))
    }

    pub fn os(&self) -> &'static str {
        "linux"
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(PlatformError::Syntax(s.to_owned())),
        };
        if os != "linux" {
            return Err(PlatformError::Syntax(s.to_owned()));
        }
        let unsupported = || PlatformError::Unsupported(s.to_owned());
        // Only Debian's own names: `linux/x86_64` is no OCI platform.
        let arch = Arch::ALL
            .into_iter()
            .find(|a| a.debian() == arch)
            .ok_or_else(unsupported)?;
        match variant {
            None => Ok(Self::linux(arch)),
            Some(v) if Some(v) == arch.oci_variant() => Ok(Self::linux(arch)),
            Some(_) => Err(unsupported()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_oci_writes() {
        assert_eq!("linux/amd64".parse(), Ok(Platform::linux(Arch::Amd64)));
        assert_eq!("linux/arm64/v8".parse(), Ok(Platform::linux(Arch::Arm64)));
        assert!(matches!(
            "linux/s390x".parse::<Platform>(),
            Err(PlatformError::Unsupported(_))
        ));
        assert!(matches!(
            "windows/amd64".parse::<Platform>(),
            Err(PlatformError::Syntax(_))
        ));
        assert!("linux/x86_64".parse::<Platform>().is_err());
        assert_eq!(Platform::linux(Arch::Arm64).to_string(), "linux/arm64");
    }
}
