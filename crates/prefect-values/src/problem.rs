//! [`Problem`]: one thing wrong with the user's values, with where it was set.

use std::fmt;

use crate::Origin;

/// How bad a [`Problem`] is; the host decides what to do with each (e.g. stop on errors and
/// print warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The values are wrong: a misspelt key, a wrong type, a value out of range...
    Error,
    /// The values may be right, e.g. a section that may belong to a plugin not in the stack.
    Warning,
}

/// One thing wrong with the user's values.
///
/// Displays as `ORIGIN: PATH: MESSAGE`, e.g.
/// `values.yaml:12: server.replicas: expected integer, found string "abc"` or
/// `--set server.replicas=abc: server.replicas: expected integer, found string "abc"`
/// (without the origin when there is none). The severity is not part of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Whether this is an error or a warning.
    pub severity: Severity,
    /// Where the value was set: exactly, or (for a value without an origin of its own, such as
    /// one copied by a YAML alias) its nearest ancestor's.
    pub origin: Option<Origin>,
    /// The value's path as [`ValuePath`](crate::ValuePath) prints it, e.g.
    /// `server.tolerations[0].key` or `server.annotations["kubernetes.io/x"]`.
    pub path: String,
    /// What is wrong, and what to do when there is a likely fix (e.g. "did you mean ...").
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}
