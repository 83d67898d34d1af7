//! Running the stack's plugins in order, each on the graph the ones before it left, and
//! answering their lookups of live objects: offline for `render` ([`Offline`]), from the
//! cluster for `apply` and `diff`.

use std::time::Instant;

use prefect_manifest::Graph;
use prefect_plugin_abi::wire::{
    self, Capabilities, LookupResult, Lookups, ObjectRef, RunRequest, RunResponse, Severity,
};
use prefect_plugin_host::Plugin;
use serde_json::Value;

use crate::{
    failure::Failure,
    release::{self, Release},
};

/// The name common labels and annotations are recorded under in provenance.
const GLOBAL_PASS: &str = "global";

/// How many times a plugin may ask for more live objects in one run.
const LOOKUP_ROUNDS: usize = 4;

/// Where plugins' lookups are answered from.
pub trait LiveObjects {
    /// Whether objects can be read at all (not while rendering offline).
    fn available(&self) -> bool;
    /// The live object `reference` names, `None` when the cluster has none.
    fn read(&mut self, reference: &ObjectRef) -> Result<Option<Value>, String>;
}

/// No cluster: what `render` answers lookups with.
pub struct Offline;

impl LiveObjects for Offline {
    fn available(&self) -> bool {
        false
    }

    fn read(&mut self, _: &ObjectRef) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// Runs `plugin` until it asks for no more live objects, reading each it asks for; the
/// objects are handed to the plugin only, never printed.
fn run_with_lookups(
    plugin: &Plugin,
    request: &mut RunRequest,
    live: &mut dyn LiveObjects,
) -> Result<RunResponse, Failure> {
    let name = plugin.name();
    for _ in 0..LOOKUP_ROUNDS {
        let response =
            plugin.run(request).map_err(|err| Failure::runtime(vec![err.to_string()]))?;
        if response.lookups.is_empty() {
            return Ok(response);
        }
        if !live.available() {
            return Err(Failure::runtime(vec![format!(
                "plugin `{name}` asks to read objects from the cluster, which `render` never \
                 contacts: the plugin should handle `Lookup::Unavailable`"
            )]));
        }
        for reference in response.lookups {
            if request.lookups.results.iter().any(|r| r.reference == reference) {
                continue;
            }
            let object = live.read(&reference).map_err(|err| {
                Failure::runtime(vec![format!("plugin `{name}` needs a live object: {err}")])
            })?;
            request.lookups.results.push(LookupResult { reference, object });
        }
    }
    Err(Failure::runtime(vec![format!(
        "plugin `{name}` kept asking for new live objects after {LOOKUP_ROUNDS} rounds: it \
         should ask for the same objects in every round"
    )]))
}

/// Runs every plugin of `release` in order and returns the finished graph.
pub fn graph(
    release: &Release,
    capabilities: &Capabilities,
    live: &mut dyn LiveObjects,
    debug: bool,
) -> Result<Graph, Failure> {
    let global = release::global_values(&release.values)?;
    let stack: Vec<String> = release.plugins.iter().map(|p| p.name().to_owned()).collect();
    let mut graph = Graph::new();
    for plugin in &release.plugins {
        let started = Instant::now();
        let name = plugin.name();
        let mut request = RunRequest {
            api_version: wire::API_VERSION.to_owned(),
            kind: wire::RESOURCE_LIST.to_owned(),
            protocol_version: plugin.manifest.protocol_version,
            release: wire::Release {
                name: release.name.clone(),
                namespace: release.namespace.clone(),
            },
            values: prefect_values::coalesce(
                &plugin.manifest.values_defaults,
                release.values.section(name).unwrap_or(&Value::Null),
            ),
            global: global.clone(),
            plugins: stack.clone(),
            capabilities: capabilities.clone(),
            items: graph.ordered().into_iter().map(|(_, object)| object.clone()).collect(),
            lookups: Lookups { available: live.available(), results: Vec::new() },
        };
        let response = run_with_lookups(plugin, &mut request, live)?;

        let mut errors = Vec::new();
        for result in &response.results {
            let at = match &result.path {
                Some(path) => format!("{}: ", release.values.describe(name, path)),
                None => String::new(),
            };
            let line = format!("plugin `{name}`: {at}{}", result.message);
            match result.severity {
                Severity::Error => errors.push(line),
                Severity::Warning => eprintln!("warning: {line}"),
            }
        }
        if errors.is_empty()
            && let Err(graph_errors) = graph.apply(name, response.items, response.changed)
        {
            errors.extend(graph_errors.iter().map(ToString::to_string));
        }
        if !errors.is_empty() {
            return Err(Failure::runtime(errors));
        }
        if debug {
            eprintln!(
                "debug: ran plugin {name} in {:.2?} ({} live objects read); the graph holds {} \
                 resources",
                started.elapsed(),
                request.lookups.results.len(),
                graph.len()
            );
        }
    }
    add_common_metadata(&mut graph, &global.common_labels, &global.common_annotations)?;
    Ok(graph)
}

/// `global.commonLabels` and `global.commonAnnotations` on every resource; a plugin's own
/// label of the same key wins. A key or value Kubernetes refuses is the user's to fix.
fn add_common_metadata(
    graph: &mut Graph,
    labels: &std::collections::BTreeMap<String, String>,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Result<(), Failure> {
    if labels.is_empty() && annotations.is_empty() {
        return Ok(());
    }
    let result = graph.transform_all(GLOBAL_PASS, |_, object| {
        for (field, extra) in [("labels", labels), ("annotations", annotations)] {
            if extra.is_empty() {
                continue;
            }
            let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
                continue;
            };
            let map = metadata.entry(field).or_insert_with(|| Value::Object(Default::default()));
            if let Some(map) = map.as_object_mut() {
                for (key, value) in extra {
                    map.entry(key.clone()).or_insert_with(|| Value::String(value.clone()));
                }
            }
        }
    });
    result.map_err(|errors| {
        let mut messages: Vec<String> = errors
            .iter()
            .map(|err| match err {
                prefect_manifest::Error::PassInvalid { problem, .. } => {
                    format!("global.commonLabels/commonAnnotations: {problem}")
                }
                other => other.to_string(),
            })
            .collect();
        messages.dedup();
        Failure::input(messages)
    })
}
