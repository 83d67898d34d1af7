//! Loading one plugin library and calling it.

use std::path::{Path, PathBuf};

use abi_stable::{
    library::{LibraryError, lib_header_from_path},
    std_types::RStr,
};
use prefect_plugin_abi::{
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, PluginModuleRef,
    wire::{PluginManifest, RunRequest, RunResponse},
};

use crate::{Error, Result};

/// A loaded plugin: its library stays loaded for the life of the process.
#[derive(Clone)]
pub struct Plugin {
    /// The library it was loaded from.
    pub path: PathBuf,
    /// What it says about itself.
    pub manifest: PluginManifest,
    module: PluginModuleRef,
}

/// Loads the plugin library at `path`; when it was found by name, `expected_name` is that name
/// and the plugin must call itself so.
pub fn load(path: &Path, expected_name: Option<&str>) -> Result<Plugin> {
    let header = lib_header_from_path(path).map_err(|err| open_error(path, err))?;
    let module =
        header.init_root_module::<PluginModuleRef>().map_err(|err| open_error(path, err))?;

    let protocol = (module.protocol_version())();
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol) {
        return Err(Error::Protocol {
            path: path.to_path_buf(),
            plugin: protocol,
            min: MIN_PROTOCOL_VERSION,
            max: PROTOCOL_VERSION,
            advice: if protocol > PROTOCOL_VERSION {
                "upgrade prefectctl, or use a build of the plugin for this prefectctl"
            } else {
                "rebuild the plugin against a newer prefect-plugin-sdk"
            },
        });
    }

    let manifest = read_manifest(path, (module.manifest())().as_str(), protocol)?;
    if let Some(expected) = expected_name
        && manifest.name != expected
    {
        return Err(Error::NameMismatch {
            path: path.to_path_buf(),
            expected: expected.to_owned(),
            actual: manifest.name,
        });
    }
    Ok(Plugin { path: path.to_path_buf(), manifest, module })
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("manifest", &self.manifest)
            .finish()
    }
}

impl Plugin {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Runs the plugin on `request`. Panics inside the plugin come back as error results, not
    /// as a crash; a response that is not a protocol document is an [`Error::Response`].
    pub fn run(&self, request: &RunRequest) -> Result<RunResponse> {
        let json = serde_json::to_string(request).map_err(|err| Error::Response {
            plugin: self.manifest.name.clone(),
            reason: format!("the request could not be written: {err}"),
        })?;
        let out = (self.module.run())(RStr::from_str(&json));
        serde_json::from_str(out.as_str()).map_err(|err| Error::Response {
            plugin: self.manifest.name.clone(),
            reason: err.to_string(),
        })
    }
}

fn read_manifest(path: &Path, json: &str, protocol: u32) -> Result<PluginManifest> {
    let bad = |reason: String| Error::Manifest { path: path.to_path_buf(), reason };
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|err| bad(format!("is not JSON: {err}")))?;
    if let Some(message) = value.get("error").and_then(|e| e.as_str()) {
        return Err(bad(format!("could not be built: {message}")));
    }
    let manifest: PluginManifest =
        serde_json::from_value(value).map_err(|err| bad(format!("is not valid: {err}")))?;
    if manifest.protocol_version != protocol {
        return Err(bad(format!(
            "says protocol {} but the library speaks {protocol}",
            manifest.protocol_version
        )));
    }
    let valid_name = !manifest.name.is_empty()
        && manifest.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name || manifest.name == "global" {
        return Err(bad(format!(
            "names the plugin {:?}: a plugin name is lower-case letters, digits and '-', and not `global`",
            manifest.name
        )));
    }
    Ok(manifest)
}

fn open_error(path: &Path, err: LibraryError) -> Error {
    let path = path.to_path_buf();
    match err {
        LibraryError::OpenError { .. } if !path.exists() => Error::MissingFile { path },
        LibraryError::OpenError { err, .. } => Error::Open { path, reason: err.to_string() },
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
        other => Error::Open { path, reason: one_line(&other.to_string()) },
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
