//! Running a plugin in its own tests the way the host runs it: a [`Request`] with the plugin's
//! defaults under the values a test sets, the items earlier plugins would have added, the
//! cluster's capabilities and live objects.
//!
//! ```
//! # use prefect_plugin_sdk::{Context, Error, Manifest, Plugin, schemars::JsonSchema};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Deserialize, Serialize, JsonSchema, Default)]
//! # pub struct Values { pub greeting: String }
//! # pub struct Hello;
//! # impl Plugin for Hello {
//! #     type Values = Values;
//! #     fn manifest() -> Manifest { Manifest::new("hello", "0.1.0") }
//! #     fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
//! #         if values.greeting.is_empty() { return Err(Error::at("greeting", "set a greeting")) }
//! #         Ok(())
//! #     }
//! # }
//! use prefect_plugin_sdk::{serde_json::json, testing::Request};
//!
//! let response = Request::new(&["server", "hello"]).values(json!({ "greeting": "" })).run::<Hello>();
//! assert_eq!(response.results[0].path.as_deref(), Some("greeting"));
//! ```
//!
//! The functions beside it read a [`RunResponse`] as tests usually want it: [`names`] of what
//! was added, the first [`item`] of a kind, the [`messages`] as users read them, a Secret's
//! value ([`secret_value`]).

use serde_json::Value;

use crate::{
    PROTOCOL_VERSION, Plugin,
    export::run_plugin,
    wire::{
        self, Capabilities, GlobalValues, LookupResult, Lookups, ObjectRef, Release, RunRequest,
        RunResponse, Severity,
    },
};

/// A run request as the host would send it; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Request {
    request: RunRequest,
    overrides: Value,
}

/// A Kubernetes 1.33 cluster serving the API versions plugins commonly use: what tests run
/// against unless they say otherwise.
pub fn capabilities() -> Capabilities {
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

impl Request {
    /// A request for release `prefect` in namespace `prefect`, with `plugins` in the stack, the
    /// default `global:` values, the capabilities of Kubernetes 1.33 and an empty graph.
    pub fn new(plugins: &[&str]) -> Request {
        Request {
            request: RunRequest {
                api_version: wire::API_VERSION.to_owned(),
                kind: wire::RESOURCE_LIST.to_owned(),
                protocol_version: PROTOCOL_VERSION,
                release: Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() },
                values: Value::Null,
                global: GlobalValues::default(),
                plugins: plugins.iter().map(|p| (*p).to_owned()).collect(),
                capabilities: capabilities(),
                items: Vec::new(),
                lookups: Lookups::default(),
            },
            overrides: Value::Null,
        }
    }

    /// The values the test sets, over the plugin's defaults as the host merges them: mappings
    /// key by key, `null` removes a default, anything else replaces.
    pub fn values(mut self, overrides: Value) -> Request {
        self.overrides = overrides;
        self
    }

    /// Release name and namespace.
    pub fn release(mut self, name: &str, namespace: &str) -> Request {
        self.request.release = Release { name: name.to_owned(), namespace: namespace.to_owned() };
        self
    }

    /// The resources plugins that ran before added.
    pub fn items(mut self, items: Vec<Value>) -> Request {
        self.request.items = items;
        self
    }

    /// The cluster's Kubernetes version and served API versions.
    pub fn capabilities(mut self, kube_version: &str, api_versions: &[&str]) -> Request {
        self.request.capabilities = Capabilities {
            kube_version: kube_version.to_owned(),
            api_versions: api_versions.iter().map(|v| (*v).to_owned()).collect(),
        };
        self
    }

    /// Changes the `global:` values.
    pub fn global(mut self, change: impl FnOnce(&mut GlobalValues)) -> Request {
        change(&mut self.request.global);
        self
    }

    /// What the host read from the cluster (as while applying).
    pub fn lookups(mut self, lookups: Lookups) -> Request {
        self.request.lookups = lookups;
        self
    }

    /// A run while applying, in which the host read `reference` from the cluster and found
    /// `object` (`None`: there is no such object). Call it again for more objects.
    pub fn live(mut self, reference: ObjectRef, object: Option<Value>) -> Request {
        self.request.lookups.available = true;
        self.request.lookups.results.push(LookupResult { reference, object });
        self
    }

    /// The request for plugin `P`: its defaults with the test's values over them.
    pub fn build<P: Plugin>(&self) -> RunRequest {
        let mut request = self.request.clone();
        let mut values = serde_json::to_value(P::Values::default()).unwrap_or(Value::Null);
        coalesce(&mut values, self.overrides.clone());
        request.values = values;
        request
    }

    /// Runs `P` on the request, in process, panics caught as in a loaded library.
    pub fn run<P: Plugin>(&self) -> RunResponse {
        run_plugin::<P>(self.build::<P>())
    }
}

/// The Secret `name` in the namespace of [`Request::new`], as a plugin looks it up.
pub fn secret_ref(name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".to_owned(),
        kind: "Secret".to_owned(),
        namespace: Some("prefect".to_owned()),
        name: name.to_owned(),
    }
}

/// `Kind/name` of every resource the plugin added, in order.
pub fn names(response: &RunResponse) -> Vec<String> {
    response
        .items
        .iter()
        .map(|item| {
            let kind = item["kind"].as_str().unwrap_or_default();
            format!("{kind}/{}", item["metadata"]["name"].as_str().unwrap_or_default())
        })
        .collect()
}

/// The first resource of `kind` the plugin added; panics when there is none.
pub fn item<'a>(response: &'a RunResponse, kind: &str) -> &'a Value {
    response.items.iter().find(|item| item["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

/// The diagnostics, one a line: `error PATH: MESSAGE` or `warning PATH: MESSAGE`.
pub fn messages(response: &RunResponse) -> Vec<String> {
    response
        .results
        .iter()
        .map(|result| {
            let severity = if result.severity == Severity::Error { "error" } else { "warning" };
            format!("{severity} {}: {}", result.path.as_deref().unwrap_or(""), result.message)
        })
        .collect()
}

/// The value under `key` of the first Secret the plugin added, as text; panics when there is
/// no such Secret or key, or the value is not UTF-8.
pub fn secret_value(response: &RunResponse, key: &str) -> String {
    let encoded = item(response, "Secret")["data"][key].clone();
    let bytes: k8s_openapi::ByteString =
        serde_json::from_value(encoded).unwrap_or_else(|err| panic!("no key {key}: {err}"));
    String::from_utf8(bytes.0).expect("a UTF-8 value")
}

fn coalesce(base: &mut Value, overrides: Value) {
    match (base, overrides) {
        (_, Value::Null) => {}
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                if value.is_null() {
                    base.remove(&key);
                } else if let Some(existing) = base.get_mut(&key) {
                    coalesce(existing, value);
                } else {
                    base.insert(key, value);
                }
            }
        }
        (base, overrides) => *base = overrides,
    }
}
