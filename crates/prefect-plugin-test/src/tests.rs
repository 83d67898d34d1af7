//! The harness on a small plugin: how values reach it (files over each other, defaults,
//! `null`), and what [`Rendered`] says it did to the graph.

use prefect_plugin_sdk::{
    Context, Error, Manifest, Plugin,
    k8s_openapi::api::core::v1::ConfigMap,
    schemars::{self, JsonSchema},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Host;

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct Values {
    greeting: String,
    security: Security,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Security {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as_user: Option<i64>,
    run_as_non_root: bool,
}

impl Default for Values {
    fn default() -> Values {
        Values {
            greeting: "hello".to_owned(),
            security: Security { run_as_user: Some(1000), run_as_non_root: true },
        }
    }
}

/// Adds a ConfigMap holding the values it was given, and labels every ConfigMap before it.
struct Echo;

impl Plugin for Echo {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("echo", "0.1.0")
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        ctx.update_each(|object| {
            object["metadata"]["labels"]["seen-by"] = json!("echo");
        });
        let name = ctx.full_name("echo");
        let values = serde_json::to_string(&values).map_err(|err| Error::new(err.to_string()))?;
        ctx.add(ConfigMap {
            metadata: ctx.metadata(&name, "echo"),
            data: Some([("values".to_owned(), values)].into()),
            ..ConfigMap::default()
        })
    }
}

/// The values `Echo` was given, as JSON text.
fn given(host: Host) -> String {
    let rendered = host.run::<Echo>().unwrap();
    rendered.get("ConfigMap", "prefect-echo").unwrap()["data"]["values"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn defaults_fill_in_what_the_values_leave_out() {
    assert_eq!(
        given(Host::new().values("echo:\n  greeting: hi\n")),
        r#"{"greeting":"hi","security":{"runAsUser":1000,"runAsNonRoot":true}}"#
    );
}

/// Helm's rule, which prefectctl follows: a user's `null` removes a default.
#[test]
fn null_removes_a_default_also_from_a_later_file() {
    let without_user = r#"{"greeting":"hello","security":{"runAsNonRoot":true}}"#;
    assert_eq!(
        given(Host::new().values("echo:\n  security:\n    runAsUser: null\n")),
        without_user
    );
    let later = Host::new()
        .values("echo:\n  security:\n    runAsUser: 2000\n")
        .values_json(json!({ "echo": { "security": { "runAsUser": null } } }));
    assert_eq!(given(later), without_user);
}

#[test]
fn a_later_file_wins_and_messages_name_the_file() {
    let host = Host::new().values("echo:\n  greeting: hi\n").values("echo:\n  greeting: hey\n");
    assert!(given(host).starts_with(r#"{"greeting":"hey""#));
    let failure = Host::new()
        .values("echo:\n  greeting: hi\n")
        .values("echo:\n  greting: hey\n")
        .run::<Echo>()
        .unwrap_err();
    assert_eq!(
        failure.to_string(),
        "values-2.yaml:2: echo.greting: unknown key (did you mean `greeting`?)"
    );
}

#[test]
fn added_and_changed_tell_the_plugins_resources_from_those_before_it() {
    let earlier = |name: &str| -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": "prefect" },
        })
    };
    let rendered =
        Host::new().with_resources(vec![earlier("a"), earlier("b")]).run::<Echo>().unwrap();
    let names = |objects: Vec<&Value>| -> Vec<String> {
        objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(rendered.added()), ["prefect-echo"]);
    assert_eq!(names(rendered.changed()), ["a", "b"]);
    assert_eq!(names(rendered.resources()), ["a", "b", "prefect-echo"]);
}
