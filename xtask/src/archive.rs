//! A `.tar.gz` that depends only on the files in it: entries sorted by path, every directory
//! listed, one timestamp, owner root (0:0, no names), modes 0755 or 0644, and a gzip header
//! without a time or file name. Two builds of the same files give the same bytes.

use std::{collections::BTreeMap, io::Write};

use flate2::{Compression, GzBuilder};

/// The files of an archive, by their path inside it.
#[derive(Debug, Default)]
pub struct Archive {
    files: BTreeMap<String, File>,
}

#[derive(Debug)]
struct File {
    bytes: Vec<u8>,
    executable: bool,
}

impl Archive {
    /// Adds a file at `path` (`bin/prefectctl`), replacing one already there.
    pub fn add(&mut self, path: &str, bytes: Vec<u8>, executable: bool) {
        self.files.insert(path.to_owned(), File { bytes, executable });
    }

    /// The files and their contents, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(path, file)| (path.as_str(), file.bytes.as_slice()))
    }

    /// The files, sorted by path: each with its contents and whether it is executable.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8], bool)> {
        self.files
            .iter()
            .map(|(path, file)| (path.as_str(), file.bytes.as_slice(), file.executable))
    }

    /// The archive, every entry under the folder `root`, stamped with `mtime` (seconds since
    /// the epoch).
    pub fn to_tar_gz(&self, root: &str, mtime: u64) -> std::io::Result<Vec<u8>> {
        let gzip = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
        let mut tar = tar::Builder::new(gzip);
        let dirs = self.dirs().into_iter().map(|dir| (dir, None));
        let files = self.files.iter().map(|(path, file)| (path.clone(), Some(file)));
        let entries: BTreeMap<String, Option<&File>> = dirs.chain(files).collect();
        for (path, file) in entries {
            let path = format!("{root}/{path}");
            let mut header = match file {
                None => header(tar::EntryType::Directory, 0o755, 0, mtime),
                Some(file) => {
                    let mode = if file.executable { 0o755 } else { 0o644 };
                    header(tar::EntryType::Regular, mode, file.bytes.len(), mtime)
                }
            };
            let body = file.map_or(&[][..], |file| file.bytes.as_slice());
            tar.append_data(&mut header, path, body)?;
        }
        let mut gzip = tar.into_inner()?;
        gzip.flush()?;
        gzip.finish()
    }

    /// Every folder that holds a file, as `dir/` (which sorts just before what it holds); `""`
    /// is the root.
    fn dirs(&self) -> Vec<String> {
        let mut dirs = std::collections::BTreeSet::from([String::new()]);
        for path in self.files.keys() {
            let mut parent = path.as_str();
            while let Some((dir, _)) = parent.rsplit_once('/') {
                dirs.insert(format!("{dir}/"));
                parent = dir;
            }
        }
        dirs.into_iter().collect()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: usize, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size as u64);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn entries(tar_gz: &[u8]) -> Vec<(String, u32, u64, u64, u64)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tar_gz));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let header = entry.header().clone();
                let mut body = Vec::new();
                entry.read_to_end(&mut body).unwrap();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_sorted_with_their_folders_one_time_and_root_owner() {
        let mut archive = Archive::default();
        archive.add("share/man/man1/prefectctl.1", b"man".to_vec(), false);
        archive.add("bin/prefectctl", b"elf".to_vec(), true);
        let bytes = archive.to_tar_gz("prefectctl-1.0.0-x", 1_700_000_000).unwrap();
        let t = 1_700_000_000;
        assert_eq!(
            entries(&bytes),
            [
                ("prefectctl-1.0.0-x/".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/bin/".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/bin/prefectctl".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/share/".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/share/man/".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/share/man/man1/".to_owned(), 0o755, t, 0, 0),
                ("prefectctl-1.0.0-x/share/man/man1/prefectctl.1".to_owned(), 0o644, t, 0, 0),
            ]
        );
    }

    #[test]
    fn the_same_files_added_in_another_order_give_the_same_bytes() {
        let mut one = Archive::default();
        one.add("a", b"1".to_vec(), false);
        one.add("b/c", b"2".to_vec(), true);
        let mut two = Archive::default();
        two.add("b/c", b"2".to_vec(), true);
        two.add("a", b"1".to_vec(), false);
        assert_eq!(one.to_tar_gz("r", 0).unwrap(), two.to_tar_gz("r", 0).unwrap());
    }
}
