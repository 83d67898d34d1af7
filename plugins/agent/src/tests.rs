//! The plugin run in process, as the host runs it, with and without a server plugin before it.

use expect_test::{Expect, expect};
use prefect_plugin_sdk::{
    serde_json::{self, Value, json},
    testing::Request,
    wire::{RunResponse, Severity},
};

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

fn with_server(values: Value) -> RunResponse {
    Request::new(&["server", "agent"])
        .items(server_items(4200, false))
        .values(values)
        .run::<Agent>()
}

fn alone(values: Value) -> RunResponse {
    Request::new(&["agent"]).values(values).run::<Agent>()
}

fn kinds(response: &RunResponse) -> Vec<String> {
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

fn item<'a>(response: &'a RunResponse, kind: &str) -> &'a Value {
    response
        .items
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(response)))
}

fn container(response: &RunResponse) -> &Value {
    &item(response, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

/// `NAME=value` or `NAME<-secret/key`, one a line.
fn env(response: &RunResponse) -> String {
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

fn args(response: &RunResponse) -> String {
    let args: Vec<&str> = container(response)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    args.join(" ")
}

fn check_problems(response: RunResponse, expect: Expect) {
    let lines: Vec<String> = response
        .results
        .iter()
        .map(|r| {
            let severity = if r.severity == Severity::Error { "error" } else { "warning" };
            format!("{severity} {}: {}", r.path.as_deref().unwrap_or(""), r.message)
        })
        .collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn with_the_server_in_the_stack_the_worker_needs_no_configuration() {
    let response = with_server(json!({}));
    assert_eq!(response.results, []);
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
        Request::new(&["server", "agent"]).items(server_items(8080, true)).run::<Agent>();
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
            "error apiConfig: the worker needs a Prefect API, and there is no server plugin in the stack: add it (--plugin server), set serverApiConfig.apiUrl to your server, or set apiConfig to cloud with cloudApiConfig"
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
    assert_eq!(response.results, []);
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
        error cloudApiConfig.accountId: Prefect Cloud needs it: see your workspace's URL and API keys
        error cloudApiConfig.workspaceId: Prefect Cloud needs it: see your workspace's URL and API keys"#]],
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
    assert_eq!(response.results, []);
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
            error serverApiConfig.apiUrl: give the server's API URL, such as https://prefect.example.com/api
            error serverApiConfig.basicAuth: basic auth is enabled without credentials: set existingSecret (a Secret with the key `auth-string`) or authString"#]],
    );
}

/// The variables that tell prefect-kubernetes which Secret a flow-run Job reads a credential
/// from, instead of copying the worker's value into the Job.
fn job_secret_settings(response: &RunResponse) -> String {
    env(response)
        .lines()
        .filter(|line| line.starts_with("PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn flow_run_jobs_read_the_stack_servers_basic_auth_from_its_secret() {
    let response =
        Request::new(&["server", "agent"]).items(server_items(4200, true)).run::<Agent>();
    assert_eq!(response.results, []);
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
    assert_eq!(response.results, []);
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME=cloud-key
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_KEY=pnu"#]]
    .assert_eq(&job_secret_settings(&response));
}

#[test]
fn the_job_secret_settings_follow_the_credential_the_worker_really_uses() {
    // Only the Kubernetes worker creates Jobs.
    let process = Request::new(&["server", "agent"])
        .items(server_items(4200, true))
        .values(json!({ "config": { "type": "process" } }))
        .run::<Agent>();
    assert_eq!(job_secret_settings(&process), "");

    // A credential from extraEnvVars replaces the plugin's, Secret and all.
    let replaced = Request::new(&["server", "agent"])
        .items(server_items(4200, true))
        .values(json!({ "extraEnvVars": [{
            "name": "PREFECT_API_AUTH_STRING",
            "valueFrom": { "secretKeyRef": { "name": "mine", "key": "auth" } },
        }] }))
        .run::<Agent>();
    expect![[r#"
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_NAME=mine
        PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_AUTH_STRING_SECRET_KEY=auth"#]]
    .assert_eq(&job_secret_settings(&replaced));

    // A literal credential has no Secret to name; the user's own settings stay as they are.
    let literal = Request::new(&["server", "agent"])
        .items(server_items(4200, true))
        .values(json!({ "extraEnvVars": [
            { "name": "PREFECT_API_AUTH_STRING", "value": "admin:pw" },
            { "name": "PREFECT_INTEGRATIONS_KUBERNETES_WORKER_API_KEY_SECRET_NAME", "value": "k" },
        ] }))
        .run::<Agent>();
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
    assert_eq!(response.results, []);
    expect!["prefect agent start --work-queue default --prefetch-seconds 10"]
        .assert_eq(&args(&response));
    assert!(env(&response).contains("PREFECT_AGENT_QUERY_INTERVAL=5"));
    assert_eq!(container(&response)["image"], "prefecthq/prefect:2.20.27-python3.11-kubernetes");
    assert_eq!(alone(cloud_values(agent)).results, []);

    check_problems(
        alone(prefect_2_server_values(json!({ "mode": "agent" }))),
        expect![
            "error image.prefectTag: agent mode runs Prefect 2's `prefect agent start`, which Prefect 3 removed: set a Prefect 2 image tag, such as 2.20.27-python3.11-kubernetes, or use mode: worker"
        ],
    );
}

#[test]
fn a_prefect_2_agent_cannot_use_the_stacks_prefect_3_server() {
    check_problems(
        with_server(json!({ "mode": "agent", "image": { "prefectTag": PREFECT_2_TAG } })),
        expect![
            "error mode: a Prefect 2 agent cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): use mode: worker with a Prefect 3 image, or point the agent at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );
}

#[test]
fn a_prefect_2_worker_cannot_use_the_stacks_prefect_3_server() {
    check_problems(
        with_server(json!({ "image": { "prefectTag": PREFECT_2_TAG } })),
        expect![
            "error image.prefectTag: the worker's image tag 2.20.27-python3.11-kubernetes is Prefect 2, which cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): set a Prefect 3 tag in agent.image.prefectTag, or leave it empty for the global one; or point the worker at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );
    let global_2 = Request::new(&["server", "agent"])
        .items(server_items(4200, false))
        .global(|global| global.prefect.image.prefect_tag = "2.20.27-python3.11".to_owned())
        .run::<Agent>();
    check_problems(
        global_2,
        expect![
            "error image.prefectTag: the worker's image tag 2.20.27-python3.11-kubernetes (from global.prefect.image.prefectTag) is Prefect 2, which cannot talk to the Prefect 3 server of this stack (the server plugin runs Prefect 3 only): set a Prefect 3 tag in global.prefect.image.prefectTag or agent.image.prefectTag; or point the worker at a Prefect 2 server (serverApiConfig.apiUrl, with --without server) or at Prefect Cloud (apiConfig: cloud)"
        ],
    );

    // A Prefect 2 worker elsewhere is the user's to choose; a Prefect 3 one here is fine.
    let worker_2 = json!({ "image": { "prefectTag": PREFECT_2_TAG } });
    assert_eq!(alone(prefect_2_server_values(worker_2.clone())).results, []);
    assert_eq!(alone(cloud_values(worker_2)).results, []);
    assert_eq!(with_server(json!({ "image": { "prefectTag": "3.4.0-python3.12" } })).results, []);
}

#[test]
fn autoscaler_and_disruption_budget_follow_the_clusters_api_versions() {
    let values = json!({
        "autoscaling": { "enabled": true, "maxReplicas": 4, "targetMemoryUtilizationPercentage": 70 },
        "podDisruptionBudget": { "enabled": true, "maxUnavailable": "50%" },
    });
    let new = with_server(values.clone());
    assert_eq!(new.results, []);
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

    let old = Request::new(&["server", "agent"])
        .items(server_items(4200, false))
        .capabilities("1.20.2", &["v1", "apps/v1", "autoscaling/v2beta2", "policy/v1beta1"])
        .values(values)
        .run::<Agent>();
    assert_eq!(item(&old, "HorizontalPodAutoscaler")["apiVersion"], "autoscaling/v2beta2");
    assert_eq!(item(&old, "PodDisruptionBudget")["apiVersion"], "policy/v1beta1");
    assert_eq!(item(&old, "HorizontalPodAutoscaler")["spec"], hpa["spec"]);

    check_problems(
        with_server(
            json!({ "podDisruptionBudget": { "enabled": true, "minAvailable": 1, "maxUnavailable": "150%" } }),
        ),
        expect![[
            r#"error podDisruptionBudget.maxUnavailable: give a number of pods, such as 1, or a percentage, such as "50%""#
        ]],
    );
}

#[test]
fn a_base_job_template_is_mounted_from_a_config_map() {
    let template = json!({ "job_configuration": { "namespace": "{{ namespace }}" }, "variables": { "properties": { "namespace": { "default": "prefect" } } } });
    let response =
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": template } } }));
    assert_eq!(response.results, []);
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
    assert_eq!(from_file.results, []);
    assert_eq!(item(&from_file, "ConfigMap"), map);
    assert_eq!(item(&from_file, "Deployment"), item(&response, "Deployment"));
    check_problems(
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": "{\"a\": 1,}" } } })),
        expect![
            "error config.baseJobTemplate.configuration: a base job template given as text must be JSON (trailing comma at line 1 column 9): start from `prefect work-pool get-default-base-job-template --type kubernetes`"
        ],
    );
    check_problems(
        with_server(json!({ "config": { "baseJobTemplate": { "configuration": "[1]" } } })),
        expect![
            "error config.baseJobTemplate.configuration: a base job template is a mapping with `job_configuration` and `variables`: start from `prefect work-pool get-default-base-job-template --type kubernetes`"
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
            error config.baseJobTemplate.configuration: a base job template is a mapping with `job_configuration` and `variables`: start from `prefect work-pool get-default-base-job-template --type kubernetes`
            error config.baseJobTemplate.existingConfigMapName: set either configuration or existingConfigMapName, not both"#]],
    );
}

fn pod(response: &RunResponse) -> &Value {
    &item(response, "Deployment")["spec"]["template"]
}

fn init_containers(response: &RunResponse) -> Vec<&Value> {
    pod(response)["spec"]["initContainers"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn template_checksum(response: &RunResponse) -> Option<&str> {
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
    let response = Request::new(&["server", "agent"])
        .items(server_items(4200, true))
        .values(json!({ "config": {
            "workPool": "team pool",
            "baseJobTemplate": { "configuration": a_template("prefect") },
        } }))
        .run::<Agent>();
    assert_eq!(response.results, []);
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
    assert_eq!(agent_mode.results, []);
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
    assert_eq!(response.results, []);
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
    assert_eq!(response.results, []);
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
