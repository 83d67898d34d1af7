//! Helm's value inputs as a Helm user types them: `--set-json`, `--set-file`, `-f -`, Helm's
//! precedence whatever the command line order, YAML 1.1 booleans, and bad inputs.

use expect_test::{Expect, expect};
use serde_json::Value;

use crate::harness::{TempDir, prefectctl_with};

/// A folder holding `files`, to run `prefectctl` in.
fn folder(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new("inputs");
    for (name, text) in files {
        dir.write(name, text);
    }
    dir
}

/// `prefectctl render -o json ARGS` in `dir`, with `stdin`: the manifests.
fn render(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> Value {
    let args = [&["render", "-o", "json"], args].concat();
    serde_json::from_str(&prefectctl_with(dir.path(), &args, stdin).ok()).expect("JSON output")
}

/// The object of `kind` named `name` in rendered manifests.
fn object<'a>(manifests: &'a Value, kind: &str, name: &str) -> &'a Value {
    manifests["items"]
        .as_array()
        .expect("a List")
        .iter()
        .find(|item| item["kind"] == kind && item["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {manifests:#}"))
}

/// The server pod's annotations, as JSON text.
fn pod_annotations(manifests: &Value) -> String {
    let deployment = object(manifests, "Deployment", "prefect-server");
    deployment["spec"]["template"]["metadata"]["annotations"].to_string()
}

/// Runs `prefectctl ARGS` in a folder holding `files`, with `stdin`; expects exit code 2 (bad
/// input) and compares standard error.
fn check_error(files: &[(&str, &str)], args: &[&str], stdin: Option<&str>, expect: Expect) {
    check_failure(files, args, stdin, 2, expect);
}

/// [`check_error`] with exit code `code`.
fn check_failure(
    files: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
    code: i32,
    expect: Expect,
) {
    let dir = folder(files);
    expect.assert_eq(&prefectctl_with(dir.path(), args, stdin).fails(code));
}

const TEMPLATE: &str = r#"{
  "job_configuration": { "namespace": "{{ namespace }}", "command": "{{ command }}" },
  "variables": { "properties": { "namespace": { "type": "string", "default": "prefect" } } }
}
"#;

#[test]
fn a_base_job_template_from_set_file_renders_as_the_same_template_inline() {
    let inline =
        format!("agent:\n  config:\n    baseJobTemplate:\n      configuration: {TEMPLATE}");
    let dir = folder(&[("template.json", TEMPLATE), ("inline.yaml", &inline)]);
    let from_file = render(
        &dir,
        &[
            "--plugin",
            "agent",
            "--set-file",
            "agent.config.baseJobTemplate.configuration=template.json",
        ],
        None,
    );
    let given_inline = render(&dir, &["--plugin", "agent", "-f", "inline.yaml"], None);
    assert_eq!(from_file, given_inline);
    let map = object(&from_file, "ConfigMap", "prefect-worker-base-job-template");
    let stored: Value = serde_json::from_str(map["data"]["baseJobTemplate.json"].as_str().unwrap())
        .expect("the ConfigMap holds JSON");
    assert_eq!(stored, serde_json::from_str::<Value>(TEMPLATE).unwrap());
    let worker = object(&from_file, "Deployment", "prefect-worker").to_string();
    assert!(worker.contains("prefect-worker-base-job-template"), "{worker}");

    // The template's JSON from standard input, as Helm reads `--set-file KEY=-`.
    let from_stdin = render(
        &dir,
        &["--plugin", "agent", "--set-file", "agent.config.baseJobTemplate.configuration=-"],
        Some(TEMPLATE),
    );
    assert_eq!(from_stdin, given_inline);
}

#[test]
fn set_json_sets_lists_mappings_and_numbers() {
    let dir = folder(&[]);
    let manifests = render(
        &dir,
        &[
            "--set-json",
            r#"server.env=[{"name":"GREETING","value":"hi"}],server.revisionHistoryLimit=5"#,
            "--set-json",
            r#"{"server": {"podAnnotations": {"a": "1", "b": "2"}}}"#,
        ],
        None,
    );
    let deployment = object(&manifests, "Deployment", "prefect-server");
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 5);
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(env.contains(r#"{"name":"GREETING","value":"hi"}"#), "{env}");
    expect![[r#"{"a":"1","b":"2"}"#]].assert_eq(&pod_annotations(&manifests));
}

#[test]
fn flags_apply_in_helms_order_whatever_the_command_line_order() {
    // Each annotation is set by two inputs; the later in Helm's order wins: -f, --set-json,
    // --set, --set-string, --set-file. The command line gives them in the opposite order.
    let dir = folder(&[
        ("values.yaml", "server:\n  podAnnotations: {a: file, e: file}\n"),
        ("d.txt", "set-file"),
    ]);
    let manifests = render(
        &dir,
        &[
            "--set-file",
            "server.podAnnotations.d=d.txt",
            "--set-string",
            "server.podAnnotations.c=set-string,server.podAnnotations.d=set-string",
            "--set",
            "server.podAnnotations.b=set,server.podAnnotations.c=set",
            "--set-json",
            r#"server.podAnnotations.a="set-json",server.podAnnotations.b="set-json""#,
            "-f",
            "values.yaml",
        ],
        None,
    );
    expect![[r#"{"a":"set-json","b":"set","c":"set-string","d":"set-file","e":"file"}"#]]
        .assert_eq(&pod_annotations(&manifests));
}

#[test]
fn values_from_standard_input() {
    let dir = folder(&[("later.yaml", "server:\n  podAnnotations: {b: later}\n")]);
    let manifests = render(
        &dir,
        &["-f", "-", "-f", "later.yaml"],
        Some("server:\n  podAnnotations: {a: stdin, b: stdin}\n"),
    );
    expect![[r#"{"a":"stdin","b":"later"}"#]].assert_eq(&pod_annotations(&manifests));

    check_error(
        &[],
        &["render", "-f", "-"],
        Some("server:\n  replicaCount: many\n"),
        expect![[r#"
            error: <stdin>:2: server.replicaCount: expected integer, found string "many"
        "#]],
    );
    check_error(
        &[],
        &["render", "-f", "-"],
        Some("server:\n  replicaCount: [1\n"),
        expect![[r#"
            error: <stdin>:2:17: invalid YAML: unclosed bracket '['
        "#]],
    );
    check_error(
        &[],
        &["render", "-f", "-", "-f", "-", "--set-file", "server.podAnnotations.a=-"],
        Some("server: {}\n"),
        expect![[r#"
            error: -f -: standard input can be read once, and -f - read it: save one of them to a file
            error: --set-file server.podAnnotations.a: cannot read "-": standard input can be read once, and -f - read it: save one of them to a file
        "#]],
    );
}

#[test]
fn yaml_1_1_booleans_are_read_as_helm_reads_them_where_a_boolean_is_expected() {
    let dir = folder(&[(
        "values.yaml",
        "server:\n  ingress:\n    enabled: yes\n    host:\n      hostname: prefect.example.com\n  podAnnotations:\n    reviewed: yes\n",
    )]);
    let run = prefectctl_with(dir.path(), &["render", "-o", "json", "-f", "values.yaml"], None);
    expect![[r#"
        warning: values.yaml:3: server.ingress.enabled: read `yes` as true, as Helm (YAML 1.1) does; write `true` (YAML 1.2 reads `yes` as a string)
    "#]]
    .assert_eq(&run.stderr);
    let manifests: Value = serde_json::from_str(&run.ok()).unwrap();
    object(&manifests, "Ingress", "prefect-server");
    // A string annotation keeps its text.
    expect![[r#"{"reviewed":"yes"}"#]].assert_eq(&pod_annotations(&manifests));
}

#[test]
fn bad_inputs_name_the_flag_the_key_and_what_is_wrong() {
    check_error(
        &[],
        &[
            "render",
            "--set-file",
            "agent.config.baseJobTemplate.configuration=missing.json",
            "--set-json",
            r#"server.env=[{"name": "A",}]"#,
            "--set-json",
            "server.image.tag=latest",
            "--set-json",
            r#"{"server": {"replicaCount": 2"#,
            "--set-file",
            "server.podAnnotations.a",
        ],
        None,
        expect![[r#"
            error: --set-json server.env=…: invalid JSON after "=": trailing comma at line 1 column 15 (quote text as JSON does: KEY='"text"')
            error: --set-json server.image.tag=…: invalid JSON after "=": expected value at line 1 column 1 (quote text as JSON does: KEY='"text"')
            error: --set-json {…}: invalid JSON object: EOF while parsing an object at line 1 column 29 (give one JSON object, or use --set-json KEY=JSON)
            error: --set-file agent.config.baseJobTemplate.configuration: cannot read "missing.json": No such file or directory (os error 2) (check the path after "=")
            error: --set-file server.podAnnotations.a: missing "=" (use --set-file KEY=PATH)
        "#]],
    );
    // A --set-file value is text: where the schema wants a number, validation says so.
    check_error(
        &[("replicas.txt", "2\n")],
        &["render", "--set-file", "server.replicaCount=replicas.txt"],
        None,
        expect![[r#"
            error: --set-file server.replicaCount: server.replicaCount: expected integer, found string "2\n"
        "#]],
    );
    // A template file that is not JSON: the agent plugin says so (a plugin's problem, exit 1).
    check_failure(
        &[("template.json", "job_configuration: {}\n")],
        &[
            "--plugin",
            "agent",
            "render",
            "--set-file",
            "agent.config.baseJobTemplate.configuration=template.json",
        ],
        None,
        1,
        expect![[r#"
            error: plugin `agent`: --set-file agent.config.baseJobTemplate.configuration: agent.config.baseJobTemplate.configuration: a base job template given as text must be JSON (expected value at line 1 column 1): start from `prefect work-pool get-default-base-job-template --type kubernetes`
        "#]],
    );
}
