//! Credentials a plugin makes itself, such as a database password: generated from the
//! operating system's cryptographic random source, and read back from the live Secret on later
//! applies (see [`Context::lookup`](crate::Context::lookup)) so that they never change.

use crate::Error;

/// The characters of generated passwords: letters and digits, which need no quoting in URLs,
/// shells or YAML.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A password of `length` letters and digits from the OS's random source (about 5.95 bits of
/// entropy a character: 32 characters give 190 bits).
pub fn generate_password(length: usize) -> Result<String, Error> {
    // Rejection sampling: only bytes below the largest multiple of the alphabet's size are
    // used, so that every character is equally likely.
    let limit = u8::MAX - (u8::MAX % ALPHABET.len() as u8);
    let mut password = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while password.len() < length {
        getrandom::fill(&mut buffer).map_err(|err| {
            Error::new(format!("the operating system's random source failed: {err}"))
        })?;
        for &byte in &buffer {
            if byte < limit && password.len() < length {
                password.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_alphanumeric_and_different() {
        let a = generate_password(32).unwrap();
        let b = generate_password(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
        // Over many characters, every one of the 62 shows up.
        let many = generate_password(62 * 200).unwrap();
        for c in ALPHABET {
            assert!(many.as_bytes().contains(c), "{} never drawn", *c as char);
        }
    }
}
