//! The plugin run in process, as the host runs it, after the server plugin's Service and
//! Deployment.

use expect_test::expect;
use prefect_plugin_sdk::serde_json::{Value, json};
use prefect_plugin_test::{Failure, Host, Rendered, messages};

use crate::Metrics;

/// The parts of the server plugin's Service and Deployment this plugin reads, as the server
/// plugin adds them; `env` is the server container's.
fn server(port: i32, env: Value) -> Vec<Value> {
    server_of("prefect", "prefect", port, env)
}

/// [`server`] of release `release` in `namespace`.
fn server_of(release: &str, namespace: &str, port: i32, env: Value) -> Vec<Value> {
    let name = format!("{release}-server");
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": name, "namespace": namespace },
            "spec": { "ports": [{ "name": "server-svc-port", "port": port }] },
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": name, "namespace": namespace },
            "spec": {
                "selector": { "matchLabels": { "app.kubernetes.io/name": name } },
                "template": { "spec": { "containers": [{ "name": "prefect-server", "env": env }] } },
            },
        }),
    ]
}

fn auth_ref() -> Value {
    json!({
        "name": "PREFECT_SERVER_API_AUTH_STRING",
        "valueFrom": { "secretKeyRef": { "name": "prefect-auth", "key": "auth-string" } },
    })
}

/// A cluster that serves the Prometheus Operator's API, besides the usual ones.
fn with_monitoring(host: Host) -> Host {
    host.api_versions(&["monitoring.coreos.com/v1"])
}

/// The plugin after the server plugin, with `values` as its section.
fn request(values: Value) -> Host {
    after(server(4200, json!([]))).values_json(json!({ "metrics": values }))
}

/// The plugin after the server plugin, which added `resources`.
fn after(resources: Vec<Value>) -> Host {
    Host::new().with_plugins(&["server"]).with_resources(resources)
}

fn run(host: Host) -> Result<Rendered, Failure> {
    host.run::<Metrics>()
}

fn item<'a>(rendered: &'a Rendered, kind: &str) -> &'a Value {
    rendered.get(kind, "prefect-metrics").unwrap_or_else(|| panic!("no {kind}"))
}

fn container(rendered: &Rendered) -> &Value {
    &item(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

/// `NAME=value` or `NAME<-secret/key`, one a line.
fn env(rendered: &Rendered) -> String {
    let mut text = String::new();
    for var in container(rendered)["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap();
        match var["valueFrom"]["secretKeyRef"].as_object() {
            Some(secret) => text.push_str(&format!(
                "{name}<-{}/{}\n",
                secret["name"].as_str().unwrap(),
                secret["key"].as_str().unwrap()
            )),
            None => text.push_str(&format!("{name}={}\n", var["value"].as_str().unwrap())),
        }
    }
    text
}

#[test]
fn the_exporter_and_the_operator_objects_when_the_cluster_serves_them() {
    let result = run(with_monitoring(request(json!({}))));
    assert_eq!(messages(&result), Vec::<String>::new());
    let response = result.unwrap();
    assert_eq!(
        response.added_names(),
        [
            "ServiceAccount/prefect-metrics",
            "Service/prefect-metrics",
            "Deployment/prefect-metrics",
            "PrometheusRule/prefect-metrics",
            "ServiceMonitor/prefect-metrics",
        ]
    );
    expect![[r#"
        {
          "apiVersion": "monitoring.coreos.com/v1",
          "kind": "ServiceMonitor",
          "metadata": {
            "name": "prefect-metrics",
            "namespace": "prefect",
            "labels": {
              "app.kubernetes.io/component": "metrics",
              "app.kubernetes.io/instance": "prefect",
              "app.kubernetes.io/managed-by": "prefectctl",
              "app.kubernetes.io/name": "prefect-metrics",
              "app.kubernetes.io/part-of": "prefect"
            }
          },
          "spec": {
            "selector": {
              "matchLabels": {
                "app.kubernetes.io/instance": "prefect",
                "app.kubernetes.io/name": "prefect-metrics"
              }
            },
            "endpoints": [
              {
                "port": "metrics",
                "path": "/metrics",
                "interval": "30s",
                "scrapeTimeout": "10s"
              }
            ]
          }
        }"#]]
    .assert_eq(
        &prefect_plugin_sdk::serde_json::to_string_pretty(item(&response, "ServiceMonitor"))
            .unwrap(),
    );
    // The Service's port is the one the ServiceMonitor names, and leads to the container's.
    let service = item(&response, "Service");
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(container(&response)["ports"][0]["name"], "metrics");
    assert_eq!(container(&response)["ports"][0]["containerPort"], 8000);
    let alerts: Vec<&str> = item(&response, "PrometheusRule")["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["alert"].as_str().unwrap())
        .collect();
    assert_eq!(alerts, ["PrefectExporterDown", "PrefectLateFlowRuns", "PrefectFlowRunsCrashed"]);
}

#[test]
fn the_default_alerts_select_the_release_by_job_and_namespace() {
    let host = after(server_of("ops", "data", 4200, json!([]))).release("ops", "data");
    let response = run(with_monitoring(host)).unwrap();
    let rules =
        &response.get("PrometheusRule", "ops-metrics").unwrap()["spec"]["groups"][0]["rules"];
    let exprs: Vec<&str> =
        rules.as_array().unwrap().iter().map(|rule| rule["expr"].as_str().unwrap()).collect();
    expect![[r#"
        [
            "absent(up{job=\"ops-metrics\", namespace=\"data\"} == 1)",
            "sum by (work_pool_name, work_queue_name) (prefect_work_queues_late_runs_count{job=\"ops-metrics\", namespace=\"data\"}) > 0",
            "count by (deployment_name, flow_name) (prefect_deployment_failed_flow_runs{job=\"ops-metrics\", namespace=\"data\", state_name=\"Crashed\"} unless on (last_failed_run_id) prefect_deployment_failed_flow_runs{job=\"ops-metrics\", namespace=\"data\", state_name=\"Crashed\"} offset 1h)",
        ]
    "#]]
    .assert_debug_eq(&exprs);
}

#[test]
fn without_the_monitoring_api_the_operator_objects_are_left_out_with_a_warning() {
    let result = run(request(json!({})));
    let response = result.as_ref().unwrap();
    assert_eq!(
        response.added_names(),
        ["ServiceAccount/prefect-metrics", "Service/prefect-metrics", "Deployment/prefect-metrics"]
    );
    expect![[r#"
        [
            "plugin `metrics`: values.yaml:2: metrics.serviceMonitor.enabled: the ServiceMonitor is left out: the cluster does not serve monitoring.coreos.com/v1 (the Prometheus Operator's CRDs); install the Prometheus Operator or its CRDs and apply again, pass --api-versions monitoring.coreos.com/v1 to render, or set serviceMonitor.enabled to false",
            "plugin `metrics`: values.yaml:2: metrics.prometheusRule.enabled: the PrometheusRule is left out: the cluster does not serve monitoring.coreos.com/v1 (the Prometheus Operator's CRDs); install the Prometheus Operator or its CRDs and apply again, pass --api-versions monitoring.coreos.com/v1 to render, or set prometheusRule.enabled to false",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));
    // Turned off, nothing to warn about.
    let off = run(request(
        json!({ "serviceMonitor": { "enabled": false }, "prometheusRule": { "enabled": false } }),
    ));
    assert_eq!(messages(&off), Vec::<String>::new());
}

#[test]
fn the_deployment_runs_the_exporter_restricted_with_probes_on_the_metrics_port() {
    let response = run(request(json!({}))).unwrap();
    let pod = &item(&response, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 65534);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["serviceAccountName"], "prefect-metrics");
    let container = container(&response);
    assert_eq!(container["image"], "prefecthq/prometheus-prefect-exporter:3.6.1");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["tcpSocket"]["port"], "metrics", "{probe}");
    }
    expect![[r#"
        PREFECT_API_URL=http://prefect-server.prefect.svc:4200/api
        METRICS_PORT=8000
        LOG_LEVEL=INFO
        OFFSET_MINUTES=3
        PAGINATION_ENABLED=True
        PAGINATION_LIMIT=200
    "#]]
    .assert_eq(&env(&response));
}

#[test]
fn basic_auth_is_the_servers_secret_reference_never_a_literal() {
    let response = run(after(server(4300, json!([auth_ref()])))).unwrap();
    expect![[r#"
        PREFECT_API_URL=http://prefect-server.prefect.svc:4300/api
        PREFECT_API_AUTH_STRING<-prefect-auth/auth-string
        METRICS_PORT=8000
        LOG_LEVEL=INFO
        OFFSET_MINUTES=3
        PAGINATION_ENABLED=True
        PAGINATION_LIMIT=200
    "#]]
    .assert_eq(&env(&response));
    let auth = container(&response)["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|var| var["name"] == "PREFECT_API_AUTH_STRING")
        .unwrap();
    assert!(auth.get("value").is_none(), "{auth}");

    // A credential written into the server's Deployment is not copied.
    let literal = json!([{ "name": "PREFECT_SERVER_API_AUTH_STRING", "value": "admin:hunter2" }]);
    let result = run(after(server(4200, literal)));
    assert!(result.is_err());
    expect![[r#"
        [
            "plugin `metrics`: the server's PREFECT_SERVER_API_AUTH_STRING is written in its Deployment, and the exporter reads credentials only from Secrets: use server.basicAuth.existingSecret (or server.basicAuth.authString) instead",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));
    assert!(!format!("{result:?}").contains("hunter2"));
}

#[test]
fn csrf_follows_the_server_and_the_values() {
    let csrf = json!([{ "name": "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "value": "True" }]);
    let response = run(after(server(4200, csrf))).unwrap();
    assert!(env(&response).contains("PREFECT_CSRF_ENABLED=True\n"));
    let response =
        run(request(json!({ "csrfAuth": true, "pagination": { "enabled": false } }))).unwrap();
    let env = env(&response);
    assert!(
        env.contains("PREFECT_CSRF_ENABLED=True\n") && env.contains("PAGINATION_ENABLED=False\n")
    );
    assert!(!env.contains("PAGINATION_LIMIT"), "{env}");
}

#[test]
fn user_env_replaces_the_plugins_settings() {
    let response = run(request(json!({ "env": [
        { "name": "OFFSET_MINUTES", "value": "10" },
        { "name": "ENABLE_FLOW_RUN_NAME_LABEL", "value": "True" },
    ] })))
    .unwrap();
    let env = env(&response);
    assert!(env.contains("OFFSET_MINUTES=10\n") && !env.contains("OFFSET_MINUTES=3"), "{env}");
    assert!(env.ends_with("ENABLE_FLOW_RUN_NAME_LABEL=True\n"), "{env}");
}

#[test]
fn values_errors_are_all_reported() {
    let result = run(with_monitoring(request(json!({
        "env": [{ "value": "no name" }],
        "serviceMonitor": { "interval": "30s", "scrapeTimeout": "1m", "relabelings": ["drop"] },
        "prometheusRule": { "rules": [
            { "alert": "Mine", "expr": "up == 0" },
            { "expr": "up" },
            { "alert": "Both", "record": "both", "expr": "" },
            "up == 0",
        ] },
    }))));
    assert!(result.is_err());
    expect![[r#"
        [
            "plugin `metrics`: values.yaml:4: metrics.env[0].name: `name` is missing: a Kubernetes EnvVar needs it here",
            "plugin `metrics`: values.yaml:10: metrics.serviceMonitor.scrapeTimeout: a scrape cannot take longer than the interval between scrapes (30s): shorten it or lengthen serviceMonitor.interval",
            "plugin `metrics`: values.yaml:12: metrics.serviceMonitor.relabelings[0]: a relabeling is a mapping, such as {action: drop, sourceLabels: [...], regex: ...}",
            "plugin `metrics`: values.yaml:21: metrics.prometheusRule.rules[1]: name the rule: `alert: Name` or `record: name`",
            "plugin `metrics`: values.yaml:24: metrics.prometheusRule.rules[2]: a rule either alerts or records: keep one",
            "plugin `metrics`: values.yaml:27: metrics.prometheusRule.rules[2].expr: give the rule its PromQL expression",
            "plugin `metrics`: values.yaml:29: metrics.prometheusRule.rules[3]: a rule is a mapping with `alert` (or `record`) and `expr`",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));

    let empty =
        run(with_monitoring(request(json!({ "prometheusRule": { "defaultRules": false } }))));
    expect![[r#"
        [
            "plugin `metrics`: values.yaml:3: metrics.prometheusRule: the PrometheusRule would hold no rule: set defaultRules to true, add rules, or set enabled to false",
        ]
    "#]]
    .assert_debug_eq(&messages(&empty));
}

#[test]
fn user_rules_follow_the_default_ones_and_labels_are_added() {
    let response = run(with_monitoring(request(json!({
        "serviceMonitor": { "additionalLabels": { "release": "kube-prometheus-stack" } },
        "prometheusRule": {
            "additionalLabels": { "release": "kube-prometheus-stack" },
            "rules": [{ "record": "prefect:late_runs:sum", "expr": "sum(prefect_work_queues_late_runs_count)" }],
        },
    }))))
    .unwrap();
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        assert_eq!(item(&response, kind)["metadata"]["labels"]["release"], "kube-prometheus-stack");
    }
    let rules = item(&response, "PrometheusRule")["spec"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[3]["record"], "prefect:late_runs:sum");
}

#[test]
fn without_the_servers_service_the_plugin_says_what_it_needs() {
    let result = run(after(vec![]));
    assert!(result.is_err());
    expect![[r#"
        [
            "plugin `metrics`: the exporter reads the server plugin's Service prefect-server, which is not in the graph: keep the server plugin in the stack",
        ]
    "#]]
    .assert_debug_eq(&messages(&result));
}

#[test]
fn durations_in_seconds() {
    use crate::monitor::seconds;
    assert_eq!(seconds("30s"), Some(30));
    assert_eq!(seconds("1m30s"), Some(90));
    assert_eq!(seconds("2h"), Some(7200));
    assert_eq!(seconds("500ms"), Some(0));
    assert_eq!(seconds("30"), None);
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::Metrics>());
}
