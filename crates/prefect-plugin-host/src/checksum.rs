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

/// The file's identity as the file system keeps it, `DEV:INODE:SIZE:MTIME:CTIME` (times in
/// nanoseconds): the change time moves with every write and cannot be set back, so a later
/// equal stamp of the file means the same bytes, and the checksum taken after this stamp
/// still holds. `None` where there is no such identity (not Unix), and for a file changed in
/// the last two seconds, which a write within the same clock tick could change unseen.
pub fn stamp(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;

        let meta = std::fs::metadata(path).ok()?;
        let ctime = std::time::UNIX_EPOCH
            + std::time::Duration::new(
                u64::try_from(meta.ctime()).ok()?,
                u32::try_from(meta.ctime_nsec()).ok()?,
            );
        let age = std::time::SystemTime::now().duration_since(ctime).ok()?;
        (age >= std::time::Duration::from_secs(2)).then(|| {
            let nanos = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
            format!(
                "{}:{}:{}:{}:{}",
                meta.dev(),
                meta.ino(),
                meta.size(),
                nanos(meta.mtime(), meta.mtime_nsec()),
                nanos(meta.ctime(), meta.ctime_nsec())
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_file_is_stamped_once_it_has_settled_and_a_write_changes_its_stamp() {
        let path = std::env::temp_dir().join(format!("prefectctl-stamp-{}", std::process::id()));
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(stamp(&path), None, "just written: a write in the same tick could go unseen");
        let settled = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(settled).unwrap();
        // The change time moved with that, so wait until it has settled.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let before = stamp(&path).expect("a settled file has a stamp");
        assert_eq!(stamp(&path).as_ref(), Some(&before));
        std::fs::write(&path, "abd").unwrap();
        file.set_modified(settled).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let after = stamp(&path).expect("settled again");
        assert_ne!(before, after, "same size and modification time, but written since");
        std::fs::remove_file(path).unwrap();
    }

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
