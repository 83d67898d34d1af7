//! The plugin run in process, as the host runs it, with and without a server plugin before it.

use expect_test::{Expect, expect};
use prefect_plugin_sdk::serde_json::{self, Value, json};
use prefect_plugin_test::Host;

use crate::Agent;

/// The server plugin's Service and Deployment as it adds them (the parts the agent reads).
fn server_items(port: i64, basic_auth: bool) -> Vec<Value> {
    let mut env = vec![json!({ "name": "PREFECT_SERVER_API_HOST", "value": "0.0.0.0" })];
    if basic_auth {
        env.push(json!({
            "name": "PREFECT_SERVER_API_AUTH_STRING",
            "valueFrom": { "secretKeyRef": { "name": "prefect-server-basic-auth", "key": "auth-string" } },
        }));
    }
    vec![
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": "prefect-server", "namespace": "prefect" },
            "spec": { "ports": [{ "name": "server-svc-port", "port": port }] },
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "prefect-server", "namespace": "prefect" },
            "spec": {
                "selector": {},
                "template": { "spec": { "containers": [{ "name": "prefect-server", "env": env }] } },
            },
        }),
    ]
}

/// A run through prefect-plugin-test as these tests read it: what the plugin added, in the
/// order prefectctl writes it, and the warnings of a run that succeeded or the errors of one
/// that failed, as prefectctl prints them.
#[derive(Debug)]
struct Run {
    items: Vec<Value>,
    results: Vec<String>,
}

fn run(host: Host) -> Run {
    match host.run::<Agent>() {
        Ok(rendered) => {
            let items = rendered.added().into_iter().cloned().collect();
            Run { items, results: rendered.warnings }
        }
        Err(failure) => Run { items: Vec::new(), results: failure.0 },
    }
}

fn with_server(values: Value) -> Run {
    run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, false))
        .values_json(json!({ "agent": values })))
}

fn alone(values: Value) -> Run {
    run(Host::new().values_json(json!({ "agent": values })))
}

fn kinds(response: &Run) -> Vec<String> {
    response
        .items
        .iter()
        .map(|i| {
            format!(
                "{} {}/{}",
                i["apiVersion"].as_str().unwrap(),
                i["kind"].as_str().unwrap(),
                i["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn item<'a>(response: &'a Run, kind: &str) -> &'a Value {
    response
        .items
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(response)))
}

fn container(response: &Run) -> &Value {
    &item(response, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

/// `NAME=value` or `NAME<-secret/key`, one a line.
fn env(response: &Run) -> String {
    container(response)["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| match var.get("value") {
            Some(value) => format!("{}={}", var["name"].as_str().unwrap(), value.as_str().unwrap()),
            None => {
                let from = &var["valueFrom"]["secretKeyRef"];
                format!(
                    "{}<-{}/{}",
                    var["name"].as_str().unwrap(),
                    from["name"].as_str().unwrap(),
                    from["key"].as_str().unwrap()
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn args(response: &Run) -> String {
    let args: Vec<&str> = container(response)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    args.join(" ")
}

fn check_problems(response: Run, expect: Expect) {
    expect.assert_eq(&response.results.join("\n"));
}

#[test]
fn with_the_server_in_the_stack_the_worker_needs_no_configuration() {
    let response = with_server(json!({}));
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        [
            "v1 ServiceAccount/prefect-worker",
            "rbac.authorization.k8s.io/v1 Role/prefect-worker",
            "rbac.authorization.k8s.io/v1 RoleBinding/prefect-worker",
            "apps/v1 Deployment/prefect-worker",
        ]
    "#]]
    .assert_debug_eq(&kinds(&response));
    expect![[r#"
        HOME=/home/prefect
        PREFECT_API_URL=http://prefect-server.prefect.svc:4200/api
        PREFECT_WORKER_QUERY_SECONDS=5
        PREFECT_KUBERNETES_CLUSTER_UID=prefect/prefect
        PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES=prefect
        PREFECT_WORKER_WEBSERVER_HOST=0.0.0.0
        PREFECT_WORKER_WEBSERVER_PORT=8080"#]]
    .assert_eq(&env(&response));
    expect!["prefect worker start --type kubernetes --pool kubernetes --install-policy if-not-present --base-job-template /tmp/prefectctl-base-job-template.json --prefetch-seconds 10 --with-healthcheck"].assert_eq(&args(&response));
    assert_eq!(container(&response)["image"], "prefecthq/prefect:3.9.1-python3.12-kubernetes");
    assert_eq!(item(&response, "ServiceAccount")["automountServiceAccountToken"], true);
}

#[test]
fn the_worker_follows_the_servers_port_and_basic_auth() {
    let response =
        run(Host::new().with_plugins(&["server"]).with_resources(server_items(8080, true)));
    let env = env(&response);
    assert!(env.contains("PREFECT_API_URL=http://prefect-server.prefect.svc:8080/api"), "{env}");
    assert!(
        env.contains("PREFECT_API_AUTH_STRING<-prefect-server-basic-auth/auth-string"),
        "{env}"
    );
}

#[test]
fn the_role_is_namespaced_and_least_privilege_plus_extra_permissions() {
    let response = with_server(json!({
        "role": { "extraPermissions": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"] }] },
    }));
    expect![[r#"[{"apiGroups":[""],"resources":["pods","pods/log","pods/status"],"verbs":["get","list","watch"]},{"apiGroups":["batch"],"resources":["jobs"],"verbs":["get","list","watch","create","update","patch","delete"]},{"apiGroups":[""],"resources":["events"],"verbs":["get","list","watch"]},{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}]"#]].assert_eq(&serde_json::to_string(&item(&response, "Role")["rules"]).unwrap());
    let binding = item(&response, "RoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(
        binding["subjects"][0],
        json!({ "kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect" })
    );

    let none =
        with_server(json!({ "role": { "create": false }, "rolebinding": { "create": false } }));
    assert!(!kinds(&none).iter().any(|k| k.contains("Role")), "{:?}", kinds(&none));
}

#[test]
fn without_a_server_the_worker_must_be_told_where_to_go() {
    check_problems(
        alone(json!({})),
        expect![
            "plugin `agent`: values.yaml:2: agent.apiConfig: the worker needs a Prefect API, and there is no server plugin in the stack: add it (--plugin server), set serverApiConfig.apiUrl to your server, or set apiConfig to cloud with cloudApiConfig"
        ],
    );
}

#[test]
fn prefect_cloud() {
    let response = alone(json!({
        "apiConfig": "cloud",
        "cloudApiConfig": { "accountId": "acc-1", "workspaceId": "ws-2" },
        "config": { "workPool": "k8s", "workQueues": ["high", "low"], "limit": 5 },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let env = env(&response);
    assert!(
        env.contains(
            "PREFECT_API_URL=https://api.prefect.cloud/api/accounts/acc-1/workspaces/ws-2"
        ),
        "{env}"
    );
    assert!(env.contains("PREFECT_API_KEY<-prefect-api-key/key"), "{env}");
    expect!["prefect worker start --type kubernetes --pool k8s --work-queue high --work-queue low --install-policy if-not-present --base-job-template /tmp/prefectctl-base-job-template.json --limit 5 --prefetch-seconds 10 --with-healthcheck"].assert_eq(&args(&response));

    check_problems(
        alone(json!({ "apiConfig": "cloud" })),
        expect![[r#"
            plugin `agent`: values.yaml:2: agent.cloudApiConfig.accountId: empty, and Prefect Cloud needs it: take it from the workspace's URL, app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>
            plugin `agent`: values.yaml:2: agent.cloudApiConfig.workspaceId: empty, and Prefect Cloud needs it: take it from the workspace's URL, app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>"#]],
    );
}

#[test]
fn a_self_hosted_server_with_basic_auth() {
    let response = alone(json!({
        "serverApiConfig": {
            "apiUrl": "https://prefect.example.com/api",
            "basicAuth": { "enabled": true, "authString": "admin:s3cr3t" },
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let env = env(&response);
    assert!(env.contains("PREFECT_API_URL=https://prefect.example.com/api"), "{env}");
    assert!(
        env.contains("PREFECT_API_AUTH_STRING<-prefect-worker-basic-auth/auth-string"),
        "{env}"
    );
    assert_eq!(item(&response, "Secret")["metadata"]["name"], "prefect-worker-basic-auth");

    check_problems(
        alone(
            json!({ "serverApiConfig": { "apiUrl": "prefect:4200", "basicAuth": { "enabled": true } } }),
        ),
        expect![[r#"
            plugin `agent`: values.yaml:4: agent.serverApiConfig.apiUrl: give the URL of the server's API, such as https://prefect.example.com/api (not "prefect:4200")
            plugin `agent`: values.yaml:5: agent.serverApiConfig.basicAuth: basic auth is enabled without credentials: set existingSecret (a Secret with the key `auth-string`) or authString"#]],
    );
}

/// The variables that tell prefect-kubernetes which Secret a flow-run Job reads a credential
/// from, instead of copying the worker's value into the Job.
fn job_secret_settings(response: &Run) -> String {
    env(response)
        .lines()
        .filter(|line| line.starts_with("PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn flow_run_jobs_read_the_stack_servers_basic_auth_from_its_secret() {
    let response =
        run(Host::new().with_plugins(&["server"]).with_resources(server_items(4200, true)));
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME=prefect-server-basic-auth
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY=auth-string"#]]
    .assert_eq(&job_secret_settings(&response));

    let without_auth = with_server(json!({}));
    assert_eq!(job_secret_settings(&without_auth), "");
}

#[test]
fn flow_run_jobs_read_an_external_servers_basic_auth_from_its_secret() {
    let inline = alone(json!({
        "serverApiConfig": {
            "apiUrl": "https://prefect.example.com/api",
            "basicAuth": { "enabled": true, "authString": "admin:s3cr3t" },
        },
    }));
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME=prefect-worker-basic-auth
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY=auth-string"#]]
    .assert_eq(&job_secret_settings(&inline));

    let existing = alone(json!({
        "serverApiConfig": {
            "apiUrl": "https://prefect.example.com/api",
            "basicAuth": { "enabled": true, "existingSecret": "prefect-auth" },
        },
    }));
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME=prefect-auth
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY=auth-string"#]]
    .assert_eq(&job_secret_settings(&existing));
}

#[test]
fn flow_run_jobs_read_the_cloud_api_key_from_its_secret() {
    let response = alone(json!({
        "apiConfig": "cloud",
        "cloudApiConfig": {
            "accountId": "acc-1",
            "workspaceId": "ws-2",
            "apiKeySecret": { "name": "cloud-key", "key": "pnu" },
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=cloud-key
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY=pnu"#]]
    .assert_eq(&job_secret_settings(&response));
}

#[test]
fn the_job_secret_settings_follow_the_credential_the_worker_really_uses() {
    // Only the Kubernetes worker creates Jobs.
    let process = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, true))
        .values_json(json!({ "agent": { "config": { "type": "process" } } })));
    assert_eq!(job_secret_settings(&process), "");

    // A credential from extraEnvVars replaces the plugin's, Secret and all.
    let replaced = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, true))
        .values_json(json!({ "agent": { "extraEnvVars": [{
            "name": "PREFECT_API_AUTH_STRING",
            "valueFrom": { "secretKeyRef": { "name": "mine", "key": "auth" } },
        }] } })));
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME=mine
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY=auth"#]]
    .assert_eq(&job_secret_settings(&replaced));

    // A literal credential has no Secret to name; the user's own settings stay as they are.
    let literal = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, true))
        .values_json(json!({ "agent": { "extraEnvVars": [
            { "name": "PREFECT_API_AUTH_STRING", "value": "admin:pw" },
            { "name": "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME", "value": "k" },
        ] } })));
    expect!["PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=k"]
        .assert_eq(&job_secret_settings(&literal));
}

const PREFECT_2_TAG: &str = "2.20.27-python3.11-kubernetes";

fn cloud_values(mut values: Value) -> Value {
    values["apiConfig"] = json!("cloud");
    values["cloudApiConfig"] = json!({ "accountId": "acc-1", "workspaceId": "ws-2" });
    values
}

fn prefect_2_server_values(mut values: Value) -> Value {
    values["serverApiConfig"] = json!({ "apiUrl": "https://prefect2.example.com/api" });
    values
}

#[test]
fn legacy_agent_mode_needs_a_prefect_2_image() {
    let agent = json!({ "mode": "agent", "image": { "prefectTag": PREFECT_2_TAG } });
    let response = alone(prefect_2_server_values(agent.clone()));
    assert_eq!(response.results, Vec::<String>::new());
    expect!["prefect agent start --work-queue default --prefetch-seconds 10"]
        .assert_eq(&args(&response));
    assert!(env(&response).contains("PREFECT_AGENT_QUERY_INTERVAL=5"));
    assert_eq!(container(&response)["image"], "prefecthq/prefect:2.20.27-python3.11-kubernetes");
    assert_eq!(alone(cloud_values(agent)).results, Vec::<String>::new());

    check_problems(
        alone(prefect_2_server_values(json!({ "mode": "agent" }))),
        expect![
            "plugin `agent`: values.yaml:2: agent.image.prefectTag: agent mode runs Prefect 2's `prefect agent start`, which Prefect 3 removed: set a Prefect 2 image tag, such as 2.20.27-python3.11-kubernetes, or use mode: worker"
        ],
    );
}

#[test]
fn a_prefect_2_agent_cannot_use_the_stacks_prefect_3_server() {
    check_problems(
        with_server(json!({ "mode": "agent", "image": { "prefectTag": PREFECT_2_TAG } })),
        expect![
            "plugin `agent`: values.yaml:3: agent.mode: a Prefect 2 agent cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): use mode: worker with a Prefect 3 image, or point the agent at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );
}

#[test]
fn a_prefect_2_worker_cannot_use_the_stacks_prefect_3_server() {
    check_problems(
        with_server(json!({ "image": { "prefectTag": PREFECT_2_TAG } })),
        expect![
            "plugin `agent`: values.yaml:4: agent.image.prefectTag: the worker's image tag 2.20.27-python3.11-kubernetes is Prefect 2, which cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): set a Prefect 3 tag in agent.image.prefectTag, or leave it empty for the global one; or point the worker at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );
    let global_2 = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, false))
        .values_json(
            json!({ "global": { "prefect": { "image": { "prefectTag": "2.20.27-python3.11" } } } }),
        ));
    check_problems(
        global_2,
        expect![
            "plugin `agent`: agent.image.prefectTag: the worker's image tag 2.20.27-python3.11-kubernetes (from global.prefect.image.prefectTag) is Prefect 2, which cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): set a Prefect 3 tag in global.prefect.image.prefectTag or agent.image.prefectTag; or point the worker at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );

    // A Prefect 2 worker elsewhere is the user's to choose; a Prefect 3 one here is fine.
    let worker_2 = json!({ "image": { "prefectTag": PREFECT_2_TAG } });
    assert_eq!(alone(prefect_2_server_values(worker_2.clone())).results, Vec::<String>::new());
    assert_eq!(alone(cloud_values(worker_2)).results, Vec::<String>::new());
    assert_eq!(
        with_server(json!({ "image": { "prefectTag": "3.4.0-python3.12" } })).results,
        Vec::<String>::new()
    );
}

#[test]
fn autoscaler_and_disruption_budget_follow_the_clusters_api_versions() {
    let values = json!({
        "autoscaling": { "enabled": true, "maxReplicas": 4, "targetMemoryUtilizationPercentage": 70 },
        "podDisruptionBudget": { "enabled": true, "maxUnavailable": "50%" },
    });
    let new = with_server(values.clone());
    assert_eq!(new.results, Vec::<String>::new());
    assert!(
        item(&new, "Deployment")["spec"].get("replicas").is_none(),
        "the autoscaler sets replicas"
    );
    let hpa = item(&new, "HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    expect![[r#"{"maxReplicas":4,"metrics":[{"resource":{"name":"cpu","target":{"averageUtilization":80,"type":"Utilization"}},"type":"Resource"},{"resource":{"name":"memory","target":{"averageUtilization":70,"type":"Utilization"}},"type":"Resource"}],"minReplicas":1,"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"prefect-worker"}}"#]].assert_eq(&serde_json::to_string(&hpa["spec"]).unwrap());
    let pdb = item(&new, "PodDisruptionBudget");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(pdb["spec"]["maxUnavailable"], "50%");

    let old = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, false))
        .kubernetes("1.20.2", &["v1", "apps/v1", "autoscaling/v2beta2", "policy/v1beta1"])
        .values_json(json!({ "agent": values })));
    assert_eq!(item(&old, "HorizontalPodAutoscaler")["apiVersion"], "autoscaling/v2beta2");
    assert_eq!(item(&old, "PodDisruptionBudget")["apiVersion"], "policy/v1beta1");
    assert_eq!(item(&old, "HorizontalPodAutoscaler")["spec"], hpa["spec"]);

    check_problems(
        with_server(
            json!({ "podDisruptionBudget": { "enabled": true, "minAvailable": 1, "maxUnavailable": "150%" } }),
        ),
        expect![[
            r#"plugin `agent`: values.yaml:6: agent.podDisruptionBudget.maxUnavailable: give a number of pods, such as 1, or a percentage, such as "50%""#
        ]],
    );
}

#[test]
fn a_base_job_template_is_mounted_from_a_config_map() {
    let template = json!({ "job_configuration": { "namespace": "{{ namespace }}" }, "variables": { "properties": { "namespace": { "default": "prefect" } } } });
    let response =
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": template } } }));
    assert_eq!(response.results, Vec::<String>::new());
    let map = item(&response, "ConfigMap");
    assert_eq!(map["metadata"]["name"], "prefect-worker-base-job-template");
    let stored: Value =
        serde_json::from_str(map["data"]["baseJobTemplate.json"].as_str().unwrap()).unwrap();
    assert_eq!(stored, template);
    assert!(
        args(&response)
            .contains("--base-job-template /etc/prefect/base-job-template/baseJobTemplate.json")
    );

    // The same template as the text of a JSON file, as `--set-file` gives it.
    let text = format!("{template:#}\n");
    let from_file =
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": text } } }));
    assert_eq!(from_file.results, Vec::<String>::new());
    assert_eq!(item(&from_file, "ConfigMap"), map);
    assert_eq!(item(&from_file, "Deployment"), item(&response, "Deployment"));
    check_problems(
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": "{\"a\": 1,}" } } })),
        expect![
            "plugin `agent`: values.yaml:5: agent.config.baseJobTemplate.configuration: a base job template given as text must be JSON (trailing comma at line 1 column 9): start from `prefect work-pool get-default-base-job-template --type kubernetes`"
        ],
    );
    check_problems(
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": "[1]" } } })),
        expect![
            "plugin `agent`: values.yaml:5: agent.config.baseJobTemplate.configuration: a base job template is a mapping with `job_configuration` and `variables`: start from `prefect work-pool get-default-base-job-template --type kubernetes`"
        ],
    );

    let existing = with_server(
        json!({ "config": { "baseJobTemplate": { "existingConfigMapName": "mine" } } }),
    );
    let volumes = item(&existing, "Deployment")["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains(r#""configMap":{"name":"mine"}"#), "{volumes}");

    check_problems(
        with_server(
            json!({ "config": { "baseJobTemplate": { "configuration": { "a": 1 }, "existingConfigMapName": "mine" } } }),
        ),
        expect![[r#"
            plugin `agent`: values.yaml:5: agent.config.baseJobTemplate.configuration: a base job template is a mapping with `job_configuration` and `variables`: start from `prefect work-pool get-default-base-job-template --type kubernetes`
            plugin `agent`: values.yaml:8: agent.config.baseJobTemplate.existingConfigMapName: set either configuration or existingConfigMapName, not both"#]],
    );
}

fn pod(response: &Run) -> &Value {
    &item(response, "Deployment")["spec"]["template"]
}

fn init_containers(response: &Run) -> Vec<&Value> {
    pod(response)["spec"]["initContainers"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn template_checksum(response: &Run) -> Option<&str> {
    pod(response)["metadata"]["annotations"]["checksum/base-job-template"].as_str()
}

const TEMPLATE: &str = "/etc/prefect/base-job-template/baseJobTemplate.json";

fn a_template(namespace: &str) -> Value {
    json!({
        "job_configuration": { "namespace": "{{ namespace }}" },
        "variables": { "properties": { "namespace": { "default": namespace } } },
    })
}

#[test]
fn a_base_job_template_reaches_an_existing_pool_through_an_init_container() {
    let response = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, true))
        .values_json(json!({ "agent": { "config": {
            "workPool": "team pool",
            "baseJobTemplate": { "configuration": a_template("prefect") },
        } } })));
    assert_eq!(response.results, Vec::<String>::new());
    let [sync] = init_containers(&response)[..] else {
        panic!("one init container: {:?}", init_containers(&response));
    };
    let main = container(&response);
    assert_eq!(sync["name"], "sync-base-job-template");
    // Whatever reaches the API for the worker reaches it for the sync: the same env (with
    // the credentials from their Secret, and the user's extra variables) and mounts.
    for same in ["image", "imagePullPolicy", "securityContext", "workingDir", "env", "volumeMounts"]
    {
        assert_eq!(sync[same], main[same], "{same}");
    }
    let env = sync["env"].as_array().unwrap();
    assert!(env.contains(&json!({ "name": "PREFECT_API_URL", "value": "http://prefect-server.prefect.svc:4200/api" })), "{env:?}");
    assert!(env.contains(&json!({ "name": "PREFECT_API_AUTH_STRING", "valueFrom": { "secretKeyRef": { "name": "prefect-server-basic-auth", "key": "auth-string" } } })), "{env:?}");
    assert!(sync["volumeMounts"].as_array().unwrap().contains(
        &json!({ "name": "base-job-template", "mountPath": "/etc/prefect/base-job-template", "readOnly": true })
    ));
    // The pool's name is a value: it reaches the script as an argument, never inside it.
    let command: Vec<&str> =
        sync["command"].as_array().unwrap().iter().map(|part| part.as_str().unwrap()).collect();
    let ["/bin/sh", "-c", script, "sync-base-job-template", "team pool", TEMPLATE] = command[..]
    else {
        panic!("not `/bin/sh -c SCRIPT NAME POOL FILE`: {command:?}");
    };
    assert!(!script.contains("team pool"), "{script}");

    let existing = with_server(
        json!({ "config": { "baseJobTemplate": { "existingConfigMapName": "mine" } } }),
    );
    assert_eq!(init_containers(&existing).len(), 1);
    assert_eq!(init_containers(&existing)[0]["command"][4], "kubernetes");

    let without = with_server(json!({}));
    assert_eq!(init_containers(&without)[0]["name"], "default-base-job-template");
    let agent_mode = alone(json!({
        "mode": "agent",
        "image": { "prefectTag": "2.20.27-python3.11-kubernetes" },
        "serverApiConfig": { "apiUrl": "https://prefect2.example.com/api" },
        "config": { "baseJobTemplate": { "existingConfigMapName": "mine" } },
    }));
    assert_eq!(agent_mode.results, Vec::<String>::new());
    assert_eq!(init_containers(&agent_mode).len(), 0, "Prefect 2's agent has no work pools");
    // Nor a health check: the probes, on by default, are left out in agent mode.
    let agent = container(&agent_mode);
    assert!(agent.get("livenessProbe").is_none() && agent.get("readinessProbe").is_none());
    assert!(!args(&agent_mode).contains("--with-healthcheck"), "{}", args(&agent_mode));
}

/// A `prefect` that logs its arguments to `$FAKE_LOG` and knows one pool, `$FAKE_POOL`:
/// `inspect` of another fails as Prefect's does. Its first `inspect` finds the API down when
/// `$FAKE_DOWN_ONCE` is set.
#[cfg(unix)]
const FAKE_PREFECT: &str = r#"#!/bin/sh
printf '%s|' "$@" >> "$FAKE_LOG"
echo >> "$FAKE_LOG"
if [ -n "$FAKE_DOWN_ONCE" ] && [ ! -e down ]; then
  touch down
  echo "httpx.ConnectError: All connection attempts failed"
  exit 1
fi
if [ "$1 $2" = "work-pool inspect" ] && [ "$3" != "$FAKE_POOL" ]; then
  echo "Work pool '$3' not found!"
  exit 1
fi
"#;

/// A `sleep` that only says it slept.
#[cfg(unix)]
const FAKE_SLEEP: &str = r#"#!/bin/sh
printf 'sleep|%s|\n' "$@" >> "$FAKE_LOG"
"#;

/// The sync script run by `sh`, with [`FAKE_PREFECT`] knowing the pool `known` first on the
/// PATH: what it ran, one command a line.
#[cfg(unix)]
fn run_sync_script(script: &str, pool: &str, known: &str, down_once: bool) -> String {
    use std::{
        os::unix::fs::PermissionsExt,
        process::Command,
        sync::atomic::{AtomicUsize, Ordering},
    };

    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "prefectctl-agent-sync-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [("prefect", FAKE_PREFECT), ("sleep", FAKE_SLEEP)] {
        let fake = dir.join(name);
        std::fs::write(&fake, text).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = dir.join("log");
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("/bin/sh")
        .args(["-c", script, "sync-base-job-template", pool, TEMPLATE])
        .env("PATH", path)
        .env("FAKE_LOG", &log)
        .env("FAKE_POOL", known)
        .env("FAKE_DOWN_ONCE", if down_once { "1" } else { "" })
        .current_dir(&dir)
        .status()
        .unwrap();
    let ran = std::fs::read_to_string(&log).unwrap_or_default();
    let left = std::fs::read_dir(&dir).unwrap().count();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "the script fails: {status}");
    let expected = if down_once { 4 } else { 3 };
    assert_eq!(left, expected, "the script made files of its own (a pool name run as a command?)");
    ran
}

#[cfg(unix)]
#[test]
fn the_sync_updates_a_pool_that_exists_and_leaves_a_new_one_to_the_worker() {
    let pool = "it's a \"pool\"; touch pwned $(id)";
    let response = with_server(json!({ "config": {
        "workPool": pool,
        "baseJobTemplate": { "configuration": a_template("prefect") },
    } }));
    let script = init_containers(&response)[0]["command"][2].as_str().unwrap().to_owned();

    expect![[r#"
        work-pool|inspect|it's a "pool"; touch pwned $(id)|
        work-pool|update|it's a "pool"; touch pwned $(id)|--base-job-template|/etc/prefect/base-job-template/baseJobTemplate.json|
    "#]]
    .assert_eq(&run_sync_script(&script, pool, pool, false));
    expect![[r#"
        work-pool|inspect|it's a "pool"; touch pwned $(id)|
    "#]]
    .assert_eq(&run_sync_script(&script, pool, "another", false));
    // An API that does not answer yet is waited for: the template is never skipped.
    expect![[r#"
        work-pool|inspect|it's a "pool"; touch pwned $(id)|
        sleep|5|
        work-pool|inspect|it's a "pool"; touch pwned $(id)|
        work-pool|update|it's a "pool"; touch pwned $(id)|--base-job-template|/etc/prefect/base-job-template/baseJobTemplate.json|
    "#]]
    .assert_eq(&run_sync_script(&script, pool, pool, true));
}

#[test]
fn a_pool_the_worker_creates_without_a_template_runs_flows_in_the_release_namespace() {
    let response = with_server(json!({}));
    assert_eq!(response.results, Vec::<String>::new());
    let [default] = init_containers(&response)[..] else {
        panic!("one init container: {:?}", init_containers(&response));
    };
    let main = container(&response);
    for same in ["image", "imagePullPolicy", "securityContext", "workingDir", "env", "volumeMounts"]
    {
        assert_eq!(default[same], main[same], "{same}");
    }
    let command: Vec<&str> =
        default["command"].as_array().unwrap().iter().map(|part| part.as_str().unwrap()).collect();
    let ["/bin/sh", "-c", script, "default-base-job-template", "prefect", DEFAULT_TEMPLATE] =
        command[..]
    else {
        panic!("not `/bin/sh -c SCRIPT NAME NAMESPACE FILE`: {command:?}");
    };
    assert!(args(&response).contains(&format!("--base-job-template {DEFAULT_TEMPLATE}")));
    // No ConfigMap and no sync: a pool that exists keeps its template.
    assert!(response.items.iter().all(|r| r["kind"] != "ConfigMap"));
    #[cfg(unix)]
    assert_eq!(
        run_default_script(script, "team-ns")["variables"]["properties"]["namespace"]["default"],
        "team-ns"
    );

    // Only a Kubernetes worker makes Jobs.
    let process = with_server(json!({ "config": { "type": "process" } }));
    assert_eq!(init_containers(&process).len(), 0);
    assert!(!args(&process).contains("--base-job-template"));
}

const DEFAULT_TEMPLATE: &str = "/tmp/prefectctl-base-job-template.json";

/// The default-template script run by `sh` with a `prefect` that writes a template as
/// Prefect's does and the machine's Python: the template it leaves.
#[cfg(unix)]
fn run_default_script(script: &str, namespace: &str) -> Value {
    use std::{os::unix::fs::PermissionsExt, process::Command};

    let dir = std::env::temp_dir().join(format!("prefectctl-agent-default-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake_prefect = r#"#!/bin/sh
[ "$1 $2 $3 $4 $5" = "work-pool get-default-base-job-template --type kubernetes --file" ] || exit 9
printf '%s' '{"job_configuration": {"namespace": "{{ namespace }}"}, "variables": {"properties": {"namespace": {"default": "default"}}}}' > "$6"
"#;
    for (name, text) in [("prefect", fake_prefect), ("python", "#!/bin/sh\nexec python3 \"$@\"\n")]
    {
        let fake = dir.join(name);
        std::fs::write(&fake, text).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = dir.join("template.json");
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("/bin/sh")
        .args(["-c", script, "default-base-job-template", namespace])
        .arg(&file)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "the script fails: {}", String::from_utf8_lossy(&out.stderr));
    let template = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    template
}

#[test]
fn a_changed_inline_template_rolls_the_worker_pods() {
    use sha2::{Digest, Sha256};

    let values = |namespace: &str| json!({ "config": { "baseJobTemplate": { "configuration": a_template(namespace) } } });
    let first = with_server(values("prefect"));
    let text = item(&first, "ConfigMap")["data"]["baseJobTemplate.json"].as_str().unwrap();
    let expected: String =
        Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(template_checksum(&first), Some(expected.as_str()));

    assert_eq!(template_checksum(&with_server(values("prefect"))), template_checksum(&first));
    let changed = with_server(values("flows"));
    assert_ne!(template_checksum(&changed), template_checksum(&first));
    assert!(template_checksum(&changed).is_some());

    // The content of an existing ConfigMap is not the plugin's to see.
    let existing = with_server(
        json!({ "config": { "baseJobTemplate": { "existingConfigMapName": "mine" } } }),
    );
    assert_eq!(template_checksum(&existing), None);
    assert_eq!(template_checksum(&with_server(json!({}))), None);
}

#[test]
fn health_check_cluster_uid_and_extra_env() {
    let response = with_server(json!({
        "livenessProbe": { "enabled": true },
        "clusterUid": "0b7d3b8e-1111-2222-3333-444455556666",
        "extraEnvVars": [{ "name": "PREFECT_WORKER_QUERY_SECONDS", "value": "30" }, { "name": "EXTRA", "value": "x" }],
    }));
    assert_eq!(response.results, Vec::<String>::new());
    assert!(args(&response).ends_with("--with-healthcheck"));
    let env = env(&response);
    assert!(
        env.contains("PREFECT_KUBERNETES_CLUSTER_UID=0b7d3b8e-1111-2222-3333-444455556666"),
        "{env}"
    );
    assert!(
        env.contains("PREFECT_WORKER_QUERY_SECONDS=30")
            && !env.contains("PREFECT_WORKER_QUERY_SECONDS=5"),
        "{env}"
    );
    assert!(env.ends_with("EXTRA=x"), "{env}");
    let c = container(&response);
    assert_eq!(c["livenessProbe"]["httpGet"], json!({ "path": "/health", "port": "health" }));
    assert_eq!(c["ports"][0]["containerPort"], 8080);
}

#[test]
fn empty_required_values_are_refused_at_their_value_paths() {
    check_problems(
        with_server(json!({ "config": { "workPool": " " } })),
        expect![
            "plugin `agent`: values.yaml:4: agent.config.workPool: the worker needs a work pool to poll: name one, such as kubernetes (the worker creates it if it does not exist)"
        ],
    );
    // Prefect 2's agent polls queues, not pools.
    let agent = alone(prefect_2_server_values(json!({
        "mode": "agent",
        "image": { "prefectTag": PREFECT_2_TAG },
        "config": { "workPool": "" },
    })));
    assert_eq!(agent.results, Vec::<String>::new());

    check_problems(
        alone(json!({ "serverApiConfig": { "apiUrl": "https://" } })),
        expect![[
            r#"plugin `agent`: values.yaml:4: agent.serverApiConfig.apiUrl: give the URL of the server's API, such as https://prefect.example.com/api (not "https://")"#
        ]],
    );
    check_problems(
        alone(json!({
            "apiConfig": "cloud",
            "cloudApiConfig": {
                "accountId": "acc-1",
                "workspaceId": " ",
                "cloudUrl": "",
                "apiKeySecret": { "name": "", "key": "key" },
            },
        })),
        expect![[r#"
            plugin `agent`: values.yaml:7: agent.cloudApiConfig.cloudUrl: give the URL of the Cloud's API, such as https://prefect.example.com/api (it is empty)
            plugin `agent`: values.yaml:6: agent.cloudApiConfig.workspaceId: empty, and Prefect Cloud needs it: take it from the workspace's URL, app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>
            plugin `agent`: values.yaml:9: agent.cloudApiConfig.apiKeySecret.name: empty, and Prefect Cloud needs it: name the existing Secret that holds the API key (kubectl create secret generic prefect-api-key --from-literal=key=pnu_...) and its key"#]],
    );
    check_problems(
        alone(json!({ "apiConfig": "customerManagedCloud" })),
        expect![[r#"
            plugin `agent`: values.yaml:2: agent.customerManagedCloudApiConfig.apiUrl: give the URL of the Cloud's API, such as https://prefect.example.com/api (it is empty)
            plugin `agent`: values.yaml:2: agent.customerManagedCloudApiConfig.accountId: empty, and Prefect Cloud needs it: take it from the workspace's URL, app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>
            plugin `agent`: values.yaml:2: agent.customerManagedCloudApiConfig.workspaceId: empty, and Prefect Cloud needs it: take it from the workspace's URL, app.prefect.cloud/account/<accountId>/workspaces/<workspaceId>"#]],
    );
}

fn pod_spec(response: &Run) -> &Value {
    &pod(response)["spec"]
}

#[test]
fn command_and_args_replace_the_start_command_and_empty_keeps_it() {
    let default = with_server(json!({}));
    let response = with_server(json!({
        "command": ["/bin/sh", "-c"],
        "args": ["exec prefect worker start --pool mine --with-healthcheck"],
        "extraArgs": ["--ignored"],
    }));
    assert_eq!(response.results, Vec::<String>::new());
    assert_eq!(container(&response)["command"], json!(["/bin/sh", "-c"]));
    assert_eq!(
        container(&response)["args"],
        json!(["exec prefect worker start --pool mine --with-healthcheck"])
    );
    assert_eq!(
        container(&default)["command"],
        json!(["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"])
    );
    assert_eq!(
        with_server(json!({ "command": [], "args": [] })).items,
        default.items,
        "empty is today's command"
    );
    // Only the start command: the environment is the worker's either way.
    assert_eq!(container(&response)["env"], container(&default)["env"]);

    let args_only = with_server(json!({ "args": ["prefect", "worker", "start", "--pool", "p"] }));
    assert_eq!(container(&args_only)["command"], container(&default)["command"]);
    // The probes need the health check the plugin's own arguments turn on.
    check_problems(
        args_only,
        expect![
            "plugin `agent`: values.yaml:3: agent.args: the probes ask the worker's health check, which answers only with --with-healthcheck: add it to args, or turn livenessProbe and readinessProbe off, or the pods will never be ready"
        ],
    );
    let unprobed = with_server(json!({
        "args": ["prefect", "worker", "start", "--pool", "p"],
        "livenessProbe": { "enabled": false },
        "readinessProbe": { "enabled": false },
    }));
    assert_eq!(unprobed.results, Vec::<String>::new());
}

#[test]
fn dns_policy_and_config_reach_the_worker_pods() {
    let response = with_server(json!({
        "dnsPolicy": "None",
        "dnsConfig": {
            "nameservers": ["10.0.0.10"],
            "searches": ["svc.cluster.local"],
            "options": [{ "name": "ndots", "value": "2" }, { "name": "edns0" }],
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let spec = pod_spec(&response);
    assert_eq!(spec["dnsPolicy"], "None");
    assert_eq!(
        spec["dnsConfig"],
        json!({
            "nameservers": ["10.0.0.10"],
            "searches": ["svc.cluster.local"],
            "options": [{ "name": "ndots", "value": "2" }, { "name": "edns0" }],
        })
    );
    let default = with_server(json!({}));
    assert!(pod_spec(&default).get("dnsPolicy").is_none());
    assert!(pod_spec(&default).get("dnsConfig").is_none());
    let searches_only = with_server(json!({ "dnsConfig": { "searches": ["corp.example"] } }));
    assert_eq!(pod_spec(&searches_only)["dnsConfig"], json!({ "searches": ["corp.example"] }));

    check_problems(
        with_server(json!({ "dnsPolicy": "None", "dnsConfig": { "options": [{ "value": "2" }] } })),
        expect![[r#"
            plugin `agent`: values.yaml:4: agent.dnsConfig.nameservers: dnsPolicy None gives the pods no DNS server but these: name at least one, or choose another dnsPolicy
            plugin `agent`: values.yaml:6: agent.dnsConfig.options[0].name: a DNS option needs a name"#]],
    );
}

#[test]
fn init_container_extra_containers_run_after_the_plugins_own() {
    let response = with_server(json!({
        "initContainer": { "extraContainers": [
            { "name": "wait-for-proxy", "image": "busybox:1.36", "command": ["true"] },
        ] },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let names: Vec<&Value> = init_containers(&response).iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("default-base-job-template"), &json!("wait-for-proxy")]);
    assert_eq!(init_containers(&response)[1]["image"], "busybox:1.36");
    // Without the plugin's own (a process worker), they are the only ones.
    let process = with_server(json!({
        "config": { "type": "process" },
        "initContainer": { "extraContainers": [{ "name": "setup", "image": "busybox:1.36" }] },
    }));
    assert_eq!(init_containers(&process).len(), 1);

    check_problems(
        with_server(json!({ "initContainer": { "extraContainers": [{ "image": 3 }] } })),
        expect![
            "plugin `agent`: values.yaml:6: agent.initContainer.extraContainers[0].image: invalid type: integer `3`, expected a string"
        ],
    );
}

#[test]
fn env_from_lists_come_after_the_single_config_map_and_secret() {
    let response = with_server(json!({
        "extraEnvVarsCM": "cm",
        "extraEnvVarsCMs": ["cm-a", "cm-b"],
        "extraEnvVarsSecret": "secret",
        "extraEnvVarsSecrets": ["secret-a"],
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let from = &container(&response)["envFrom"];
    expect![[r#"[{"configMapRef":{"name":"cm"}},{"configMapRef":{"name":"cm-a"}},{"configMapRef":{"name":"cm-b"}},{"secretRef":{"name":"secret"}},{"secretRef":{"name":"secret-a"}}]"#]].assert_eq(&from.to_string());
    // The init container reaches the API as the worker does: the same sources.
    assert_eq!(&init_containers(&response)[0]["envFrom"], from);

    let lists_only = with_server(json!({ "extraEnvVarsSecrets": ["s"], "extraEnvVarsCMs": ["c"] }));
    expect![[r#"[{"configMapRef":{"name":"c"}},{"secretRef":{"name":"s"}}]"#]]
        .assert_eq(&container(&lists_only)["envFrom"].to_string());
    assert!(container(&with_server(json!({}))).get("envFrom").is_none());

    check_problems(
        with_server(json!({ "extraEnvVarsCMs": ["ok", ""], "extraEnvVarsSecrets": [" "] })),
        expect![[r#"
            plugin `agent`: values.yaml:5: agent.extraEnvVarsCMs[1]: empty: give the name of an existing ConfigMap, or remove the entry
            plugin `agent`: values.yaml:8: agent.extraEnvVarsSecrets[0]: empty: give the name of an existing Secret, or remove the entry"#]],
    );
}

#[test]
fn revision_history_http2_and_debug_mode() {
    let default = with_server(json!({}));
    let deployment = item(&default, "Deployment");
    assert!(deployment["spec"].get("revisionHistoryLimit").is_none(), "Kubernetes' default, 10");
    let env_default = env(&default);
    assert!(!env_default.contains("PREFECT_API_ENABLE_HTTP2"), "{env_default}");
    assert!(!env_default.contains("PREFECT_DEBUG_MODE"), "{env_default}");

    let response = with_server(json!({
        "revisionHistoryLimit": 3,
        "config": { "http2": true },
        "debug": true,
    }));
    assert_eq!(response.results, Vec::<String>::new());
    assert_eq!(item(&response, "Deployment")["spec"]["revisionHistoryLimit"], 3);
    let env = env(&response);
    assert!(env.contains("PREFECT_API_ENABLE_HTTP2=true"), "{env}");
    assert!(env.contains("PREFECT_DEBUG_MODE=true"), "{env}");
    let off = with_server(json!({ "config": { "http2": false } }));
    assert!(self::env(&off).contains("PREFECT_API_ENABLE_HTTP2=false"));
}

#[test]
fn unhealthy_pod_eviction_policy_only_on_clusters_that_have_it() {
    let values = json!({
        "podDisruptionBudget": { "enabled": true, "unhealthyPodEvictionPolicy": "AlwaysAllow" },
    });
    let new = with_server(values.clone());
    assert_eq!(new.results, Vec::<String>::new());
    let pdb = item(&new, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["unhealthyPodEvictionPolicy"], "AlwaysAllow");
    assert_eq!(pdb["spec"]["minAvailable"], 1);

    let older = |kube_version: &str, policy: &str| {
        run(Host::new()
            .with_plugins(&["server"])
            .with_resources(server_items(4200, false))
            .kubernetes(kube_version, &["v1", "apps/v1", "autoscaling/v2", policy])
            .values_json(json!({ "agent": values.clone() })))
    };
    let on_1_27 = older("1.27.3", "policy/v1");
    assert_eq!(
        item(&on_1_27, "PodDisruptionBudget")["spec"]["unhealthyPodEvictionPolicy"],
        "AlwaysAllow"
    );
    let on_1_26 = older("1.26.9", "policy/v1");
    assert!(
        item(&on_1_26, "PodDisruptionBudget")["spec"].get("unhealthyPodEvictionPolicy").is_none()
    );
    check_problems(
        on_1_26,
        expect![
            "plugin `agent`: values.yaml:5: agent.podDisruptionBudget.unhealthyPodEvictionPolicy: left out: Kubernetes 1.26.9 has no eviction policy for unhealthy pods (1.27 has it), so they are evicted only while the budget holds"
        ],
    );
    let on_1_20 = older("1.20.2", "policy/v1beta1");
    assert!(
        item(&on_1_20, "PodDisruptionBudget")["spec"].get("unhealthyPodEvictionPolicy").is_none()
    );

    let unset = with_server(json!({ "podDisruptionBudget": { "enabled": true } }));
    assert!(
        item(&unset, "PodDisruptionBudget")["spec"].get("unhealthyPodEvictionPolicy").is_none()
    );
}

#[test]
fn the_base_job_templates_config_map_name_and_an_empty_configuration() {
    let named = with_server(json!({ "config": { "baseJobTemplate": {
        "configuration": a_template("prefect"),
        "name": "team-template",
    } } }));
    assert_eq!(named.results, Vec::<String>::new());
    assert_eq!(item(&named, "ConfigMap")["metadata"]["name"], "team-template");
    let volumes = pod_spec(&named)["volumes"].to_string();
    assert!(volumes.contains(r#""configMap":{"name":"team-template"}"#), "{volumes}");

    // `{}` is no template, as for Prefect: the worker runs as without one.
    let without = with_server(json!({}));
    for empty in [json!({}), json!(""), json!(" {}\n"), json!([])] {
        let response =
            with_server(json!({ "config": { "baseJobTemplate": { "configuration": empty } } }));
        assert_eq!(response.results, Vec::<String>::new(), "{empty}");
        assert_eq!(response.items, without.items, "{empty}");
    }
    check_problems(
        with_server(
            json!({ "config": { "baseJobTemplate": { "configuration": {}, "name": "x" } } }),
        ),
        expect![
            "plugin `agent`: values.yaml:6: agent.config.baseJobTemplate.name: ignored: it names the ConfigMap made for configuration, and there is none"
        ],
    );
}

#[test]
fn a_customer_managed_cloud() {
    let values = json!({
        "apiConfig": "customerManagedCloud",
        "customerManagedCloudApiConfig": {
            "apiUrl": "https://prefect.corp.example/api/",
            "accountId": "acc-1",
            "workspaceId": "ws-2",
            "apiKeySecret": { "name": "corp-key", "key": "pnu" },
        },
    });
    let response = alone(values.clone());
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        HOME=/home/prefect
        PREFECT_API_URL=https://prefect.corp.example/api/accounts/acc-1/workspaces/ws-2
        PREFECT_API_KEY<-corp-key/pnu
        PREFECT_CLOUD_API_URL=https://prefect.corp.example/api
        PREFECT_WORKER_QUERY_SECONDS=5
        PREFECT_KUBERNETES_CLUSTER_UID=prefect/prefect
        PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES=prefect
        PREFECT_WORKER_WEBSERVER_HOST=0.0.0.0
        PREFECT_WORKER_WEBSERVER_PORT=8080
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=corp-key
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY=pnu"#]]
    .assert_eq(&env(&response));

    let mut with_urls = values;
    with_urls["customerManagedCloudApiConfig"]["cloudApiUrl"] =
        json!("https://cloud.corp.example/api");
    with_urls["customerManagedCloudApiConfig"]["cloudUiUrl"] = json!("https://ui.corp.example");
    let env = env(&alone(with_urls.clone()));
    assert!(env.contains("PREFECT_CLOUD_API_URL=https://cloud.corp.example/api"), "{env}");
    assert!(env.contains("PREFECT_CLOUD_UI_URL=https://ui.corp.example"), "{env}");

    with_urls["customerManagedCloudApiConfig"]["cloudUiUrl"] = json!("ui.corp.example");
    check_problems(
        alone(with_urls),
        expect![[
            r#"plugin `agent`: values.yaml:13: agent.customerManagedCloudApiConfig.cloudUiUrl: give the URL of the Cloud's UI, such as https://prefect.example.com (not "ui.corp.example")"#
        ]],
    );
}

/// The rules of the worker's Role, one `resources: verbs` a line.
fn role_rules(response: &Run) -> String {
    item(response, "Role")["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| format!("{}: {}", rule["resources"], rule["verbs"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn job_api_key_propagation_for_prefect_cloud() {
    let cloud = |propagation: Option<&str>| {
        let mut values = cloud_values(json!({}));
        if let Some(propagation) = propagation {
            values["cloudApiConfig"]["jobApiKeyPropagation"] = json!(propagation);
        }
        alone(values)
    };
    // secretRef, the default: Jobs read the key from the worker's Secret.
    let default = cloud(None);
    assert_eq!(default.items, cloud(Some("secretRef")).items);
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=prefect-api-key
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY=key"#]]
    .assert_eq(&job_secret_settings(&default));
    assert!(!role_rules(&default).contains("secrets"), "{}", role_rules(&default));

    // autoSecret: the worker copies the key into a Secret it manages, which its Role allows.
    let auto = cloud(Some("autoSecret"));
    assert_eq!(auto.results, Vec::<String>::new());
    assert_eq!(job_secret_settings(&auto), "");
    assert!(
        env(&auto)
            .contains("PREFECT_INTEGRATIONS_KUBERNETES_WORKER_CREATE_SECRET_FOR_API_KEY=true")
    );
    expect![[r#"
        ["pods","pods/log","pods/status"]: ["get","list","watch"]
        ["jobs"]: ["get","list","watch","create","update","patch","delete"]
        ["events"]: ["get","list","watch"]
        ["secrets"]: ["get","list","create","update","delete"]"#]]
    .assert_eq(&role_rules(&auto));

    // envVar: Prefect would copy the key into each Job in plain text; refused.
    check_problems(
        cloud(Some("envVar")),
        expect![
            "plugin `agent`: values.yaml:7: agent.cloudApiConfig.jobApiKeyPropagation: envVar would write the API key in plain text into every flow-run Job's spec, where whoever can read Jobs in their namespace sees it: use secretRef (the default), or autoSecret when flow runs go to a namespace without the key's Secret"
        ],
    );

    // The worker itself always reads the key from its Secret, whatever Jobs get.
    for response in [&default, &auto] {
        assert!(env(response).contains("PREFECT_API_KEY<-prefect-api-key/key"));
    }
}

#[test]
fn job_api_key_propagation_for_a_customer_managed_cloud() {
    let values = |propagation: &str| {
        json!({
            "apiConfig": "customerManagedCloud",
            "customerManagedCloudApiConfig": {
                "apiUrl": "https://prefect.corp.example/api",
                "accountId": "acc-1",
                "workspaceId": "ws-2",
                "jobApiKeyPropagation": propagation,
            },
            // Prefect Cloud's own setting does not apply to this API.
            "cloudApiConfig": { "jobApiKeyPropagation": "envVar" },
        })
    };
    let auto = alone(values("autoSecret"));
    assert_eq!(auto.results, Vec::<String>::new());
    assert!(env(&auto).contains("CREATE_SECRET_FOR_API_KEY=true"));
    assert!(role_rules(&auto).contains(r#"["secrets"]"#), "{}", role_rules(&auto));
    let by_reference = alone(values("secretRef"));
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=prefect-api-key
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY=key"#]]
    .assert_eq(&job_secret_settings(&by_reference));
    assert!(!role_rules(&by_reference).contains("secrets"));
}

#[test]
fn basic_auth_reaches_flow_run_jobs_only_by_secret_reference() {
    // However the worker gets the auth string (inline values become the plugin's Secret), its
    // Jobs name that Secret: no rendered object holds it outside a Secret.
    for basic_auth in [
        json!({ "enabled": true, "authString": "admin:s3cr3t" }),
        json!({ "enabled": true, "existingSecret": "prefect-auth" }),
    ] {
        let response = alone(json!({
            "serverApiConfig": { "apiUrl": "https://prefect.example.com/api", "basicAuth": basic_auth },
            "config": { "baseJobTemplate": { "configuration": a_template("prefect") } },
        }));
        assert_eq!(response.results, Vec::<String>::new());
        assert!(job_secret_settings(&response).contains("AUTH_STRING_SECRET_NAME"));
        for object in response.items.iter().filter(|object| object["kind"] != "Secret") {
            let text = object.to_string();
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
}

#[test]
fn extra_init_containers_run_before_the_plugins_own_and_init_container_extras_after() {
    let response = with_server(json!({
        "extraInitContainers": [{ "name": "proxy", "image": "proxy:1", "restartPolicy": "Always" }],
        "initContainer": { "extraContainers": [{ "name": "after", "image": "busybox:1.36" }] },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let names: Vec<&Value> = init_containers(&response).iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("proxy"), &json!("default-base-job-template"), &json!("after")]);
}

/// `Kind namespace/name` of the RBAC objects, one a line (`-` for a cluster-scoped one).
fn rbac_objects(response: &Run) -> String {
    response
        .items
        .iter()
        .filter(|item| item["apiVersion"] == "rbac.authorization.k8s.io/v1")
        .map(|item| {
            format!(
                "{} {}/{}",
                item["kind"].as_str().unwrap(),
                item["metadata"]["namespace"].as_str().unwrap_or("-"),
                item["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn flow_runs_in_other_namespaces_get_a_role_there_and_the_observer_watches_them() {
    let response = with_server(json!({ "config": { "jobNamespace": "flows, team-b,flows" } }));
    expect![[r#"
        Role flows/prefect-worker
        Role prefect/prefect-worker
        Role team-b/prefect-worker
        RoleBinding flows/prefect-worker
        RoleBinding prefect/prefect-worker
        RoleBinding team-b/prefect-worker"#]]
    .assert_eq(&rbac_objects(&response));
    for role in response.items.iter().filter(|item| item["kind"] == "Role") {
        assert_eq!(role["rules"], item(&response, "Role")["rules"]);
    }
    for binding in response.items.iter().filter(|item| item["kind"] == "RoleBinding") {
        assert_eq!(
            binding["subjects"],
            json!([{ "kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect" }])
        );
    }
    let env = env(&response);
    assert!(
        env.contains("PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES=flows,team-b"),
        "{env}"
    );
    // A pool the worker creates sends flow runs to the first.
    assert_eq!(init_containers(&response)[0]["command"][4], "flows");
    assert_eq!(response.results, Vec::<String>::new());

    // The release namespace named is the usual Role, once.
    let with_release = with_server(json!({ "config": { "jobNamespace": "prefect,flows" } }));
    assert_eq!(rbac_objects(&with_release).lines().count(), 4);

    check_problems(
        with_server(json!({ "config": { "jobNamespace": "Flows,ok" } })),
        expect![[
            r#"plugin `agent`: values.yaml:4: agent.config.jobNamespace: "Flows" is not a namespace name (lower-case letters, digits and `-`, at most 63): give namespaces separated by commas, such as flows,team-b"#
        ]],
    );
}

#[test]
fn flow_runs_in_other_namespaces_need_the_credentials_secrets_there() {
    let response = run(Host::new()
        .with_plugins(&["server"])
        .with_resources(server_items(4200, true))
        .values_json(json!({ "agent": { "config": { "jobNamespace": "flows" } } })));
    check_problems(
        response,
        expect![
            "plugin `agent`: values.yaml:4: agent.config.jobNamespace: flow-run Jobs read PREFECT_API_AUTH_STRING from Secret prefect-server-basic-auth of their own namespace: create it in flows too (it is in prefect), or their pods will not start"
        ],
    );

    let cloud = alone(cloud_values(json!({ "config": { "jobNamespace": "flows" } })));
    check_problems(
        cloud,
        expect![
            "plugin `agent`: values.yaml:4: agent.config.jobNamespace: flow-run Jobs read PREFECT_API_KEY from Secret prefect-api-key of their own namespace: create it in flows too (it is in prefect), or their pods will not start"
        ],
    );
    // autoSecret needs no Secret of the user's there, and the Role there may make its own.
    let mut values = cloud_values(json!({ "config": { "jobNamespace": "flows" } }));
    values["cloudApiConfig"]["jobApiKeyPropagation"] = json!("autoSecret");
    let auto = alone(values);
    assert_eq!(auto.results, Vec::<String>::new());
    let flows_role = auto
        .items
        .iter()
        .find(|item| item["kind"] == "Role" && item["metadata"]["namespace"] == "flows")
        .unwrap();
    assert!(flows_role["rules"].to_string().contains("secrets"));
}

#[test]
fn a_cluster_wide_observer_only_when_asked() {
    assert!(!rbac_objects(&with_server(json!({}))).contains("Cluster"));
    let response = with_server(json!({ "config": { "observerClusterWide": true } }));
    assert_eq!(response.results, Vec::<String>::new());
    expect![[r#"
        ClusterRole -/prefect-prefect-worker-observer
        ClusterRoleBinding -/prefect-prefect-worker-observer
        Role prefect/prefect-worker
        RoleBinding prefect/prefect-worker"#]]
    .assert_eq(&rbac_objects(&response));
    let role = item(&response, "ClusterRole");
    expect![[r#"[{"apiGroups":[""],"resources":["pods","pods/log","pods/status"],"verbs":["get","list","watch"]},{"apiGroups":["batch"],"resources":["jobs"],"verbs":["get","list","watch"]},{"apiGroups":[""],"resources":["events"],"verbs":["get","list","watch"]}]"#]].assert_eq(&role["rules"].to_string());
    let binding = item(&response, "ClusterRoleBinding");
    assert_eq!(
        binding["roleRef"],
        json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "prefect-prefect-worker-observer" })
    );
    assert_eq!(
        binding["subjects"],
        json!([{ "kind": "ServiceAccount", "name": "prefect-worker", "namespace": "prefect" }])
    );
    let env = env(&response);
    assert!(!env.contains("OBSERVER_NAMESPACES"), "{env}");

    let none = with_server(json!({
        "config": { "observerClusterWide": true },
        "role": { "create": false },
        "rolebinding": { "create": false },
    }));
    assert_eq!(rbac_objects(&none), "");
}

#[test]
fn the_worker_follows_the_servers_api_base_path() {
    let mut items = server_items(4200, true);
    items[1]["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "PREFECT_SERVER_API_BASE_PATH", "value": "/prefect/api" }));
    let response = run(Host::new().with_plugins(&["server"]).with_resources(items));
    assert_eq!(response.results, Vec::<String>::new());
    let env = env(&response);
    assert!(
        env.contains("PREFECT_API_URL=http://prefect-server.prefect.svc:4200/prefect/api"),
        "{env}"
    );
    assert!(
        env.contains("PREFECT_API_AUTH_STRING<-prefect-server-basic-auth/auth-string"),
        "{env}"
    );
}

#[test]
fn the_plugins_init_container_takes_its_own_resources_security_and_variables() {
    let response = with_server(json!({
        "initContainer": {
            "resources": { "requests": { "cpu": 0.1, "memory": "64Mi" } },
            "containerSecurityContext": { "runAsNonRoot": true, "readOnlyRootFilesystem": true },
            "extraEnvVars": [
                { "name": "HTTPS_PROXY", "value": "http://proxy:3128" },
                { "name": "PREFECT_WORKER_QUERY_SECONDS", "value": "1" },
            ],
        },
    }));
    assert_eq!(response.results, Vec::<String>::new());
    let init = init_containers(&response)[0];
    assert_eq!(init["name"], "default-base-job-template");
    assert_eq!(init["resources"], json!({ "requests": { "cpu": "0.1", "memory": "64Mi" } }));
    assert_eq!(
        init["securityContext"],
        json!({ "runAsNonRoot": true, "readOnlyRootFilesystem": true })
    );
    let env = init["env"].to_string();
    assert!(env.contains(r#"{"name":"HTTPS_PROXY","value":"http://proxy:3128"}"#), "{env}");
    assert!(env.contains(r#"{"name":"PREFECT_WORKER_QUERY_SECONDS","value":"1"}"#), "{env}");
    assert!(!env.contains(r#""value":"5""#), "replaced, not repeated: {env}");
    // The worker keeps its own.
    let main = container(&response);
    assert_ne!(main["resources"], init["resources"]);
    assert!(!main["env"].to_string().contains("HTTPS_PROXY"));

    // Empty: the worker's, as before; and the sync container takes them as well.
    let default = with_server(json!({}));
    assert_eq!(init_containers(&default)[0]["resources"], container(&default)["resources"]);
    let sync =
        with_server(json!({ "config": { "baseJobTemplate": { "existingConfigMapName": "mine" } },
        "initContainer": { "extraEnvVars": [{ "name": "A", "value": "b" }] } }));
    assert_eq!(init_containers(&sync)[0]["name"], "sync-base-job-template");
    assert!(init_containers(&sync)[0]["env"].to_string().contains(r#""name":"A""#));

    check_problems(
        with_server(
            json!({ "initContainer": { "extraEnvVars": [{ "value": "x" }], "resources": { "limits": { "cpu": [] } } } }),
        ),
        expect![[r#"
            plugin `agent`: values.yaml:11: agent.initContainer.resources.limits.cpu: invalid type: sequence, expected Quantity
            plugin `agent`: values.yaml:5: agent.initContainer.extraEnvVars[0].name: `name` is missing: a Kubernetes EnvVar needs it here"#]],
    );
}

#[test]
fn the_prebuilt_manifest_is_what_the_code_builds() {
    expect_test::expect_file!["../manifest.json"]
        .assert_eq(&prefect_plugin_sdk::manifest_json::<crate::Agent>());
}
