//! The JSON documents that cross the plugin boundary (protocol version 1).
//!
//! The run document is shaped like a Kustomize KRM function's `ResourceList`: the graph's items
//! so far go in beside the plugin's values, and the plugin's items come back with results (errors
//! and warnings, each with a value path). Unknown fields are ignored on both sides, which is what
//! lets a later protocol add fields without breaking plugins built for this one.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Annotation (value `"true"`) of a resource that belongs with the release's data, such as the
/// Secret holding a generated database password: the host's `uninstall` (and pruning) keeps it
/// together with the PersistentVolumeClaims unless told to delete the data, so that a reinstall
/// on kept data finds the credentials that match it.
pub const DATA_ANNOTATION: &str = "prefectctl.io/data";

/// `apiVersion` of the run documents.
pub const API_VERSION: &str = "prefectctl.io/v1";
/// `kind` of the run documents.
pub const RESOURCE_LIST: &str = "ResourceList";

/// What a plugin says about itself, before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginManifest {
    /// The name users select it by (`--plugin NAME`) and the name of its values section.
    pub name: String,
    /// The plugin's own release version (semver).
    pub version: String,
    /// The protocol version it speaks; the same number `protocol_version()` returns.
    pub protocol_version: u32,
    /// One line for `plugins list` and `plugins describe`.
    #[serde(default)]
    pub description: String,
    /// Plugins that must be in the stack and run before this one; selecting this plugin selects
    /// them too.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Plugins that, when they are in the stack, run before this one (they are not selected).
    #[serde(default)]
    pub after: Vec<String>,
    /// Whether the plugin adds resources or rewrites those of others; transformers run after
    /// every generator.
    #[serde(default)]
    pub kind: PluginKind,
    /// JSON Schema (draft 2020-12) of the plugin's values section, with a `description` on each
    /// property.
    #[serde(default)]
    pub values_schema: Value,
    /// The documented defaults of the values section.
    #[serde(default)]
    pub values_defaults: Value,
    /// The kinds of the graph's resources the plugin reads or changes (`Deployment`,
    /// `Service`): the host sends only those in [`RunRequest::items`], and every other
    /// resource stays in the graph as it is. Absent (as from plugins that predate the field)
    /// means every resource; empty means none, for a plugin that only adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
}

impl PluginManifest {
    /// Whether the plugin is sent the resources of `kind`.
    pub fn reads_kind(&self, kind: &str) -> bool {
        self.reads.as_ref().is_none_or(|kinds| kinds.iter().any(|k| k == kind))
    }
}

/// Whether a plugin contributes resources or transforms the ones already in the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PluginKind {
    /// Adds resources (it may also change others').
    #[default]
    Generator,
    /// Rewrites resources that other plugins added; runs after all generators.
    Transformer,
}

/// The input of one plugin run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always [`RESOURCE_LIST`].
    pub kind: String,
    /// The protocol version the host speaks to this plugin.
    pub protocol_version: u32,
    /// The release being rendered.
    pub release: Release,
    /// The plugin's values section, with the plugin's defaults already merged in.
    pub values: Value,
    /// The `global` values section shared by all plugins, defaults merged in.
    pub global: GlobalValues,
    /// Names of every plugin in the stack, in run order.
    pub plugins: Vec<String>,
    /// What the target cluster serves.
    pub capabilities: Capabilities,
    /// The resources in the graph so far, in render order: those of the kinds the plugin's
    /// manifest says it reads ([`PluginManifest::reads`]), or all of them.
    pub items: Vec<Value>,
    /// Live objects the host read from the cluster for this plugin. Hosts that predate
    /// lookups send none, which reads as `available: false`.
    #[serde(default)]
    pub lookups: Lookups,
}

/// What the host can read from the cluster for a plugin, such as a Secret whose generated
/// password must survive upgrades.
///
/// A plugin that needs a live object names it in [`RunResponse::lookups`]; the host reads it
/// and runs the plugin again, with the object (or its absence) in `results`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lookups {
    /// Whether the host reads the cluster in this run: true while applying, false while
    /// rendering offline (`prefectctl render` never contacts a cluster).
    #[serde(default)]
    pub available: bool,
    /// The objects the plugin asked for in earlier rounds of this run.
    #[serde(default)]
    pub results: Vec<LookupResult>,
}

/// Which object a lookup reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `v1`, `apps/v1`...
    pub api_version: String,
    /// `Secret`, `ConfigMap`...
    pub kind: String,
    /// The namespace; none for a cluster-scoped object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

/// One object the host read, or found absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupResult {
    /// What was asked for.
    pub reference: ObjectRef,
    /// The live object; `None` when the cluster has no such object.
    #[serde(default)]
    pub object: Option<Value>,
}

/// The release a run renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The release name (`--release`); a prefix of resource names.
    pub name: String,
    /// The namespace the release is installed into.
    pub namespace: String,
}

/// The cluster's capabilities, as Helm's `.Capabilities`: plugins pick API versions from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Kubernetes version as `MAJOR.MINOR.PATCH`, without a `v`.
    pub kube_version: String,
    /// Served group versions (`apps/v1`) and, where known, kinds (`apps/v1/Deployment`).
    pub api_versions: Vec<String>,
}

impl Capabilities {
    /// Whether the cluster serves `group_version` (`policy/v1`), or `group_version/Kind`.
    pub fn has(&self, api_version: &str) -> bool {
        self.api_versions.iter().any(|v| v == api_version)
    }
}

/// The output of one plugin run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResponse {
    /// Always [`API_VERSION`].
    #[serde(default)]
    pub api_version: String,
    /// Always [`RESOURCE_LIST`].
    #[serde(default)]
    pub kind: String,
    /// Resources the plugin adds; adding one that another plugin already added is a conflict.
    #[serde(default, deserialize_with = "compact::objects")]
    pub items: Vec<Value>,
    /// Resources from the request's `items` that the plugin rewrote, as whole objects.
    #[serde(default, deserialize_with = "compact::objects")]
    pub changed: Vec<Value>,
    /// Resources from the request's `items` that the plugin takes out of the release (a
    /// transformer that replaces another plugin's object, or drops one the cluster does not
    /// need). Plugins that predate the field send none. `render` says which plugin removed
    /// what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<ObjectRef>,
    /// Errors and warnings; any error fails the whole render.
    #[serde(default)]
    pub results: Vec<Diagnostic>,
    /// Live objects the plugin must read before it can finish (only when the request's
    /// `lookups.available`): the host reads them and runs the plugin again with them, and
    /// ignores `items` and `changed` of this response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<ObjectRef>,
}

/// One error or warning from a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong and what to do, lower-case, no final period.
    pub message: String,
    /// The value path it is about, relative to the plugin's section (`ingress.host`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Fails the render.
    Error,
    /// Printed, the render goes on.
    Warning,
}

/// The `global:` values section, shared by all plugins.
///
/// Names follow the prefect-helm charts (`global.prefect.image.prefectTag`), so values files
/// written for the charts read the same.
//
// The schema refuses unknown keys (so users learn of a typo), but deserialization tolerates
// them: a later host may send fields this build does not know, and a plugin built now must
// keep reading requests then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct GlobalValues {
    /// Settings for the Prefect image every Prefect component runs.
    pub prefect: GlobalPrefect,
    /// Registry host prepended to every image repository (`registry.example.com`), for
    /// air-gapped clusters and mirrors; empty means each repository as written.
    pub image_registry: String,
    /// Labels added to every resource of the release.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations added to every resource of the release.
    pub common_annotations: BTreeMap<String, String>,
    /// The SHA-256 each plugin's file must have, by plugin name (`server: 3f2a...`): prefectctl
    /// refuses to load a plugin whose file differs, before opening it. The host's alone: plugins
    /// are not sent it.
    #[serde(skip_serializing)]
    pub plugin_sha256: BTreeMap<String, String>,
}

/// `global.prefect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct GlobalPrefect {
    /// The Prefect image used by the server and the worker.
    pub image: PrefectImage,
    /// Environment variables of every Prefect container (the server, its background services
    /// and migrations, the worker), set before each component's own `env`, which wins over
    /// them. See Prefect's settings reference for what can be set.
    pub env: Vec<EnvVarValues>,
}

/// An environment variable, as Kubernetes' `EnvVar`: a literal `value`, or `valueFrom` a
/// Secret's or ConfigMap's key, or a field of the pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct EnvVarValues {
    /// The variable's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where its value comes from, instead of `value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSourceValues>,
}

/// `valueFrom` of an environment variable (Kubernetes `EnvVarSource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct EnvVarSourceValues {
    /// A key of a Secret in the release's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyRefValues>,
    /// A key of a ConfigMap in the release's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyRefValues>,
    /// A field of the pod, such as `metadata.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRefValues>,
}

/// A key of a Secret or ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct KeyRefValues {
    /// The Secret's or ConfigMap's name.
    pub name: String,
    /// The key.
    pub key: String,
    /// Whether the pod starts without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A field of the pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct FieldRefValues {
    /// The field's path, such as `status.podIP`.
    pub field_path: String,
    /// The API version the path is read in; empty means `v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
}

/// `global.prefect.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(deny_unknown_fields)]
pub struct PrefectImage {
    /// Image repository.
    pub repository: String,
    /// Image tag, pinned to a Prefect 3 release; pin your own in production.
    pub prefect_tag: String,
    /// Image pull policy.
    pub pull_policy: PullPolicy,
    /// Names of Secrets of type `kubernetes.io/dockerconfigjson` used to pull images.
    pub pull_secrets: Vec<String>,
}

/// Kubernetes image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Pull when the image is not on the node.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The Prefect release the default image runs.
pub const DEFAULT_PREFECT_TAG: &str = "3.9.1-python3.12";

impl Default for PrefectImage {
    fn default() -> Self {
        PrefectImage {
            repository: "prefecthq/prefect".to_owned(),
            prefect_tag: DEFAULT_PREFECT_TAG.to_owned(),
            pull_policy: PullPolicy::IfNotPresent,
            pull_secrets: Vec::new(),
        }
    }
}

/// The JSON Schema of a values type, in the form every values schema on the wire takes:
/// draft 2020-12, with subschemas inlined (no `$ref`), so validators and editors need no
/// reference resolution.
pub fn values_schema<T: JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// [`values_schema`] with each key's `default` taken from what `T::default()` really is.
///
/// `schemars` takes a key's default from the `Default` of the type that declares it, so a
/// component that sets its own (the server's `resources`, a probe's delay) or a flattened
/// struct would otherwise be documented with the shared type's default, not the one rendered.
pub fn values_schema_with_defaults<T: JsonSchema + Serialize + Default>() -> Value {
    let mut schema = values_schema::<T>();
    if let Ok(defaults) = serde_json::to_value(T::default()) {
        set_defaults(&mut schema, &defaults);
    }
    schema
}

/// Writes `defaults` (a values document) into `schema` as the `default` of each property, and
/// on into the subschemas that describe objects.
fn set_defaults(schema: &mut Value, defaults: &Value) {
    let (Some(schema), Some(defaults)) = (schema.as_object_mut(), defaults.as_object()) else {
        return;
    };
    for keyword in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = schema.get_mut(keyword) {
            for branch in branches {
                set_defaults(branch, &Value::Object(defaults.clone()));
            }
        }
    }
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (key, property) in properties.iter_mut() {
        let Some(default) = defaults.get(key) else { continue };
        if let Some(property) = property.as_object_mut() {
            property.insert("default".to_owned(), default.clone());
        }
        set_defaults(property, default);
    }
}

/// The JSON Schema of the `global:` section.
pub fn global_values_schema() -> Value {
    // Read from the text kept beside this file rather than built: every command that reads
    // values needs it, and schemars builds it in four times the time serde_json reads it.
    serde_json::from_str(GLOBAL_VALUES_SCHEMA).unwrap_or_else(|_| built_global_values_schema())
}

/// [`built_global_values_schema`] as JSON text; the test
/// `the_kept_global_schema_is_what_the_code_builds` keeps it current (`UPDATE_EXPECT=1`).
const GLOBAL_VALUES_SCHEMA: &str = include_str!("global-values-schema.json");

fn built_global_values_schema() -> Value {
    values_schema_with_defaults::<GlobalValues>()
}

/// Objects read with no room to spare: serde_json's own reading grows each map to hold
/// nearly twice its entries (an indexmap grows its entries with its hash table), which for
/// thousands of small objects was half the memory of a render. Here each map's entries are
/// gathered first and the map made at their number; the result is the `Value` serde_json
/// would read.
mod compact {
    use std::fmt;

    use serde::{
        Deserialize, Deserializer,
        de::{MapAccess, SeqAccess, Visitor},
    };
    use serde_json::{Map, Number, Value};

    /// A list of objects (any JSON values), each read [`Exact`]; anything else fails as
    /// serde_json's own reading of a `Vec<Value>` does.
    pub(super) fn objects<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Value>, D::Error> {
        let objects = Vec::<Exact>::deserialize(deserializer)?;
        Ok(objects.into_iter().map(|Exact(object)| object).collect())
    }

    /// A JSON value whose maps and lists hold exactly their entries.
    pub(super) struct Exact(pub(super) Value);

    impl<'de> Deserialize<'de> for Exact {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Exact, D::Error> {
            deserializer.deserialize_any(ExactVisitor).map(Exact)
        }
    }

    struct ExactVisitor;

    impl<'de> Visitor<'de> for ExactVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
            Ok(Value::Bool(value))
        }

        fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
            Ok(Value::Number(value.into()))
        }

        fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
            Ok(Value::Number(value.into()))
        }

        fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
            Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E>(self, value: &str) -> Result<Value, E> {
            Ok(Value::String(value.to_owned()))
        }

        fn visit_string<E>(self, value: String) -> Result<Value, E> {
            Ok(Value::String(value))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            Exact::deserialize(deserializer).map(|Exact(value)| value)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Exact(item)) = seq.next_element()? {
                items.push(item);
            }
            items.shrink_to_fit();
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut entries: Vec<(String, Value)> = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                let Exact(value) = map.next_value()?;
                entries.push((key, value));
            }
            let mut exact = Map::with_capacity(entries.len());
            // A key given twice keeps its last value, as serde_json's own reading does.
            exact.extend(entries);
            Ok(Value::Object(exact))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_kept_global_schema_is_what_the_code_builds() {
        let mut text = serde_json::to_string_pretty(&built_global_values_schema()).unwrap();
        text.push('\n');
        expect_test::expect_file!["global-values-schema.json"].assert_eq(&text);
        assert_eq!(global_values_schema(), built_global_values_schema());
    }

    #[test]
    fn objects_read_exactly_are_what_serde_json_reads() {
        let json = r#"[{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {}},
            "data": {"b": "2", "a": "1", "b": "3"}, "n": [1, -2, 18446744073709551615, 1.5, null, true, [[]], {}],
            "s": "\u00e9\n"}, 3, "x", null]"#;
        let response: RunResponse =
            serde_json::from_str(&format!(r#"{{"items": {json}, "changed": []}}"#)).unwrap();
        let expected: Vec<Value> = serde_json::from_str(json).unwrap();
        assert_eq!(response.items, expected);
        assert_eq!(
            serde_json::to_string(&response.items).unwrap(),
            serde_json::to_string(&expected).unwrap(),
            "the same keys in the same order"
        );
        let wrong = serde_json::from_str::<RunResponse>(r#"{"items": {"a": 1}}"#);
        let theirs = serde_json::from_str::<Vec<Value>>(r#"{"a": 1}"#).unwrap_err().to_string();
        assert!(wrong.unwrap_err().to_string().starts_with(theirs.split(" at ").next().unwrap()));
    }

    /// What a later host may send: the documents of today with fields added at every level.
    /// A plugin built now must read them (the additive half of the compatibility promise).
    #[test]
    fn a_request_with_fields_from_a_later_host_still_reads() {
        let request = json!({
            "apiVersion": API_VERSION, "kind": RESOURCE_LIST, "protocolVersion": 1,
            "release": { "name": "prefect", "namespace": "prefect", "revision": 7 },
            "values": {}, "plugins": ["server"], "items": [],
            "global": { "prefect": { "image": { "digest": "sha256:..." } }, "newSetting": true },
            "capabilities": { "kubeVersion": "1.40.0", "apiVersions": ["v1"], "gpus": true },
            "lookups": { "available": true, "results": [], "cached": false },
            "tracing": { "id": "abc" },
        });
        let request: RunRequest = serde_json::from_value(request).expect("reads");
        assert_eq!(request.release.name, "prefect");
        assert_eq!(request.capabilities.kube_version, "1.40.0");
        assert_eq!(
            request.global.prefect.image.repository,
            GlobalValues::default().prefect.image.repository
        );
    }

    /// What an older plugin sends: only the fields protocol 1 started with.
    #[test]
    fn a_manifest_and_response_without_later_fields_read_with_defaults() {
        let manifest: PluginManifest = serde_json::from_value(json!({
            "name": "old", "version": "1.0.0", "protocolVersion": 1,
        }))
        .expect("reads");
        assert_eq!((manifest.kind, manifest.requires.len()), (PluginKind::Generator, 0));
        assert_eq!(manifest.reads, None);
        assert!(manifest.reads_kind("ConfigMap"));
        let response: RunResponse = serde_json::from_value(json!({
            "apiVersion": API_VERSION, "kind": RESOURCE_LIST, "items": [],
        }))
        .expect("reads");
        assert!(response.lookups.is_empty() && response.changed.is_empty());
    }
}
