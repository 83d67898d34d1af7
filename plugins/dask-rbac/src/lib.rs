//! The `dask-rbac` plugin of prefectctl: lets flows create Dask clusters from the worker's
//! Jobs, by widening the agent plugin's Role in the graph (it adds no Role of its own).
//!
//! The Dask task runner's `KubeCluster` creates pods, Services and PodDisruptionBudgets in
//! the namespace; with `operator: true`, also the Dask Kubernetes operator's resources.
#![forbid(unsafe_code)]

use prefect_plugin_sdk::{
    Context, Error, Manifest, Plugin, export_plugin,
    k8s_openapi::api::rbac::v1::{PolicyRule, Role},
    schemars::{self, JsonSchema},
};
use serde::{Deserialize, Serialize};

/// The agent plugin's component: its Role is `<release>-worker`.
const AGENT_COMPONENT: &str = prefect_plugin_sdk::contract::worker::COMPONENT;
const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

/// Lets flows start Dask clusters in the release namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Values {
    /// Also allows the Dask Kubernetes operator's resources (`kubernetes.dask.org`:
    /// daskclusters, daskworkergroups, daskjobs, daskautoscalers), for `KubeCluster` from
    /// `dask_kubernetes.operator`. The operator itself is installed separately.
    pub operator: bool,
}

/// The rules this plugin adds to the worker's Role.
pub fn rules(values: &Values) -> Vec<PolicyRule> {
    let mut rules =
        vec![rule("", &["pods", "services"]), rule("policy", &["poddisruptionbudgets"])];
    if values.operator {
        rules.push(rule(
            "kubernetes.dask.org",
            &["daskclusters", "daskworkergroups", "daskjobs", "daskautoscalers"],
        ));
    }
    rules
}

fn rule(group: &str, resources: &[&str]) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(strings(resources)),
        verbs: strings(VERBS),
        ..PolicyRule::default()
    }
}

/// The plugin.
pub struct DaskRbac;

impl Plugin for DaskRbac {
    type Values = Values;

    fn manifest() -> Manifest {
        Manifest::new("dask-rbac", env!("CARGO_PKG_VERSION"))
            .description("lets flows create Dask clusters: widens the worker's Role")
            .requires(&["agent"])
            // The agent's Role, which it widens.
            .reads(&["Role"])
    }

    fn prebuilt_manifest() -> Option<&'static str> {
        // `UPDATE_EXPECT=1 cargo test` rewrites it (`the_prebuilt_manifest_is_what_the_code_builds`).
        Some(include_str!("../manifest.json"))
    }

    fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
        let name = ctx.full_name(AGENT_COMPONENT);
        let found = ctx.update::<Role>(&name, |role| {
            let existing = role.rules.get_or_insert_with(Vec::new);
            for rule in rules(&values) {
                if !existing.contains(&rule) {
                    existing.push(rule);
                }
            }
        })?;
        if !found {
            return Err(Error::new(format!(
                "the worker's Role {name} is not in the graph, so there is nothing to widen: keep \
                 agent.role.create on (dask-rbac adds its rules to that Role), or give your own \
                 Role these rules and drop dask-rbac"
            )));
        }
        Ok(())
    }
}

export_plugin!(DaskRbac);

#[cfg(test)]
mod tests {
    use prefect_plugin_sdk::serde_json::{Value, json};
    use prefect_plugin_test::{Failure, Host, Rendered};

    use super::*;

    fn agent_role() -> Value {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": { "name": "prefect-worker", "namespace": "prefect" },
            "rules": [{ "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"] }],
        })
    }

    fn after_the_agent(values: &str) -> Result<Rendered, Failure> {
        Host::new()
            .with_plugins(&["agent"])
            .with_resources(vec![agent_role()])
            .values(values)
            .run::<DaskRbac>()
    }

    #[test]
    fn widens_the_workers_role_and_adds_nothing() {
        let rendered = after_the_agent("").unwrap();
        assert_eq!(rendered.warnings, Vec::<String>::new());
        assert!(rendered.added().is_empty());
        let rules = rendered.get("Role", "prefect-worker").unwrap()["rules"].to_string();
        assert_eq!(
            rules,
            r#"[{"apiGroups":["batch"],"resources":["jobs"],"verbs":["create"]},{"apiGroups":[""],"resources":["pods","services"],"verbs":["get","list","watch","create","update","patch","delete"]},{"apiGroups":["policy"],"resources":["poddisruptionbudgets"],"verbs":["get","list","watch","create","update","patch","delete"]}]"#
        );
    }

    #[test]
    fn the_operator_option_adds_the_dask_resources() {
        let rendered = after_the_agent("dask-rbac:\n  operator: true\n").unwrap();
        let last = &rendered.get("Role", "prefect-worker").unwrap()["rules"][3];
        assert_eq!(last["apiGroups"], json!(["kubernetes.dask.org"]));
        assert_eq!(
            last["resources"],
            json!(["daskclusters", "daskworkergroups", "daskjobs", "daskautoscalers"])
        );
    }

    #[test]
    fn without_the_workers_role_it_says_what_to_do() {
        let failure = Host::new().with_plugins(&["agent"]).run::<DaskRbac>().unwrap_err();
        assert!(
            failure.0[0].starts_with(
                "plugin `dask-rbac`: the worker's Role prefect-worker is not in the graph"
            ),
            "{failure}"
        );
    }

    #[test]
    fn the_prebuilt_manifest_is_what_the_code_builds() {
        expect_test::expect_file!["../manifest.json"]
            .assert_eq(&prefect_plugin_sdk::manifest_json::<DaskRbac>());
    }
}
