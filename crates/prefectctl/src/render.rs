//! `render`: runs the stack's plugins in order, each on the graph the previous ones left, and
//! writes the result.

use std::time::Instant;

use prefect_manifest::Graph;
use prefect_plugin_abi::wire::{self, Capabilities, RunRequest, Severity};
use serde_json::Value;

use crate::{
    capabilities,
    cli::{Format, ReleaseArgs, RenderArgs},
    failure::Failure,
    output,
    release::{self, Release},
};

/// The name common labels and annotations are recorded under in provenance.
const GLOBAL_PASS: &str = "global";

/// `prefectctl render`.
pub fn run(args: &ReleaseArgs, render: &RenderArgs) -> Result<String, Failure> {
    let capabilities = capabilities::offline(&render.kube_version)
        .map_err(|err| Failure::input(vec![format!("{err:#}")]))?;
    let release = release::prepare(args)?;
    let graph = build_graph(&release, &capabilities, args.debug)?;
    let text = match render.output {
        Format::Yaml => output::yaml_stream(&graph)?,
        Format::Json => output::json_list(&graph)?,
    };
    Ok(text)
}

/// Runs every plugin of `release` in order and returns the finished graph.
pub fn build_graph(
    release: &Release,
    capabilities: &Capabilities,
    debug: bool,
) -> Result<Graph, Failure> {
    let global = release::global_values(&release.values)?;
    let stack: Vec<String> = release.plugins.iter().map(|p| p.name().to_owned()).collect();
    let mut graph = Graph::new();
    for plugin in &release.plugins {
        let started = Instant::now();
        let name = plugin.name();
        let request = RunRequest {
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
            // `render` never contacts a cluster.
            lookups: wire::Lookups::default(),
        };
        let response =
            plugin.run(&request).map_err(|err| Failure::runtime(vec![err.to_string()]))?;

        let mut errors = Vec::new();
        if !response.lookups.is_empty() {
            errors.push(format!(
                "plugin `{name}` asks to read objects from the cluster, which `render` never \
                 contacts: the plugin should handle `Lookup::Unavailable`"
            ));
        }
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
                "debug: ran plugin {name} in {:.2?}; the graph holds {} resources",
                started.elapsed(),
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
