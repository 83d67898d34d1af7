//! Test a prefectctl plugin the way prefectctl runs it, in process: add this crate as a
//! dev-dependency of your plugin and assert on what a user would get.
//!
//! [`Host::run`] does what the host does with one plugin, step by step:
//!
//! 1. reads the plugin's manifest, through JSON as the host does;
//! 2. reads the values file you give, and validates it against the plugin's schema (and the
//!    `global:` one), reporting problems as users see them: `values.yaml:3: hello.greting:
//!    unknown key (did you mean `greeting`?)`;
//! 3. puts the plugin's documented defaults under your values;
//! 4. sends the run request and reads the response as JSON text both ways, the protocol's
//!    round trip, answering lookups from the live objects you give;
//! 5. adds what the plugin returns to a manifest graph seeded with the resources of the plugins
//!    before it, which checks every object and refuses conflicts as the host does.
//!
//! Steps 3 to 5 are prefectctl's own code (`prefect_plugin_host::turn`), not a copy of it.
//!
//! ```
//! # use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, schemars::{self, JsonSchema},
//! #     k8s_openapi::api::core::v1::ConfigMap};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Deserialize, Serialize, JsonSchema)]
//! # #[serde(default, deny_unknown_fields)]
//! # pub struct Values { pub greeting: String }
//! # impl Default for Values { fn default() -> Self { Values { greeting: "hello".into() } } }
//! # pub struct Hello;
//! # impl Plugin for Hello {
//! #     type Values = Values;
//! #     fn manifest() -> Manifest { Manifest::new("hello", "0.1.0") }
//! #     fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
//! #         let name = ctx.full_name("hello");
//! #         ctx.add(ConfigMap {
//! #             metadata: ctx.metadata(&name, "hello"),
//! #             data: Some([("greeting".to_owned(), values.greeting)].into()),
//! #             ..ConfigMap::default()
//! #         })
//! #     }
//! # }
//! use prefect_plugin_test::Host;
//!
//! let rendered = Host::new().values("hello:\n  greeting: hi\n").run::<Hello>().unwrap();
//! assert_eq!(rendered.get("ConfigMap", "prefect-hello").unwrap()["data"]["greeting"], "hi");
//!
//! let failure = Host::new().values("hello:\n  greting: hi\n").run::<Hello>().unwrap_err();
//! assert_eq!(failure.to_string(), "values.yaml:2: hello.greting: unknown key (did you mean `greeting`?)");
//! ```
//!
//! [`Rendered::yaml`] writes the result as `prefectctl render` does, for snapshot tests;
//! [`Rendered::added`] and [`Rendered::changed`] tell the plugin's work from the resources
//! given with [`Host::with_resources`] ([`Rendered::added_names`] and [`Rendered::added_of`]
//! read them); [`Rendered::warnings`] are what prefectctl would print, and [`messages`] what it
//! prints of a run, warnings or errors. [`Host::api_versions`] adds an operator's group versions
//! to the cluster, as `render --api-versions` does. A second [`Host::values`] is another `-f` file over the first; [`Host::values_json`] writes
//! values given as JSON.
#![forbid(unsafe_code)]

use std::fmt;

use prefect_manifest::{Graph, Provenance, ResourceKey};
use prefect_plugin_host::turn::{self, LiveObjects, Setting, take_turn};
use prefect_plugin_sdk::{
    Plugin, plugin_manifest, run_plugin,
    wire::{self, Capabilities, ObjectRef, PluginManifest, Release, RunRequest, RunResponse},
};
use prefect_values::{Layer, Section, Values};
use serde_json::Value;

/// The name the resources of earlier plugins are recorded under in provenance.
const EARLIER: &str = "earlier-plugins";

/// A host that runs one plugin; see the [crate documentation](crate).
#[derive(Debug, Clone)]
pub struct Host {
    release: Release,
    values: Vec<String>,
    capabilities: Capabilities,
    stack: Vec<String>,
    resources: Vec<Value>,
    live: Option<Vec<Value>>,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

impl Host {
    /// Release `prefect` in namespace `prefect`, no values, Kubernetes 1.33, nothing in the
    /// graph yet, rendering (no cluster to look objects up in).
    pub fn new() -> Host {
        Host {
            release: Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() },
            values: Vec::new(),
            capabilities: kubernetes_1_33(),
            stack: Vec::new(),
            resources: Vec::new(),
            live: None,
        }
    }

    /// The values file, as `-f values.yaml` would give it: every section, the plugin's under
    /// its name. Call it again for another file over it, merged as prefectctl merges
    /// `-f values.yaml -f values-2.yaml` (a later `null` still removes a default).
    pub fn values(mut self, yaml: &str) -> Host {
        self.values.push(yaml.to_owned());
        self
    }

    /// The values file as JSON (which is YAML), one key a line so that messages name a line:
    /// `values_json(json!({ "hello": { "greeting": "hi" } }))`.
    pub fn values_json(self, values: Value) -> Host {
        let text = serde_json::to_string_pretty(&values).unwrap_or_default();
        self.values(&text)
    }

    /// The release's name and namespace.
    pub fn release(mut self, name: &str, namespace: &str) -> Host {
        self.release = Release { name: name.to_owned(), namespace: namespace.to_owned() };
        self
    }

    /// The cluster's Kubernetes version and served group versions.
    pub fn kubernetes(mut self, version: &str, api_versions: &[&str]) -> Host {
        self.capabilities = Capabilities {
            kube_version: version.to_owned(),
            api_versions: api_versions.iter().map(|v| (*v).to_owned()).collect(),
        };
        self
    }

    /// Group versions the cluster serves besides those it serves already (an operator's
    /// custom resources, `monitoring.coreos.com/v1`), as `render --api-versions` adds them.
    pub fn api_versions(mut self, extra: &[&str]) -> Host {
        self.capabilities.api_versions.extend(extra.iter().map(|v| (*v).to_owned()));
        self
    }

    /// Other plugins in the stack (besides the one run), as `Context::has_plugin` sees them.
    pub fn with_plugins(mut self, names: &[&str]) -> Host {
        self.stack = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The resources the plugins before this one added.
    pub fn with_resources(mut self, objects: Vec<Value>) -> Host {
        self.resources = objects;
        self
    }

    /// Runs as `apply` does: lookups are answered from `objects` (an object not among them is
    /// absent from the cluster).
    pub fn live(mut self, objects: Vec<Value>) -> Host {
        self.live = Some(objects);
        self
    }

    /// Runs plugin `P`; see the [crate documentation](crate).
    pub fn run<P: Plugin>(&self) -> Result<Rendered, Failure> {
        let manifest: PluginManifest = round_trip(&plugin_manifest::<P>())?;
        let values = self.read_values(&manifest)?;

        let mut graph = Graph::new();
        graph.apply(EARLIER, self.resources.clone(), Vec::new()).map_err(|errors| {
            Failure(errors.iter().map(|e| format!("with_resources: {e}")).collect())
        })?;
        let global = turn::global_values(&values)
            .map_err(|err| Failure(vec![prefect_plugin_host::with_causes(&err)]))?;
        let mut stack = self.stack.clone();
        stack.push(manifest.name.clone());
        let setting = Setting {
            release: &self.release,
            values: &values,
            global: &global,
            stack: &stack,
            capabilities: &self.capabilities,
        };
        let mut live = Live(self.live.as_deref());
        let outcome = take_turn(&mut graph, &manifest, &setting, &mut live, &mut call::<P>);
        if !outcome.errors.is_empty() {
            return Err(Failure(outcome.errors));
        }
        Ok(Rendered { graph, plugin: manifest.name, warnings: outcome.warnings })
    }

    /// Validates the values file against the plugin's and the global schema.
    fn read_values(&self, manifest: &PluginManifest) -> Result<Values, Failure> {
        let layers = self
            .values
            .iter()
            .enumerate()
            .map(|(index, yaml)| {
                let name = match index {
                    0 => "values.yaml".to_owned(),
                    _ => format!("values-{}.yaml", index + 1),
                };
                Layer::from_yaml_str(yaml, &name).map_err(|err| Failure(vec![err.to_string()]))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let values = prefect_values::merge(&layers);
        let sections = [
            Section { name: "global".to_owned(), schema: wire::global_values_schema() },
            Section { name: manifest.name.clone(), schema: manifest.values_schema.clone() },
        ];
        let problems: Vec<String> = prefect_values::validate(&values, &sections)
            .iter()
            .filter(|p| p.severity == prefect_values::Severity::Error)
            .map(ToString::to_string)
            .collect();
        if problems.is_empty() { Ok(values) } else { Err(Failure(problems)) }
    }
}

/// A Kubernetes 1.33 cluster serving the group versions plugins commonly use.
fn kubernetes_1_33() -> Capabilities {
    let api_versions = [
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v2",
        "policy/v1",
        "networking.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
    ];
    Capabilities {
        kube_version: "1.33.0".to_owned(),
        api_versions: api_versions.map(str::to_owned).to_vec(),
    }
}

/// The live objects a test gives, as a cluster would answer lookups; none when rendering.
struct Live<'a>(Option<&'a [Value]>);

impl LiveObjects for Live<'_> {
    fn available(&self) -> bool {
        self.0.is_some()
    }

    fn read(&mut self, reference: &ObjectRef) -> Result<Option<Value>, turn::Cause> {
        let found = self.0.unwrap_or_default().iter().find(|object| {
            object["apiVersion"] == reference.api_version.as_str()
                && object["kind"] == reference.kind.as_str()
                && object["metadata"]["name"] == reference.name.as_str()
                && reference
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| object["metadata"]["namespace"] == ns)
        });
        Ok(found.cloned())
    }
}

/// Plugin `P` called on `request`, both documents written as JSON text and read back, as
/// across the library boundary.
fn call<P: Plugin>(request: &RunRequest) -> Result<RunResponse, turn::Cause> {
    let received: RunRequest = round_trip(request)?;
    Ok(round_trip(&run_plugin::<P>(received))?)
}

/// `value` written as JSON text and read back, as each side of the boundary does.
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> Result<T, Failure> {
    let text = serde_json::to_string(value)
        .map_err(|err| Failure(vec![format!("cannot write the document: {err}")]))?;
    serde_json::from_str(&text)
        .map_err(|err| Failure(vec![format!("the document does not read back: {err}")]))
}

/// Why a run failed: every message, as prefectctl prints them (without `error: `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub Vec<String>);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for Failure {}

/// What prefectctl prints of a run: the warnings of one that succeeded, or the errors of one
/// that failed (without `warning: ` or `error: `).
pub fn messages(result: &Result<Rendered, Failure>) -> Vec<String> {
    match result {
        Ok(rendered) => rendered.warnings.clone(),
        Err(failure) => failure.0.clone(),
    }
}

/// What a run produced: the graph, with the resources of the plugins before it.
#[derive(Debug)]
pub struct Rendered {
    graph: Graph,
    plugin: String,
    /// The plugin's warnings, as prefectctl prints them (without `warning: `).
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The resource of `kind` called `name` (in any namespace).
    pub fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.graph
            .ordered()
            .into_iter()
            .find(|(key, _)| key.kind == kind && key.name == name)
            .map(|(_, object)| object)
    }

    /// Every resource, in the order prefectctl writes and applies them.
    pub fn resources(&self) -> Vec<&Value> {
        self.graph.ordered().into_iter().map(|(_, object)| object).collect()
    }

    /// The resources the plugin added, in the order prefectctl writes them.
    pub fn added(&self) -> Vec<&Value> {
        self.by_plugin(|provenance| provenance.added_by == self.plugin)
    }

    /// `Kind/name` of each resource the plugin added, in the order prefectctl writes them.
    pub fn added_names(&self) -> Vec<String> {
        let name = |object: &Value| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            format!("{}/{}", text(&object["kind"]), text(&object["metadata"]["name"]))
        };
        self.added().into_iter().map(name).collect()
    }

    /// The first resource of `kind` the plugin added.
    pub fn added_of(&self, kind: &str) -> Option<&Value> {
        self.added().into_iter().find(|object| object["kind"] == kind)
    }

    /// The resources of the plugins before it that the plugin changed, in the order
    /// prefectctl writes them.
    pub fn changed(&self) -> Vec<&Value> {
        self.by_plugin(|provenance| {
            provenance.added_by != self.plugin
                && provenance.changes.iter().any(|change| change.plugin == self.plugin)
        })
    }

    fn by_plugin(&self, wanted: impl Fn(&Provenance) -> bool) -> Vec<&Value> {
        self.graph
            .ordered_with_provenance()
            .into_iter()
            .filter(|(_, _, provenance)| wanted(provenance))
            .map(|(_, object, _)| object)
            .collect()
    }

    /// `added by PLUGIN; changed by ...` of the resource of `kind` called `name`.
    pub fn provenance(&self, kind: &str, name: &str) -> Option<String> {
        let key: &ResourceKey = self
            .graph
            .ordered()
            .into_iter()
            .find(|(key, _)| key.kind == kind && key.name == name)?
            .0;
        self.graph.provenance(key).map(ToString::to_string)
    }

    /// The resources as `prefectctl render` writes them: a YAML stream, each document headed
    /// by its provenance. Compare it with a snapshot.
    pub fn yaml(&self) -> String {
        prefect_plugin_host::yaml_stream(&self.graph)
            .unwrap_or_else(|err| format!("# {}\n", prefect_plugin_host::with_causes(&err)))
    }
}

#[cfg(test)]
mod tests;
