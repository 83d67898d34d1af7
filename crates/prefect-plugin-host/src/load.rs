//! Loading one plugin, a library or an executable, and calling it.
//!
//! Whatever its kind, a plugin answers with the same JSON documents (see
//! [`prefect_plugin_abi::wire`]); the checks after loading are the same too: the protocol
//! version it speaks, then its manifest.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use prefect_plugin_abi::{
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
    wire::{PluginManifest, RunRequest, RunResponse},
};

use crate::{Error, Result, executable::Executable, library::Library};

/// A loaded plugin. A library stays loaded for the life of the process.
#[derive(Clone)]
pub struct Plugin {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// What it says about itself.
    pub manifest: PluginManifest,
    kind: Kind,
    by_path: bool,
    /// The file's SHA-256 (`None` when it could not be read), worked out once, by whoever
    /// asks first: [`Plugin::hash_in_background`] or [`Plugin::sha256`]; or known already.
    sha256: Arc<OnceLock<Option<Hashed>>>,
}

/// A plugin file's checksum, and its [`crate::stamp`] taken before it was worked out.
struct Hashed {
    sha256: String,
    stamp: Option<String>,
}

impl Hashed {
    fn of(path: &Path) -> Option<Hashed> {
        let stamp = crate::stamp(path);
        Some(Hashed { sha256: crate::checksum(path).ok()?, stamp })
    }
}

#[derive(Clone)]
enum Kind {
    Library(Library),
    Executable(Executable),
}

/// Loads the plugin at `path`: a shared library (by its suffix, `.so` on Linux), or else an
/// executable that speaks the protocol over standard input and output. When it was found by
/// name, `expected_name` is that name and the plugin must call itself so.
pub fn load(path: &Path, expected_name: Option<&str>) -> Result<Plugin> {
    let is_library =
        path.extension().and_then(|e| e.to_str()) == Some(std::env::consts::DLL_EXTENSION);
    let (kind, protocol, manifest_json) = if is_library {
        let library = Library::open(path)?;
        let protocol = library.protocol_version();
        check_protocol(path, protocol)?;
        let manifest = library.manifest();
        (Kind::Library(library), protocol, manifest)
    } else {
        let executable = Executable::open(path)?;
        let manifest = executable.manifest()?;
        let protocol = protocol_of(path, &manifest)?;
        check_protocol(path, protocol)?;
        (Kind::Executable(executable), protocol, manifest)
    };
    let manifest = read_manifest(path, &manifest_json, protocol)?;
    if let Some(expected) = expected_name
        && manifest.name != expected
    {
        return Err(Error::NameMismatch {
            path: path.to_path_buf(),
            expected: expected.to_owned(),
            actual: manifest.name,
        });
    }
    Ok(Plugin {
        path: path.to_path_buf(),
        manifest,
        kind,
        by_path: expected_name.is_none(),
        sha256: Arc::default(),
    })
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
    /// The SHA-256 of the file it was loaded from, as [`crate::checksum`] gives it; `None`
    /// when the file cannot be read any more. Worked out once per plugin; while
    /// [`Plugin::hash_in_background`] is at it, this waits for it.
    pub fn sha256(&self) -> Option<&str> {
        self.hashed().map(|hashed| hashed.sha256.as_str())
    }

    /// The file's [`crate::stamp`] when its [`Plugin::sha256`] was worked out (or known), for a
    /// record that a later command can take the checksum from.
    pub fn stamp(&self) -> Option<&str> {
        self.hashed().and_then(|hashed| hashed.stamp.as_deref())
    }

    fn hashed(&self) -> Option<&Hashed> {
        self.sha256.get_or_init(|| Hashed::of(&self.path)).as_ref()
    }

    /// The checksum of the file, already known (checked against a pin before loading, after
    /// `stamp` was taken).
    pub fn knows_sha256(&self, sha256: String, stamp: Option<String>) {
        let _ = self.sha256.set(Some(Hashed { sha256, stamp }));
    }

    /// Takes `sha256` as the file's checksum when the file's stamp now is `stamp`, the one
    /// taken when `sha256` was worked out: the file has not been written since. Returns
    /// whether it did.
    pub fn knows_sha256_if_unchanged(&self, sha256: &str, stamp: &str) -> bool {
        if crate::stamp(&self.path).as_deref() != Some(stamp) {
            return false;
        }
        self.knows_sha256(sha256.to_owned(), Some(stamp.to_owned()));
        true
    }

    /// Starts working out the SHA-256 of each plugin's file on a thread of its own, while
    /// the caller goes on (runs the plugins, waits for the cluster): hashing a stack's
    /// libraries takes ~15 ms that [`Plugin::sha256`] would otherwise spend when asked.
    pub fn hash_in_background(plugins: &[Plugin]) {
        for plugin in plugins.iter().filter(|plugin| plugin.sha256.get().is_none()) {
            let (path, sha256) = (plugin.path.clone(), plugin.sha256.clone());
            // One thread a file, on every core there is; detached: a process that ends
            // first has no use for the checksums.
            let _ =
                std::thread::Builder::new().name("plugin-checksum".to_owned()).spawn(move || {
                    sha256.get_or_init(|| Hashed::of(&path));
                });
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Whether the plugin was loaded from a path the user gave rather than found by name, so
    /// that a release records that path.
    pub fn given_by_path(&self) -> bool {
        self.by_path
    }

    /// Whether the plugin is an executable rather than a library.
    pub fn is_executable(&self) -> bool {
        matches!(self.kind, Kind::Executable(_))
    }

    /// Runs the plugin on `request`. Panics inside a library plugin and failures of an
    /// executable come back as errors, not as a crash; a response that is not a protocol
    /// document is an [`Error::Response`].
    pub fn run(&self, request: &RunRequest) -> Result<RunResponse> {
        let name = &self.manifest.name;
        let json = serde_json::to_string(request)
            .map_err(|source| Error::Request { plugin: name.clone(), source })?;
        let read = |out: &str| {
            serde_json::from_str(out).map_err(|source| Error::Response {
                plugin: name.clone(),
                printed: first_bytes(out),
                source,
            })
        };
        match &self.kind {
            Kind::Library(library) => library.run(&json, read),
            Kind::Executable(executable) => read(&executable.run(name, &json)?),
        }
    }
}

fn check_protocol(path: &Path, protocol: u32) -> Result<()> {
    if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol) {
        return Ok(());
    }
    Err(Error::Protocol {
        path: path.to_path_buf(),
        plugin: protocol,
        min: MIN_PROTOCOL_VERSION,
        max: PROTOCOL_VERSION,
        advice: if protocol > PROTOCOL_VERSION {
            "upgrade prefectctl, or use a build of the plugin for this prefectctl"
        } else {
            "rebuild the plugin against a newer prefect-plugin-sdk"
        },
    })
}

/// The protocol version an executable's manifest states (0 when it states none, which no host
/// speaks); an error when what it printed is not JSON at all.
fn protocol_of(path: &Path, manifest_json: &str) -> Result<u32> {
    let manifest: serde_json::Value =
        serde_json::from_str(manifest_json).map_err(|source| Error::Manifest {
            path: path.to_path_buf(),
            reason: format!(
                "is not JSON (`manifest` must print the plugin's manifest; {})",
                first_bytes(manifest_json)
            ),
            source: Some(source),
        })?;
    let version = manifest.get("protocolVersion").and_then(serde_json::Value::as_u64);
    Ok(version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// Whether `name` can name a plugin: lower-case letters, digits and '-', and not `global` (the
/// values section every plugin shares).
pub fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name != crate::turn::GLOBAL
}

fn read_manifest(path: &Path, json: &str, protocol: u32) -> Result<PluginManifest> {
    let bad = |reason: String| Error::Manifest { path: path.to_path_buf(), reason, source: None };
    // Read straight into the struct: a manifest holds the values schema and defaults, tens of
    // KB a plugin, and going through a `Value` first cost half as much again. Only a
    // manifest that does not read says why, from the tree.
    let manifest = match serde_json::from_str::<PluginManifest>(json) {
        Ok(manifest) => manifest,
        Err(_) => {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|source| Error::Manifest {
                    path: path.to_path_buf(),
                    reason: format!("is not JSON ({})", first_bytes(json)),
                    source: Some(source),
                })?;
            if let Some(message) = value.get("error").and_then(|e| e.as_str()) {
                return Err(bad(format!("could not be built: {message}")));
            }
            serde_json::from_value(value).map_err(|source| Error::Manifest {
                path: path.to_path_buf(),
                reason: "is not valid".to_owned(),
                source: Some(source),
            })?
        }
    };
    if manifest.protocol_version != protocol {
        return Err(bad(format!(
            "says protocol {} but the library speaks {protocol}",
            manifest.protocol_version
        )));
    }
    if !is_plugin_name(&manifest.name) {
        return Err(bad(format!(
            "names the plugin {:?}: a plugin name is lower-case letters, digits and '-', and not `global`",
            manifest.name
        )));
    }
    Ok(manifest)
}

/// What a plugin printed, for an error saying it is not the document expected: its first
/// characters, quoted with escapes, and its length when it goes on.
pub(crate) fn first_bytes(out: &str) -> String {
    if out.is_empty() {
        return "it printed nothing".to_owned();
    }
    format!("it printed {}", quote_start(out))
}

/// The first characters of `text`, quoted with escapes, and its length when it goes on.
pub(crate) fn quote_start(text: &str) -> String {
    const SHOWN: usize = 120;
    let end = text.char_indices().nth(SHOWN).map_or(text.len(), |(at, _)| at);
    if end == text.len() {
        format!("{text:?}")
    } else {
        format!("{:?}… ({} bytes in all)", &text[..end], text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_plugin_printed_is_quoted_by_its_first_characters() {
        assert_eq!(first_bytes(""), "it printed nothing");
        assert_eq!(first_bytes("hello\n"), r#"it printed "hello\n""#);
        let long = format!("Traceback \"x\"{}", "y".repeat(500));
        assert_eq!(
            first_bytes(&long),
            format!(r#"it printed "Traceback \"x\"{}"… (513 bytes in all)"#, "y".repeat(107))
        );
    }
}
