//! Reading a release back on a real API server: `get values` and `get manifest` of each
//! revision, secrets hidden, and `history`, `list` and `status` as JSON and YAML documents.

use expect_test::expect;
use serde_json::Value;

use crate::{
    cluster::Cluster,
    harness::{Run, prefectctl},
};

const NAMESPACE: &str = "prefect";
/// The basic-auth credentials: they must never be printed, neither as they are nor in base64.
const AUTH: &str = "admin:s3cret-pw";
const AUTH_BASE64: &str = "YWRtaW46czNjcmV0LXB3";

/// `prefectctl --kubeconfig CLUSTER -n prefect ARGS`.
fn ctl(cluster: &Cluster, args: &[&str]) -> Run {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
    all.extend_from_slice(args);
    prefectctl(&all)
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|err| panic!("not YAML: {err}\n{text}"))
}

#[test]
fn values_manifest_and_documents_of_each_revision() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();
    let auth = format!("server.basicAuth.authString={AUTH}");
    ctl(&cluster, &["--set", "server.basicAuth.enabled=true", "--set", &auth, "apply"]).ok();
    ctl(&cluster, &["--set", "server.revisionHistoryLimit=5", "apply"]).ok();

    // The user's values of the latest revision: the install's and the upgrade's, the secret
    // masked and named on standard error.
    let run = ctl(&cluster, &["get", "values"]);
    assert!(
        run.stderr.contains("server.basicAuth.authString is secret and shown as ***"),
        "{}",
        run.stderr
    );
    expect![[r#"
        server:
          basicAuth:
            enabled: true
            authString: "***"
          revisionHistoryLimit: 5
    "#]]
    .assert_eq(&run.ok());
    let first = ctl(&cluster, &["get", "values", "--revision", "1"]).ok();
    assert!(!first.contains("revisionHistoryLimit"), "revision 1 did not set it:\n{first}");
    assert!(first.contains("authString: \"***\""), "{first}");

    // --all: each plugin's defaults under the user's values, as JSON.
    let all: Value =
        serde_json::from_str(&ctl(&cluster, &["get", "values", "--all", "-o", "json"]).ok())
            .unwrap();
    assert_eq!(all["server"]["revisionHistoryLimit"], 5);
    assert_eq!(all["server"]["basicAuth"]["authString"], "***");
    assert_eq!(all["server"]["loggingLevel"], "WARNING", "no defaults: {all}");
    assert!(all["global"].is_object(), "no global section: {all}");
    assert!(!all.to_string().contains("s3cret"), "{all}");

    // The objects of revision 2 in apply order (the Secret before the Deployment that reads
    // it), the Secret's value masked.
    let manifest = ctl(&cluster, &["get", "manifest"]).ok();
    let objects: Vec<Value> = manifest.split("---\n").skip(1).map(yaml).collect();
    let position = |kind: &str, name: &str| {
        objects
            .iter()
            .position(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in:\n{manifest}"))
    };
    let server = &objects[position("Deployment", "prefect-server")];
    assert_eq!(server["spec"]["revisionHistoryLimit"], 5);
    let secret = &objects[position("Secret", "prefect-server-basic-auth")];
    assert_eq!(secret["data"]["auth-string"], "***", "{secret}");
    assert!(
        position("Secret", "prefect-server-basic-auth") < position("Deployment", "prefect-server")
    );
    assert!(!manifest.contains("s3cret") && !manifest.contains(AUTH_BASE64), "{manifest}");
    let first = ctl(&cluster, &["get", "manifest", "--revision", "1"]).ok();
    assert!(first.contains("revisionHistoryLimit: 10"), "{first}");

    // history and list as Helm prints them with -o.
    let history: Value =
        serde_json::from_str(&ctl(&cluster, &["history", "-o", "json"]).ok()).unwrap();
    let revisions = history.as_array().expect("a JSON list");
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[0]["status"], "superseded");
    assert_eq!(revisions[1]["status"], "deployed");
    assert_eq!(revisions[1]["plugins"][0]["name"], "server");
    for field in ["updated", "description", "app_version"] {
        assert!(revisions[1][field].as_str().is_some_and(|s| !s.is_empty()), "{field}: {history}");
    }
    let jsonpath = "jsonpath={.spec.template.spec.containers[0].image}";
    let image = cluster
        .kubectl(&["get", "deployment", "prefect-server", "-n", NAMESPACE, "-o", jsonpath], None)
        .ok();
    let app_version = revisions[1]["app_version"].as_str().unwrap();
    assert!(image.contains(&format!(":{app_version}")), "{app_version} is not the tag of {image}");
    let list = yaml(&ctl(&cluster, &["list", "-o", "yaml"]).ok());
    assert_eq!(list[0]["name"], "prefect");
    assert_eq!(list[0]["namespace"], NAMESPACE);
    assert_eq!(list[0]["revision"], 2);
    assert_eq!(list[0]["app_version"], revisions[1]["app_version"]);
    let status = yaml(&ctl(&cluster, &["status", "-o", "yaml"]).ok());
    assert_eq!(status["release"], "prefect");
    assert_eq!(status["revision"], 2);
    assert_eq!(status["status"], "deployed");
    assert!(status["objects"].as_array().is_some_and(|o| !o.is_empty()), "{status}");

    // A revision the release does not have, and a release that is not there.
    let err = ctl(&cluster, &["get", "values", "--revision", "7"]).fails(1);
    assert!(
        err.contains(
            "release prefect in namespace prefect has no revision 7 (revisions: 1-2): \
             prefectctl history lists them"
        ),
        "{err}"
    );
    let err = ctl(&cluster, &["--release", "other", "get", "manifest"]).fails(1);
    assert_eq!(err, ctl(&cluster, &["--release", "other", "history"]).fails(1));
}
