//! `cargo xtask install --prefix DIR`: what the release archive holds ([`crate::shipped`]),
//! installed into DIR: `DIR/bin/prefectctl` finds the first-party plugins in
//! `DIR/lib/prefectctl/plugins` and `plugins new` the SDK in `DIR/share/prefectctl/crates`,
//! wherever DIR is. Test fixtures are not installed.
//!
//! Each file is written beside its place and renamed over it, so that a `prefectctl` running
//! from DIR keeps the libraries it mapped. The SDK's sources replace those installed before;
//! other files in DIR (plugins a user put in `lib/prefectctl/plugins`) are left alone.

use std::path::{Path, PathBuf};

use crate::{
    shipped::{self, SDK_SOURCES, read},
    workspace,
};

pub fn run(args: &[String]) -> Result<(), String> {
    let prefix = prefix(args)?;
    let built = shipped::build()?;
    let mut files = shipped::prefix_files(&built)?;
    files.add("share/doc/prefectctl/README.md", read(&workspace().join("README.md"))?, false);
    files.add("share/doc/prefectctl/LICENSE", read(&workspace().join("LICENSE"))?, false);

    let sources = prefix.join(SDK_SOURCES);
    if sources.exists() {
        std::fs::remove_dir_all(&sources)
            .map_err(|err| format!("cannot remove {}: {err}", sources.display()))?;
    }
    let mut count = 0;
    for (path, bytes, executable) in files.entries() {
        install_file(&prefix.join(path), bytes, executable)?;
        count += 1;
    }
    let bin = prefix.join("bin");
    eprintln!("installed {count} files into {}", prefix.display());
    if !on_path(&bin) {
        eprintln!(
            "{} is not on PATH: add it, or link (not copy) {} into a folder that is; a copy \
             would not find its plugins",
            bin.display(),
            bin.join("prefectctl").display()
        );
    }
    println!("{}", bin.join("prefectctl").display());
    Ok(())
}

/// The absolute path `--prefix DIR` (or `--prefix=DIR`) names.
fn prefix(args: &[String]) -> Result<PathBuf, String> {
    let usage = || "usage: cargo xtask install --prefix DIR".to_owned();
    let dir = match args {
        [flag, dir] if flag == "--prefix" => dir.as_str(),
        [flag] => flag.strip_prefix("--prefix=").ok_or_else(usage)?,
        _ => return Err(usage()),
    };
    if dir.is_empty() {
        return Err(usage());
    }
    std::path::absolute(dir).map_err(|err| format!("--prefix {dir}: {err}"))
}

/// Writes `bytes` to `path` through a file beside it, renamed over it.
fn install_file(path: &Path, bytes: &[u8], executable: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = path.parent().ok_or_else(|| format!("{}: no folder", path.display()))?;
    std::fs::create_dir_all(dir)
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = dir.join(format!(".{name}.installing"));
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode)))
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|err| {
            let _ = std::fs::remove_file(&partial);
            format!("cannot write {}: {err}", path.display())
        })
}

/// Whether `dir` is one of the folders of `$PATH`.
fn on_path(dir: &Path) -> bool {
    let wanted = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|entry| entry.canonicalize().ok() == Some(wanted.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_one_folder_made_absolute() {
        let args = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        assert_eq!(prefix(&args(&["--prefix", "/opt/p"])), Ok(PathBuf::from("/opt/p")));
        assert_eq!(prefix(&args(&["--prefix=/opt/p"])), Ok(PathBuf::from("/opt/p")));
        let relative = prefix(&args(&["--prefix", "p"])).unwrap();
        assert_eq!(relative, std::env::current_dir().unwrap().join("p"));
        for wrong in [&[][..], &["/opt/p"], &["--prefix"], &["--prefix="], &["--prefix", "a", "b"]]
        {
            assert_eq!(prefix(&args(wrong)), Err("usage: cargo xtask install --prefix DIR".into()));
        }
    }
}
