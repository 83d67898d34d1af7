//! One plugin's turn in a release: the request it is sent, the rounds in which it asks for
//! live objects, its diagnostics as users read them, and what it returns merged into the graph.
//!
//! `prefectctl` takes every plugin of a stack through [`take_turn`], and so does the
//! prefect-plugin-test crate for the one plugin under test: a plugin behaves in its author's
//! tests as it does for users because both run this code.

use prefect_manifest::{Graph, ResourceKey};
use prefect_plugin_abi::wire::{
    self, Capabilities, GlobalValues, LookupResult, Lookups, ObjectRef, PluginManifest, RunRequest,
    RunResponse, Severity,
};
use prefect_values::Values;
use serde_json::Value;

/// The name of the values section every plugin shares.
pub const GLOBAL: &str = "global";

/// How many times a plugin may ask for more live objects in one turn.
pub const LOOKUP_ROUNDS: usize = 4;

/// What failed outside the host (a read from the cluster, a call into a plugin), kept whole so
/// that a caller can walk its causes.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a plugin's turn has no response, or the global values cannot be read. Each message
/// says this step; [`crate::with_causes`] adds why, as users read it.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The plugin could not be called, or what it answered could not be read.
    #[error(transparent)]
    Call(Cause),
    /// The plugin asked for live objects while rendering offline.
    #[error(
        "plugin `{plugin}` asks to read objects from the cluster, which `render` never \
         contacts: the plugin should handle `Lookup::Unavailable`"
    )]
    Offline {
        /// The plugin's name.
        plugin: String,
    },
    /// A live object the plugin asked for could not be read.
    #[error("plugin `{plugin}` needs a live object")]
    LiveObject {
        /// The plugin's name.
        plugin: String,
        /// Why the cluster did not answer.
        #[source]
        source: Cause,
    },
    /// The plugin kept asking for objects it had not asked for before.
    #[error(
        "plugin `{plugin}` kept asking for new live objects after {LOOKUP_ROUNDS} rounds: it \
         should ask for the same objects in every round"
    )]
    Rounds {
        /// The plugin's name.
        plugin: String,
    },
    /// The `global:` section does not fit [`GlobalValues`] (its schema check let it through).
    #[error("{GLOBAL}")]
    Global {
        /// What serde says is wrong, with the key.
        #[source]
        source: serde_json::Error,
    },
}

/// Where plugins' lookups are answered from.
pub trait LiveObjects {
    /// Whether objects can be read at all (not while rendering offline).
    fn available(&self) -> bool;
    /// The live object `reference` names, `None` when the cluster has none.
    fn read(&mut self, reference: &ObjectRef) -> Result<Option<Value>, Cause>;
}

/// No cluster: what `render` answers lookups with.
pub struct Offline;

impl LiveObjects for Offline {
    fn available(&self) -> bool {
        false
    }

    fn read(&mut self, _: &ObjectRef) -> Result<Option<Value>, Cause> {
        Ok(None)
    }
}

/// What every plugin of a release is run in.
pub struct Setting<'a> {
    /// The release's name and namespace.
    pub release: &'a wire::Release,
    /// The user's values, validated.
    pub values: &'a Values,
    /// The `global:` section with its defaults ([`global_values`]).
    pub global: &'a GlobalValues,
    /// The names of the plugins in the stack, in run order.
    pub stack: &'a [String],
    /// What the cluster serves.
    pub capabilities: &'a Capabilities,
}

/// How a turn ended. Errors are final; warnings are for the user either way.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages as prefectctl prints them after `error: `; empty when the plugin's resources
    /// are in the graph.
    pub errors: Vec<String>,
    /// Messages as prefectctl prints them after `warning: `.
    pub warnings: Vec<String>,
    /// How many live objects were read for the plugin.
    pub live_objects_read: usize,
}

/// The `global:` section of `values` over its defaults.
pub fn global_values(values: &Values) -> Result<GlobalValues, TurnError> {
    let defaults = serde_json::to_value(GlobalValues::default()).unwrap_or(Value::Null);
    let user = values.section(GLOBAL).unwrap_or(&Value::Null);
    serde_json::from_value(prefect_values::coalesce(&defaults, user))
        .map_err(|source| TurnError::Global { source })
}

/// Runs the plugin `manifest` describes through `call` on the resources in `graph`, answering
/// its lookups from `live`, and adds what it returns to `graph` unless it reports an error.
pub fn take_turn(
    graph: &mut Graph,
    manifest: &PluginManifest,
    setting: &Setting,
    live: &mut dyn LiveObjects,
    call: &mut dyn FnMut(&RunRequest) -> Result<RunResponse, Cause>,
) -> Outcome {
    let name = manifest.name.as_str();
    let mut request = RunRequest {
        api_version: wire::API_VERSION.to_owned(),
        kind: wire::RESOURCE_LIST.to_owned(),
        protocol_version: manifest.protocol_version,
        release: setting.release.clone(),
        values: prefect_values::coalesce(
            &manifest.values_defaults,
            setting.values.section(name).unwrap_or(&Value::Null),
        ),
        global: setting.global.clone(),
        plugins: setting.stack.to_vec(),
        capabilities: setting.capabilities.clone(),
        // Only the kinds the plugin reads: a plugin that changes Deployments is not sent
        // (and does not send back) thousands of ConfigMaps; what it is not sent stays as is.
        items: graph
            .ordered()
            .into_iter()
            .filter(|(key, _)| manifest.reads_kind(&key.kind))
            .map(|(_, object)| object.clone())
            .collect(),
        lookups: Lookups { available: live.available(), results: Vec::new() },
    };
    let response = match run_with_lookups(name, &mut request, live, call) {
        Ok(response) => response,
        Err(error) => {
            return Outcome { errors: vec![crate::with_causes(&error)], ..Outcome::default() };
        }
    };
    let mut outcome =
        Outcome { live_objects_read: request.lookups.results.len(), ..Outcome::default() };
    for result in &response.results {
        let at = match &result.path {
            Some(path) => format!("{}: ", setting.values.describe(name, path)),
            None => String::new(),
        };
        let line = format!("plugin `{name}`: {at}{}", result.message);
        match result.severity {
            Severity::Error => outcome.errors.push(line),
            Severity::Warning => outcome.warnings.push(line),
        }
    }
    let removed = response.removed.iter().map(resource_key).collect();
    if outcome.errors.is_empty()
        && let Err(graph_errors) =
            graph.apply_with_removals(name, response.items, response.changed, removed)
    {
        outcome.errors.extend(graph_errors.iter().map(ToString::to_string));
    }
    outcome
}

/// The graph's key of the resource a plugin names in `removed`.
fn resource_key(reference: &ObjectRef) -> ResourceKey {
    let ObjectRef { api_version, kind, namespace, name } = reference;
    ResourceKey::new(api_version, kind, namespace.as_deref(), name)
}

/// Calls the plugin until it asks for no more live objects, reading each it asks for; the
/// objects are handed to the plugin only, never printed.
fn run_with_lookups(
    name: &str,
    request: &mut RunRequest,
    live: &mut dyn LiveObjects,
    call: &mut dyn FnMut(&RunRequest) -> Result<RunResponse, Cause>,
) -> Result<RunResponse, TurnError> {
    for _ in 0..LOOKUP_ROUNDS {
        let response = call(request).map_err(TurnError::Call)?;
        if response.lookups.is_empty() {
            return Ok(response);
        }
        if !live.available() {
            return Err(TurnError::Offline { plugin: name.to_owned() });
        }
        for reference in response.lookups {
            if request.lookups.results.iter().any(|r| r.reference == reference) {
                continue;
            }
            let object = live
                .read(&reference)
                .map_err(|source| TurnError::LiveObject { plugin: name.to_owned(), source })?;
            request.lookups.results.push(LookupResult { reference, object });
        }
    }
    Err(TurnError::Rounds { plugin: name.to_owned() })
}

#[cfg(test)]
mod tests;
