//! Library plugins: an abi_stable root module, opened with `lib_header_from_path` (which,
//! unlike `RootModule::load_from_file`, does not cache one library per interface type) and
//! checked for layout before any of its code runs; before that, its ELF headers are checked
//! against the file (`elf`), which the dynamic loader trusts.

use std::path::Path;

use abi_stable::{
    library::{LibraryError, lib_header_from_path},
    std_types::RStr,
};
use prefect_plugin_abi::PluginModuleRef;

use crate::{Error, Result};

/// An opened plugin library.
#[derive(Clone)]
pub(crate) struct Library {
    module: PluginModuleRef,
}

impl Library {
    /// Opens the library and checks its root module's layout against this host's.
    pub(crate) fn open(path: &Path) -> Result<Library> {
        // dlopen searches the system's library folders for a bare file name: `--plugin
        // libmine.so` means the file here, as it would for any other command's argument.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if !absolute.exists() {
            return Err(Error::MissingFile { path: path.to_path_buf() });
        }
        // A file the dynamic loader would map past its end kills the process with SIGBUS.
        if cfg!(all(unix, not(target_vendor = "apple"))) {
            crate::elf::check(&absolute).map_err(|reason| Error::Open {
                path: path.to_path_buf(),
                source: reason.into(),
            })?;
        }
        let header = lib_header_from_path(&absolute).map_err(|err| open_error(path, err))?;
        let module =
            header.init_root_module::<PluginModuleRef>().map_err(|err| open_error(path, err))?;
        Ok(Library { module })
    }

    pub(crate) fn protocol_version(&self) -> u32 {
        (self.module.protocol_version())()
    }

    pub(crate) fn manifest(&self) -> String {
        (self.module.manifest())().into_string()
    }

    /// Runs the plugin and hands its answer to `read` where the plugin put it: a large
    /// release's answer is megabytes, not worth a copy.
    pub(crate) fn run<T>(&self, request: &str, read: impl FnOnce(&str) -> T) -> T {
        read((self.module.run())(RStr::from_str(request)).as_str())
    }
}

fn open_error(path: &Path, err: LibraryError) -> Error {
    let path = path.to_path_buf();
    match err {
        LibraryError::OpenError { .. } if !path.exists() => Error::MissingFile { path },
        LibraryError::OpenError { err, .. } => Error::Open { path, source: err },
        LibraryError::GetSymbolError { .. } => Error::NotAPlugin { path },
        LibraryError::IncompatibleVersionNumber {
            library_name,
            expected_version,
            actual_version,
        } => Error::IncompatibleAbi {
            path,
            reason: format!(
                "{library_name} {actual_version} where this host has {expected_version}"
            ),
            host_abi: expected_version.to_string(),
            details: String::new(),
        },
        LibraryError::AbiInstability(details) => Error::IncompatibleAbi {
            path,
            reason: "the root module's layout differs from this host's".to_owned(),
            host_abi: "1.x".to_owned(),
            details: details.to_string(),
        },
        // abi_stable's other reports span lines; the message of an error is one line.
        other => Error::Open { path, source: one_line(&other.to_string()).into() },
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
