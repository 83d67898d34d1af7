//! Everything that can go wrong finding, loading or running a plugin.

use std::path::PathBuf;

/// A plugin could not be found, loaded or run. Every message names the plugin or its file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No plugin folder holds a library for the name.
    #[error(
        "plugin `{name}` not found{hint}: looked for {file} in {searched}; \
         pass --plugin-dir DIR, set PREFECTCTL_PLUGIN_PATH, or give the plugin's path"
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// ` (did you mean `server`?)` when a plugin with a close name is installed, else empty.
        hint: String,
        /// The file names looked for.
        file: String,
        /// The folders searched, joined for display.
        searched: String,
    },
    /// A name finds both an executable and a library in the plugin folders: an executable
    /// named like a first-party plugin would otherwise stand in for it unnoticed.
    #[error(
        "plugin `{name}` is both the executable {} and the library {}: prefectctl will not \
         choose between them; remove or rename one (an executable plugin is called \
         prefectctl-plugin-NAME and names itself NAME in its manifest), or give the one you \
         mean by its path (--plugin PATH, with --without {name} when the release has `{name}`)",
        executable.display(),
        library.display()
    )]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The executable it finds.
        executable: PathBuf,
        /// The library it finds.
        library: PathBuf,
    },
    /// A path given with `--plugin` does not exist.
    #[error("plugin library {} does not exist", path.display())]
    MissingFile {
        /// The path given.
        path: PathBuf,
    },
    /// The file could not be read or opened as a dynamic library.
    #[error("{} could not be loaded as a library", path.display())]
    Open {
        /// The library.
        path: PathBuf,
        /// Why: what the dynamic loader said, or what is wrong with the file.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The library is not a prefectctl plugin (no abi_stable root module).
    #[error(
        "{} is not a prefectctl plugin: it exports no plugin root module \
         (a plugin crate calls `prefect_plugin_sdk::export_plugin!`)",
        path.display()
    )]
    NotAPlugin {
        /// The library.
        path: PathBuf,
    },
    /// The library's boundary types do not match this host's.
    #[error(
        "{} was built against an incompatible plugin ABI: {reason}; \
         rebuild it against prefect-plugin-abi {host_abi}",
        path.display()
    )]
    IncompatibleAbi {
        /// The library.
        path: PathBuf,
        /// A one-line summary of the mismatch (the full layout report is in `--debug`).
        reason: String,
        /// The ABI crate version of this host.
        host_abi: String,
        /// The loader's full report.
        details: String,
    },
    /// The plugin speaks a protocol version this host does not.
    #[error(
        "{} speaks plugin protocol {plugin}, and this prefectctl speaks {min} to {max}: \
         {advice}",
        path.display()
    )]
    Protocol {
        /// The library.
        path: PathBuf,
        /// The plugin's version.
        plugin: u32,
        /// The oldest version the host speaks.
        min: u32,
        /// The newest version the host speaks.
        max: u32,
        /// Upgrade the host, or rebuild the plugin.
        advice: &'static str,
    },
    /// The plugin's manifest could not be read.
    #[error("{}: the plugin's manifest {reason}", path.display())]
    Manifest {
        /// The library.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The JSON error, when it is not JSON or not a manifest.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// A plugin loaded by name calls itself something else.
    #[error("{} calls itself `{actual}`, not `{expected}`: rename the library or its plugin", path.display())]
    NameMismatch {
        /// The library.
        path: PathBuf,
        /// The name it was loaded by.
        expected: String,
        /// The name in its manifest.
        actual: String,
    },
    /// The plugin's file does not have the SHA-256 the release pins for it.
    #[error(
        "refusing to load plugin `{name}`: {} has SHA-256 {actual}, but the release pins \
         {pinned} (--plugin-sha256 or global.pluginSha256); check where this file came from, \
         or update the pin if the plugin was upgraded on purpose",
        path.display()
    )]
    ChecksumMismatch {
        /// The plugin's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// The file's SHA-256.
        actual: String,
        /// The pinned SHA-256.
        pinned: String,
    },
    /// The file is neither a plugin library nor an executable.
    #[error(
        "{} is neither a plugin library (*{}) nor an executable file: build the library, or make \
         the program executable (chmod +x)",
        path.display(),
        std::env::consts::DLL_SUFFIX
    )]
    NotExecutable {
        /// The file.
        path: PathBuf,
    },
    /// An executable plugin failed: it could not be started, exited with an error, or took
    /// too long.
    #[error("plugin `{plugin}` failed: {reason}")]
    Failed {
        /// The plugin's name (or its file, before its manifest is known).
        plugin: String,
        /// What happened, with the end of what it wrote to standard error.
        reason: String,
    },
    /// The run request for the plugin could not be written as JSON.
    #[error("the run request for plugin `{plugin}` could not be written")]
    Request {
        /// The plugin's name.
        plugin: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The plugin's run returned something that is not a protocol document.
    #[error(
        "plugin `{plugin}` returned a response that is not a valid protocol document ({printed})"
    )]
    Response {
        /// The plugin's name.
        plugin: String,
        /// The start of what it returned: `it printed "..."`.
        printed: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `error`'s message followed by each of its causes, `: ` between them, as prefectctl prints
/// an error (each error's own message says its step; its source says why).
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        message.push_str(": ");
        message.push_str(&error.to_string());
        cause = error.source();
    }
    message
}
