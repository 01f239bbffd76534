//! Environment variables of an image config (`KEY=VALUE`).

use std::fmt;
use std::str::FromStr;

/// One variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// A name or value an image config cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum EnvError {
    #[error("Invalid environment variable name `{0}`")]
    #[diagnostic(help("names are non-empty and have no `=` and no NUL byte"))]
    Name(String),
    #[error("The value of {0} holds a NUL byte")]
    #[diagnostic(help("remove the NUL byte from the value"))]
    Value(String),
    #[error("`{0}` is not KEY=VALUE")]
    #[diagnostic(help("write the variable as KEY=VALUE"))]
    Syntax(String),
}

impl EnvVar {
    pub fn new(name: &str, value: &str) -> Result<Self, EnvError> {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(EnvError::Name(name.to_owned()));
        }
        if value.contains('\0') {
            return Err(EnvError::Value(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

impl FromStr for EnvVar {
    type Err = EnvError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| EnvError::Syntax(s.to_owned()))?;
        Self::new(k, v)
    }
}

impl fmt::Display for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

/// Sets `var` in `env`, replacing a variable of the same name in place.
pub fn set(env: &mut Vec<EnvVar>, var: EnvVar) {
    match env.iter_mut().find(|e| e.name == var.name) {
        Some(slot) => *slot = var,
        None => env.push(var),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_set() {
        let v: EnvVar = "A=b=c".parse().unwrap();
        assert_eq!((v.name.as_str(), v.value.as_str()), ("A", "b=c"));
        assert!("=x".parse::<EnvVar>().is_err());
        assert!("noequals".parse::<EnvVar>().is_err());
        assert!(EnvVar::new("A", "x\0").is_err());
        let mut env = vec![v, "B=1".parse().unwrap()];
        set(&mut env, "A=2".parse().unwrap());
        assert_eq!(
            env.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["A=2", "B=1"]
        );
    }
}
