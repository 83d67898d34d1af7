//! The server's output against the names the SDK publishes as the contract between first-party
//! plugins (`prefect_plugin_sdk::contract`): the names other plugins find its workloads,
//! container, port and settings by.

use prefect_plugin_sdk::{
    contract::{background_services, migrations, server},
    serde_json::{Value, json},
};

use super::{URL, render};

/// The object of `kind` called `<release>-<component>`.
fn named<'a>(items: &'a [Value], kind: &str, component: &str) -> &'a Value {
    let name = format!("prefect-{component}");
    items
        .iter()
        .find(|item| item["kind"] == kind && item["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} among {items:#?}"))
}

/// The container called `name` of a workload's pod template.
fn container<'a>(workload: &'a Value, template: &[&str], name: &str) -> &'a Value {
    let spec = template.iter().fold(workload, |value, step| &value[*step]);
    let containers = spec["spec"]["containers"].as_array().unwrap();
    containers
        .iter()
        .find(|container| container["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {workload:#}"))
}

fn env_names(container: &Value) -> Vec<&str> {
    container["env"].as_array().unwrap().iter().filter_map(|var| var["name"].as_str()).collect()
}

#[test]
fn the_server_renders_the_names_other_plugins_rely_on() {
    let items = render(json!({
        "apiBasePath": "/prefect/api",
        "basicAuth": { "enabled": true, "existingSecret": "prefect-auth" },
        "externalDatabase": { "connectionUrl": URL },
        "replicaCount": 2,
        "backgroundServices": {
            "runAsSeparateDeployment": true,
            "messaging": { "redis": { "host": "redis.example" } },
        },
    }));

    named(&items, "Service", server::COMPONENT);
    let deployment = named(&items, "Deployment", server::COMPONENT);
    let api = container(deployment, &["spec", "template"], server::CONTAINER);
    let ports = api["ports"].as_array().unwrap();
    assert!(
        ports.iter().any(|p| p["name"] == server::PORT_NAME && p["containerPort"] == server::PORT),
        "{ports:?}"
    );
    let env = env_names(api);
    assert!(env.contains(&server::AUTH_STRING_VAR), "{env:?}");
    assert!(env.contains(&server::BASE_PATH_VAR), "{env:?}");

    let services = named(&items, "Deployment", background_services::COMPONENT);
    container(services, &["spec", "template"], background_services::CONTAINER);
    let job = named(&items, "Job", migrations::COMPONENT);
    container(job, &["spec", "template"], migrations::CONTAINER);
}
