//! The SHA-256 of a plugin's file, which `plugins list` shows and a release can pin.

use std::{io::Read, path::Path};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The lower-case hex SHA-256 of the file at `path`.
pub fn checksum(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).map_err(|_| Error::MissingFile { path: path.to_path_buf() })?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|err| Error::Open { path: path.to_path_buf(), source: err.into() })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_of_a_known_file() {
        let path = std::env::temp_dir().join(format!("prefectctl-checksum-{}", std::process::id()));
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(
            checksum(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_file(path).unwrap();
    }
}
