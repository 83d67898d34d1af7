//! Where a new plugin crate takes the SDK crates from.
//!
//! The SDK (`prefect-plugin-sdk`, `prefect-plugin-test` and the crates they pull in) is not on
//! crates.io yet; prefectctl ships its sources. The new crate asks for the SDK as published
//! (`"0.1"`) and its `[patch.crates-io]` table points at the sources found, in order:
//! `--sdk-from DIR`; `../share/prefectctl/crates` beside the executable (an installation or the
//! unpacked release archive: the crates as `cargo package` writes them); `../../crates` beside
//! it (a build in a checkout's `target/<profile>`). Found nowhere, the crate asks crates.io.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use crate::failure::Failure;

/// The crate plugins depend on, and the one their tests use.
const SDK: &str = "prefect-plugin-sdk";
const TEST: &str = "prefect-plugin-test";

/// Sources of the SDK crates: a folder that holds `prefect-plugin-sdk/`, `prefect-plugin-test/`
/// and, when they are packaged, every crate these depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkSources {
    /// The folder, absolute.
    pub dir: PathBuf,
    /// The crates to patch, sorted: every crate of the folder when they are packaged (their
    /// manifests ask for each other by version), else the SDK and test crates (a checkout's
    /// crates find each other by path).
    pub patched: Vec<String>,
}

impl SdkSources {
    /// The sources `--sdk-from` names (a checkout, or a folder of crates), else those beside
    /// `exe`; `None` when there are none.
    pub fn find(
        sdk_from: Option<&Path>,
        exe: Option<&Path>,
    ) -> Result<Option<SdkSources>, Failure> {
        if let Some(given) = sdk_from {
            let found = [given.join("crates"), given.to_path_buf()]
                .into_iter()
                .find_map(|dir| SdkSources::in_folder(&dir));
            return found.map(Some).ok_or_else(|| {
                Failure::input(vec![format!(
                    "--sdk-from {}: no {SDK}/Cargo.toml and {TEST}/Cargo.toml there nor under \
                     crates/; give the root of a prefectctl checkout, or the share/prefectctl/crates \
                     folder of an installation",
                    given.display()
                )])
            });
        }
        let Some(bin) = exe.and_then(Path::parent) else { return Ok(None) };
        let beside = [bin.join("../share/prefectctl/crates"), bin.join("../../crates")];
        Ok(beside.iter().find_map(|dir| SdkSources::in_folder(dir)))
    }

    /// The sources in `dir`, if it holds the SDK and test crates.
    fn in_folder(dir: &Path) -> Option<SdkSources> {
        let dir = dir.canonicalize().ok()?;
        let holds = |name: &str| dir.join(name).join("Cargo.toml").is_file();
        if !(holds(SDK) && holds(TEST)) {
            return None;
        }
        // `cargo package` keeps the manifest as written beside the one it rewrote.
        let packaged = dir.join(SDK).join("Cargo.toml.orig").is_file();
        let mut patched: Vec<String> = if packaged {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .filter(|entry| entry.path().join("Cargo.toml").is_file())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .collect()
        } else {
            vec![SDK.to_owned(), TEST.to_owned()]
        };
        patched.sort();
        Some(SdkSources { dir, patched })
    }

    /// The `[patch.crates-io]` table of the new crate's manifest.
    pub fn patch_table(&self) -> Result<String, Failure> {
        let mut table = String::from(
            "\n# The SDK crates that came with prefectctl, in place of crates.io's: delete this \
             table\n# to take them from crates.io.\n[patch.crates-io]\n",
        );
        for name in &self.patched {
            let path = self.dir.join(name);
            let path = path.to_str().ok_or_else(|| {
                Failure::input(vec![format!(
                    "the SDK's sources are in {}, whose path is not UTF-8: give another \
                     folder with --sdk-from",
                    self.dir.display()
                )])
            })?;
            let _ = writeln!(table, "{name} = {{ path = \"{}\" }}", toml_escape(path));
        }
        Ok(table)
    }
}

/// `text` as the inside of a TOML basic string.
fn toml_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Folder(PathBuf);

    impl Folder {
        fn new(label: &str) -> Folder {
            let dir = std::env::temp_dir()
                .join(format!("prefectctl-sdk-sources-{}-{label}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Folder(dir.canonicalize().unwrap())
        }

        fn touch(&self, path: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn an_installation_patches_every_packaged_crate_it_ships() {
        let prefix = Folder::new("installed");
        for name in [SDK, TEST, "prefect-plugin-abi"] {
            prefix.touch(&format!("share/prefectctl/crates/{name}/Cargo.toml"));
        }
        prefix.touch(&format!("share/prefectctl/crates/{SDK}/Cargo.toml.orig"));
        prefix.touch("bin/prefectctl");
        let exe = prefix.0.join("bin/prefectctl");
        let found = SdkSources::find(None, Some(&exe)).unwrap().unwrap();
        let crates = prefix.0.join("share/prefectctl/crates");
        assert_eq!(found.dir, crates);
        assert_eq!(found.patched, ["prefect-plugin-abi", SDK, TEST]);
        let table = found.patch_table().unwrap();
        let line = format!("{SDK} = {{ path = \"{}\" }}\n", crates.join(SDK).display());
        assert!(table.contains("\n[patch.crates-io]\n") && table.contains(&line), "{table}");
    }

    #[test]
    fn a_build_in_a_checkout_patches_the_sdk_and_test_crates_only() {
        let checkout = Folder::new("checkout");
        for name in [SDK, TEST, "prefect-plugin-abi", "prefectctl"] {
            checkout.touch(&format!("crates/{name}/Cargo.toml"));
        }
        checkout.touch("target/debug/prefectctl");
        let exe = checkout.0.join("target/debug/prefectctl");
        let found = SdkSources::find(None, Some(&exe)).unwrap().unwrap();
        assert_eq!(
            found,
            SdkSources {
                dir: checkout.0.join("crates"),
                patched: vec![SDK.to_owned(), TEST.to_owned()],
            }
        );
        // --sdk-from takes the checkout's root or its crates folder.
        for given in [checkout.0.clone(), checkout.0.join("crates")] {
            assert_eq!(SdkSources::find(Some(&given), None).unwrap(), Some(found.clone()));
        }
    }

    #[test]
    fn a_copied_executable_finds_none_and_a_wrong_folder_is_refused() {
        let elsewhere = Folder::new("elsewhere");
        elsewhere.touch("bin/prefectctl");
        assert_eq!(
            SdkSources::find(None, Some(&elsewhere.0.join("bin/prefectctl"))).unwrap(),
            None
        );
        let err = SdkSources::find(Some(&elsewhere.0), None).unwrap_err();
        assert!(format!("{err:?}").contains("give the root of a prefectctl checkout"), "{err:?}");
    }
}
