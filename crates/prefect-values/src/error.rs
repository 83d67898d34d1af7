//! [`Error`]: why a values file or a `--set` flag could not be read.
//!
//! Every message names the file (with line and column when there is one) or the flag, and says
//! what to do next. Problems with values that were read fine (unknown keys, wrong types) are not
//! errors of this kind: validation returns them all as [`Problem`](crate::Problem)s.

/// A `Result` whose error is, by default, this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a values file or a `--set` flag could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A values file could not be read: the system's reason (missing, a folder, no
    /// permission...), or text larger than [`MAX_INPUT_BYTES`](crate::MAX_INPUT_BYTES) or not
    /// UTF-8 ([`read_text`](crate::read_text)).
    #[error("cannot read values file {path}: {reason}{}", hint(reason.kind()))]
    Read {
        /// The file's name as the user gave it.
        path: String,
        /// Why reading failed; part of the message.
        reason: std::io::Error,
    },
    /// A values file is not valid YAML.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        /// The file's name as the user gave it.
        path: String,
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What the YAML parser found wrong.
        message: String,
    },
    /// A values file is valid YAML but cannot be values: its top level is not a mapping, a key
    /// is not a string, a key is repeated, a number is out of range...
    #[error("{path}:{line}: {message}")]
    Content {
        /// The file's name as the user gave it.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong and what to do about it.
        message: String,
    },
    /// A `--set`, `--set-string`, `--set-json` or `--set-file` argument is not in `KEY=VALUE`
    /// syntax, its JSON is invalid, or its file cannot be read.
    #[error("{flag}: {message}")]
    Set {
        /// The flag and its argument as the user gave them, e.g. `--set server.replicas`.
        flag: String,
        /// What is wrong and what to do about it.
        message: String,
    },
}

/// What to do about a values file that cannot be read, when the system's reason does not say.
fn hint(kind: std::io::ErrorKind) -> &'static str {
    match kind {
        std::io::ErrorKind::NotFound => " (check the path given to -f/--values)",
        std::io::ErrorKind::IsADirectory => " (give a file, not a folder)",
        _ => "",
    }
}
