//! Running the stack's plugins in order, each on the graph the ones before it left
//! (`prefect_plugin_host::turn`), their lookups of live objects answered offline for `render`
//! ([`Offline`]) or from the cluster for `apply` and `diff`; then the common metadata and the
//! spec hash of gate Jobs (`gates`).

use std::time::Instant;

use prefect_manifest::Graph;
use prefect_plugin_abi::wire::{self, Capabilities};
pub use prefect_plugin_host::turn::{LiveObjects, Offline};
use prefect_plugin_host::turn::{Setting, take_turn};
use serde_json::Value;

use crate::{
    failure::Failure,
    release::{self, Release},
};

/// The name common labels and annotations are recorded under in provenance.
const GLOBAL_PASS: &str = "global";

/// Runs every plugin of `release` in order and returns the finished graph.
pub fn graph(
    release: &Release,
    capabilities: &Capabilities,
    live: &mut dyn LiveObjects,
    debug: bool,
) -> Result<Graph, Failure> {
    let global = release::global_values(&release.values)?;
    let stack: Vec<String> = release.plugins.iter().map(|p| p.name().to_owned()).collect();
    let release_ref =
        wire::Release { name: release.name.clone(), namespace: release.namespace.clone() };
    let setting = Setting {
        release: &release_ref,
        values: &release.values,
        global: &global,
        stack: &stack,
        capabilities,
    };
    let mut graph = Graph::new();
    for plugin in &release.plugins {
        let started = Instant::now();
        let mut call = |request: &wire::RunRequest| plugin.run(request).map_err(Into::into);
        let outcome = take_turn(&mut graph, &plugin.manifest, &setting, live, &mut call);
        for warning in &outcome.warnings {
            eprintln!("warning: {warning}");
        }
        if !outcome.errors.is_empty() {
            return Err(Failure::runtime(outcome.errors));
        }
        if debug {
            eprintln!(
                "debug: ran plugin {} in {:.2?} ({} live objects read); the graph holds {} \
                 resources",
                plugin.name(),
                started.elapsed(),
                outcome.live_objects_read,
                graph.len()
            );
        }
    }
    add_common_metadata(&mut graph, &global.common_labels, &global.common_annotations)?;
    crate::gates::stamp(&mut graph)?;
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
