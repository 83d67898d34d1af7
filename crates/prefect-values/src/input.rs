//! Reading the text of a values file, of standard input or of a `--set-file` file, and the
//! limits on what values may be: at most [`MAX_INPUT_BYTES`] of UTF-8 text, nested at most
//! [`MAX_DEPTH`] levels deep.
//!
//! Errors are [`std::io::Error`]s that keep the system's reason (`Permission denied (os error
//! 13)`), with their own message for text that is too large ([`ErrorKind::FileTooLarge`]) or
//! not UTF-8 ([`ErrorKind::InvalidData`]).

use std::io::{self, ErrorKind, Read};
use std::path::Path;

/// The most bytes a values file, standard input or a `--set-file` file may hold: far more than
/// any values file, far less than memory (`-f /dev/zero` would otherwise read until memory runs
/// out).
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// How deep values may nest: mappings and lists in a file or a `--set-json` value, keys of a
/// `--set` flag. Kubernetes objects in values go a dozen levels deep; far deeper input is a
/// mistake or an attack, and reading it would exhaust the stack or memory.
pub const MAX_DEPTH: usize = 100;

/// The text of the file at `path`, read as [`read_text`] reads.
pub fn read_text_file(path: impl AsRef<Path>) -> io::Result<String> {
    read_text(std::fs::File::open(path)?)
}

/// The UTF-8 text `reader` gives, up to [`MAX_INPUT_BYTES`]; more is an error of kind
/// [`ErrorKind::FileTooLarge`], and text that is not UTF-8 one of kind
/// [`ErrorKind::InvalidData`] saying where.
pub fn read_text(reader: impl Read) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(MAX_INPUT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(io::Error::new(
            ErrorKind::FileTooLarge,
            format!(
                "it holds more than {} MiB, the most prefectctl reads as values: is it the file you meant?",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|err| io::Error::new(ErrorKind::InvalidData, not_utf8(err.as_bytes())))
}

/// Why `bytes` are not UTF-8, and where.
fn not_utf8(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return "it is UTF-16 text, not UTF-8: save it as UTF-8".to_owned();
    }
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(err) => err.valid_up_to(),
    };
    let before = String::from_utf8_lossy(&bytes[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let byte = bytes.get(valid).copied().unwrap_or_default();
    format!(
        "it is not UTF-8 text (byte 0x{byte:02X} at line {line}, column {column}): save it as UTF-8"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: &[u8]) -> String {
        let err = read_text(bytes).unwrap_err();
        format!("{:?}: {err}", err.kind())
    }

    #[test]
    fn limits_and_encodings() {
        assert_eq!(read_text(&b"a: 1\n"[..]).unwrap(), "a: 1\n");
        assert_eq!(
            message(b"a: 1\nb: caf\xE9\n"),
            "InvalidData: it is not UTF-8 text (byte 0xE9 at line 2, column 7): save it as UTF-8"
        );
        assert_eq!(
            message(b"\xFF\xFEa\0:\0"),
            "InvalidData: it is UTF-16 text, not UTF-8: save it as UTF-8"
        );
        let zeros = std::io::repeat(0);
        let err = read_text(zeros).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "it holds more than 16 MiB, the most prefectctl reads as values: is it the file you meant?"
        );
        let exactly = vec![b'#'; MAX_INPUT_BYTES];
        assert_eq!(read_text(&exactly[..]).unwrap().len(), MAX_INPUT_BYTES);
    }
}
