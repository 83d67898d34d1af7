//! The [`Plugin`] trait, the [`Manifest`] a plugin describes itself with, and [`Error`].

use std::fmt;

use prefect_plugin_abi::wire::PluginKind;
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

use crate::Context;

/// A prefectctl plugin.
///
/// The host calls [`Plugin::manifest`] when it loads the library, and [`Plugin::run`] once per
/// render, with the plugin's values section already validated against the schema of
/// [`Plugin::Values`] and merged over [`Default::default`].
pub trait Plugin {
    /// The plugin's values section (`<name>:` in the user's values file).
    ///
    /// Its JSON Schema is what `prefectctl` validates user values against, and its doc comments
    /// are the documentation `prefectctl values` prints. Derive `Deserialize`, `Serialize`,
    /// `JsonSchema` and `Default`, and mark it `#[serde(default, deny_unknown_fields)]` so that a
    /// misspelt key is an error rather than silently ignored.
    type Values: DeserializeOwned + Serialize + JsonSchema + Default;

    /// What the plugin is called and what it needs.
    fn manifest() -> Manifest;

    /// Adds resources to the graph, or changes resources already there.
    fn run(ctx: &mut Context, values: Self::Values) -> Result<(), Error>;

    /// The plugin's manifest as JSON text built ahead of time and kept in the library, so that
    /// loading the plugin does not build its values schema (a millisecond or two of schemars
    /// for a large values section) on every run of prefectctl. `None`, the default, builds it
    /// at each load.
    ///
    /// Return `Some(include_str!("../manifest.json"))` and keep the file what the code builds
    /// with a test of [`manifest_json`](crate::manifest_json):
    ///
    /// ```ignore
    /// #[test]
    /// fn the_prebuilt_manifest_is_what_the_code_builds() {
    ///     expect_test::expect_file!["../manifest.json"]
    ///         .assert_eq(&prefect_plugin_sdk::manifest_json::<MyPlugin>());
    /// }
    /// ```
    ///
    /// `UPDATE_EXPECT=1 cargo test` rewrites it after a change to the values or the manifest.
    /// A debug build of the plugin also compares the text with what the code builds when it is
    /// loaded, and fails to load with that advice when they differ.
    fn prebuilt_manifest() -> Option<&'static str> {
        None
    }
}

/// How a plugin describes itself; built with [`Manifest::new`].
#[derive(Debug, Clone)]
pub struct Manifest {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) requires: Vec<String>,
    pub(crate) after: Vec<String>,
    pub(crate) kind: PluginKind,
    pub(crate) reads: Option<Vec<String>>,
}

impl Manifest {
    /// A plugin called `name` (the `--plugin` name and values section), at `version`; pass
    /// `env!("CARGO_PKG_VERSION")`.
    pub fn new(name: &str, version: &str) -> Manifest {
        Manifest {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            requires: Vec::new(),
            after: Vec::new(),
            kind: PluginKind::Generator,
            reads: None,
        }
    }

    /// One line that `prefectctl plugins list` shows.
    pub fn description(mut self, text: &str) -> Manifest {
        self.description = text.to_owned();
        self
    }

    /// Plugins that must run before this one; selecting this plugin selects them.
    pub fn requires(mut self, plugins: &[&str]) -> Manifest {
        self.requires = plugins.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Plugins that run before this one when the user selected them too.
    pub fn after(mut self, plugins: &[&str]) -> Manifest {
        self.after = plugins.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// The kinds of resources in the graph the plugin reads or changes, through
    /// [`Context::items`](crate::Context::items), [`Context::items_of`](crate::Context::items_of),
    /// [`Context::update`](crate::Context::update) or
    /// [`Context::update_each`](crate::Context::update_each): the host sends it only those, which
    /// keeps each run small in a large release. `&[]` for a plugin that only adds resources.
    /// Without it, the plugin is sent every resource.
    ///
    /// ```
    /// # use prefect_plugin_sdk::Manifest;
    /// let manifest = Manifest::new("backup", "0.1.0").reads(&["StatefulSet", "Secret"]);
    /// ```
    pub fn reads(mut self, kinds: &[&str]) -> Manifest {
        self.reads = Some(kinds.iter().map(|k| (*k).to_owned()).collect());
        self
    }

    /// Marks the plugin as a transformer: it rewrites other plugins' resources and runs after
    /// every generator.
    pub fn transformer(mut self) -> Manifest {
        self.kind = PluginKind::Transformer;
        self
    }
}

/// An error a plugin reports; the user sees the plugin's name, the value path and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) path: Option<String>,
    pub(crate) message: String,
}

impl Error {
    /// An error about the plugin's values as a whole or about no value in particular.
    pub fn new(message: impl Into<String>) -> Error {
        Error { path: None, message: message.into() }
    }

    /// An error about the value at `path`, relative to the plugin's section
    /// (`ingress.tls.secretName`).
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Error {
        Error { path: Some(path.into()), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Error {
        Error::new(format!("could not build a resource: {err}"))
    }
}
