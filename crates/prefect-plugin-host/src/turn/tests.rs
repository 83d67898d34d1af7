//! Property tests of a turn fed arbitrary plugin responses: objects of any shape, changes to
//! objects that are or are not in the graph, diagnostics with any path, lookups in any round.
//! The host never panics, a response with errors leaves the graph as it was, and whatever the
//! graph accepts can be checked, ordered and written. `PROPTEST_CASES=100000` runs a longer
//! search than the default 256 cases.

use prefect_plugin_abi::wire::{Diagnostic, PluginKind};
use prefect_values::{Layer, SetKind};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&[
            "", "a", "prefect", "prefect-server", "A_b", "x.y", "-a", "lots", "500m", "1Gi", "-1",
            "http", "Side Car", "a[0]", "a.b[1].c", "[\"k\"]", "a[", "..", "\u{e9}",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(&[
            "apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations",
            "spec", "template", "containers", "initContainers", "resources", "limits",
            "requests", "cpu", "ports", "containerPort", "volumes", "volumeMounts", "replicas",
            "periodSeconds", "volumeClaimTemplates", "httpGet", "port", "targetPort",
            "sizeLimit", "emptyDir", "data", "items",
        ][..]).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object a plugin might return: mostly shaped like a Kubernetes object, sometimes anything.
fn item() -> impl Strategy<Value = Value> {
    let shaped = (
        proptest::sample::select(&["v1", "apps/v1", "batch/v1", "example.com/v1", "", "a/b/c"][..]),
        proptest::sample::select(
            &["Deployment", "StatefulSet", "Service", "ConfigMap", "Namespace", "Job", "Thing", ""]
                [..],
        ),
        prop_oneof![Just("prefect-server".to_owned()), text()],
        proptest::option::of(prop_oneof![Just("prefect".to_owned()), text()]),
        json(),
        json(),
    )
        .prop_map(|(api_version, kind, name, namespace, labels, spec)| {
            json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": { "name": name, "namespace": namespace, "labels": labels },
                "spec": spec,
            })
        });
    prop_oneof![5 => shaped, 1 => json()]
}

fn response() -> impl Strategy<Value = RunResponse> {
    let diagnostic =
        (any::<bool>(), text(), proptest::option::of(text())).prop_map(|(error, message, path)| {
            Diagnostic {
                severity: if error { Severity::Error } else { Severity::Warning },
                message,
                path,
            }
        });
    let lookup = || {
        (text(), text(), proptest::option::of(text()), text()).prop_map(
            |(api_version, kind, namespace, name)| ObjectRef { api_version, kind, namespace, name },
        )
    };
    // Removals: mostly of what the first plugin may have added, sometimes of anything.
    let removal = prop_oneof![
        3 => (
            proptest::sample::select(&["v1", "apps/v1", "apps/v2", "example.com/v1"][..]),
            proptest::sample::select(&["Deployment", "Service", "ConfigMap", "Namespace"][..]),
            proptest::option::of(Just("prefect".to_owned())),
        )
            .prop_map(|(api_version, kind, namespace)| ObjectRef {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                namespace,
                name: "prefect-server".to_owned(),
            }),
        1 => lookup(),
    ];
    (
        proptest::collection::vec(item(), 0..4),
        proptest::collection::vec(item(), 0..3),
        proptest::collection::vec(removal, 0..2),
        proptest::collection::vec(diagnostic, 0..3),
        proptest::collection::vec(lookup(), 0..2),
    )
        .prop_map(|(items, changed, removed, results, lookups)| RunResponse {
            api_version: wire::API_VERSION.to_owned(),
            kind: wire::RESOURCE_LIST.to_owned(),
            items,
            changed,
            removed,
            results,
            lookups,
        })
}

/// Answers every lookup with `object`, or says the cluster failed.
struct Live(Option<Value>);

impl LiveObjects for Live {
    fn available(&self) -> bool {
        true
    }

    fn read(&mut self, _: &ObjectRef) -> Result<Option<Value>, Cause> {
        self.0.clone().map(Some).ok_or_else(|| "the API server is gone".into())
    }
}

fn manifest(name: &str) -> PluginManifest {
    PluginManifest {
        name: name.to_owned(),
        version: "1.0.0".to_owned(),
        protocol_version: 1,
        description: String::new(),
        requires: Vec::new(),
        after: Vec::new(),
        kind: PluginKind::Generator,
        values_schema: json!({ "type": "object" }),
        values_defaults: json!({ "a": { "b": 0 } }),
        reads: None,
    }
}

/// A turn that fails names the plugin and what it needed, and keeps the cause (the cluster's
/// error, serde's) as the error's source for callers that walk the chain.
#[test]
fn failed_turns_name_the_plugin_and_keep_their_causes() {
    let values = prefect_values::merge(&[]);
    let release = wire::Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() };
    let global = GlobalValues::default();
    let stack = ["postgres".to_owned()];
    let capabilities = Capabilities { kube_version: "1.30.0".to_owned(), api_versions: Vec::new() };
    let setting = Setting {
        release: &release,
        values: &values,
        global: &global,
        stack: &stack,
        capabilities: &capabilities,
    };
    let secret = |name: String| ObjectRef {
        api_version: "v1".to_owned(),
        kind: "Secret".to_owned(),
        namespace: Some("prefect".to_owned()),
        name,
    };
    let mut asked = 0;
    let mut asks_for_a_new_secret = |_: &RunRequest| {
        asked += 1;
        Ok(RunResponse { lookups: vec![secret(format!("db-{asked}"))], ..RunResponse::default() })
    };
    let turn = |live: &mut dyn LiveObjects, call: &mut dyn FnMut(&RunRequest) -> _| {
        take_turn(&mut Graph::new(), &manifest("postgres"), &setting, live, call).errors
    };
    assert_eq!(
        turn(&mut Live(None), &mut asks_for_a_new_secret),
        ["plugin `postgres` needs a live object: the API server is gone"]
    );
    assert_eq!(
        turn(&mut Offline, &mut asks_for_a_new_secret),
        ["plugin `postgres` asks to read objects from the cluster, which `render` never \
          contacts: the plugin should handle `Lookup::Unavailable`"]
    );
    assert_eq!(
        turn(&mut Live(Some(json!({}))), &mut asks_for_a_new_secret),
        ["plugin `postgres` kept asking for new live objects after 4 rounds: it should ask for \
          the same objects in every round"]
    );
    let mut fails = |_: &RunRequest| {
        Err(Cause::from(crate::Error::Failed {
            plugin: "postgres".to_owned(),
            reason: "exited with status 1".to_owned(),
        }))
    };
    assert_eq!(turn(&mut Offline, &mut fails), ["plugin `postgres` failed: exited with status 1"]);

    let values =
        prefect_values::merge(&[
            Layer::from_set("global.commonLabels.team=7", SetKind::Typed).unwrap()
        ]);
    let error = global_values(&values).unwrap_err();
    assert_eq!(error.to_string(), "global");
    let cause = std::error::Error::source(&error).expect("serde's error is kept");
    assert!(cause.is::<serde_json::Error>(), "{cause:?}");
    assert_eq!(crate::with_causes(&error), "global: invalid type: integer `7`, expected a string");
}

proptest! {
    #[test]
    fn arbitrary_responses_never_panic_and_errors_leave_the_graph_alone(
        rounds in proptest::collection::vec(response(), 1..4),
        live in proptest::option::of(item()),
        online in any::<bool>(),
    ) {
        let values = prefect_values::merge(&[
            Layer::from_set("first.a.b=1,second.a[0]=x", SetKind::Typed).unwrap(),
        ]);
        let release = wire::Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() };
        let global = GlobalValues::default();
        let stack = ["first".to_owned(), "second".to_owned()];
        let capabilities =
            Capabilities { kube_version: "1.30.0".to_owned(), api_versions: Vec::new() };
        let setting = Setting {
            release: &release,
            values: &values,
            global: &global,
            stack: &stack,
            capabilities: &capabilities,
        };
        let mut graph = Graph::new();
        for name in &stack {
            let before = graph.ordered().into_iter().map(|(_, o)| o.clone()).collect::<Vec<_>>();
            let mut replies = rounds.clone().into_iter();
            let mut call = |_: &RunRequest| replies.next().ok_or_else(|| Cause::from("no more"));
            let outcome = if online {
                take_turn(&mut graph, &manifest(name), &setting, &mut Live(live.clone()), &mut call)
            } else {
                take_turn(&mut graph, &manifest(name), &setting, &mut Offline, &mut call)
            };
            for message in outcome.errors.iter().chain(&outcome.warnings) {
                prop_assert!(!message.is_empty());
            }
            if !outcome.errors.is_empty() {
                let after = graph.ordered().into_iter().map(|(_, o)| o.clone()).collect::<Vec<_>>();
                prop_assert_eq!(before, after);
            }
        }
        prefect_manifest::check::check(&graph);
        graph.waves();
        prop_assert!(crate::yaml_stream(&graph).is_ok());
    }
}

/// A plugin whose manifest says which kinds it reads is sent only those; a plugin that says
/// nothing (protocol 1's plugins) is sent everything; what a plugin is not sent stays as it was.
#[test]
fn a_plugin_is_sent_only_the_kinds_it_reads() {
    let values = prefect_values::merge(&[]);
    let release = wire::Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() };
    let global = GlobalValues::default();
    let stack = ["reader".to_owned()];
    let capabilities = Capabilities { kube_version: "1.30.0".to_owned(), api_versions: Vec::new() };
    let setting = Setting {
        release: &release,
        values: &values,
        global: &global,
        stack: &stack,
        capabilities: &capabilities,
    };
    let object = |kind: &str, api_version: &str| {
        json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": { "name": "x", "namespace": "prefect" },
        })
    };
    let mut graph = Graph::new();
    let seeded =
        vec![object("ConfigMap", "v1"), object("Deployment", "apps/v1"), object("Service", "v1")];
    graph.apply("seed", seeded, Vec::new()).unwrap();
    let before: Vec<Value> = graph.ordered().into_iter().map(|(_, o)| o.clone()).collect();

    for (reads, expected) in [
        (None, vec!["Service", "Deployment", "ConfigMap"]),
        (Some(vec!["Deployment".to_owned()]), vec!["Deployment"]),
        (Some(Vec::new()), vec![]),
    ] {
        let manifest = PluginManifest { reads, ..manifest("reader") };
        let mut sent = Vec::new();
        let mut call = |request: &RunRequest| {
            sent = request
                .items
                .iter()
                .map(|item| item["kind"].as_str().unwrap().to_owned())
                .collect();
            let mut deployment = object("Deployment", "apps/v1");
            deployment["metadata"]["labels"] = json!({ "changed": "yes" });
            let changed = if request.items.iter().any(|item| item["kind"] == "Deployment") {
                vec![deployment]
            } else {
                vec![]
            };
            Ok(RunResponse { changed, ..RunResponse::default() })
        };
        let mut graph = graph.clone();
        let outcome = take_turn(&mut graph, &manifest, &setting, &mut Offline, &mut call);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        let mut sorted = sent.clone();
        sorted.sort();
        let mut expected_sorted: Vec<String> = expected.iter().map(|k| (*k).to_owned()).collect();
        expected_sorted.sort();
        assert_eq!(sorted, expected_sorted);
        let after: Vec<Value> = graph.ordered().into_iter().map(|(_, o)| o.clone()).collect();
        for (before, after) in before.iter().zip(&after) {
            if before["kind"] == "Deployment" && !expected.is_empty() {
                assert_eq!(after["metadata"]["labels"]["changed"], "yes");
            } else {
                assert_eq!(before, after);
            }
        }
    }
}

/// A plugin removes a resource an earlier plugin added; the YAML says who removed what. A
/// response that removes what is not there fails and leaves the graph as it was.
#[test]
fn a_plugin_removes_a_resource_and_the_output_says_so() {
    let values = prefect_values::merge(&[]);
    let release = wire::Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() };
    let global = GlobalValues::default();
    let stack = ["slim".to_owned()];
    let capabilities = Capabilities { kube_version: "1.30.0".to_owned(), api_versions: Vec::new() };
    let setting = Setting {
        release: &release,
        values: &values,
        global: &global,
        stack: &stack,
        capabilities: &capabilities,
    };
    let config_map = |name: &str| json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name, "namespace": "prefect" } });
    let mut graph = Graph::new();
    graph.apply("server", vec![config_map("keep"), config_map("drop")], Vec::new()).unwrap();
    let reference = |name: &str| ObjectRef {
        api_version: "v1".to_owned(),
        kind: "ConfigMap".to_owned(),
        namespace: Some("prefect".to_owned()),
        name: name.to_owned(),
    };

    let mut call = |_: &RunRequest| {
        Ok(RunResponse {
            removed: vec![reference("drop"), reference("gone")],
            ..RunResponse::default()
        })
    };
    let outcome = take_turn(&mut graph, &manifest("slim"), &setting, &mut Offline, &mut call);
    assert_eq!(
        outcome.errors,
        ["plugin `slim` removes ConfigMap/prefect/gone (removed[1]), which is not in the graph: \
          remove only resources of the request's `items`, by their API group, kind, namespace and \
          name"]
    );
    assert_eq!(graph.len(), 2);

    let mut call = |_: &RunRequest| {
        Ok(RunResponse { removed: vec![reference("drop")], ..RunResponse::default() })
    };
    let outcome = take_turn(&mut graph, &manifest("slim"), &setting, &mut Offline, &mut call);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        crate::yaml_stream(&graph).unwrap(),
        "---\n# Source: added by server\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n  \
         namespace: prefect\n# Removed: ConfigMap/prefect/drop (added by server; removed by slim)\n"
    );
}
