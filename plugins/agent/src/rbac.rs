//! The worker's Role and RoleBinding, in the release namespace only: what running flows as
//! Jobs needs and no more (read pods, their logs and status, and events; manage Jobs), plus
//! `role.extraPermissions`; Secrets too when the worker copies a Cloud API key into one per
//! flow run (`jobApiKeyPropagation: autoSecret`). Other plugins may widen this Role in the graph (dask-rbac does).

use prefect_plugin_sdk::{
    Context, Problems,
    k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};

use crate::{
    COMPONENT, api,
    values::{JobApiKeyPropagation, Values},
};

const READ: &[&str] = &["get", "list", "watch"];
const MANAGE: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

/// The Role's name, `<release>-worker`, which other plugins look it up by.
pub fn role_name(ctx: &Context) -> String {
    ctx.full_name(COMPONENT)
}

/// The Role, if `role.create`.
pub fn role(ctx: &Context, values: &Values, problems: &mut Problems) -> Option<Role> {
    if !values.role.create {
        return None;
    }
    let mut rules = vec![
        rule("", &["pods", "pods/log", "pods/status"], READ),
        rule("batch", &["jobs"], MANAGE),
        rule("", &["events"], READ),
    ];
    if api::key_propagation(values) == JobApiKeyPropagation::AutoSecret {
        // The worker keeps each flow run's copy of the API key in a Secret it makes, replaces
        // and deletes (prefect-kubernetes' `create_secret_for_api_key`).
        rules.push(rule("", &["secrets"], &["get", "list", "create", "update", "delete"]));
    }
    rules.extend(
        problems.list::<PolicyRule>(&values.role.extra_permissions, "role.extraPermissions"),
    );
    Some(Role { metadata: ctx.metadata(&role_name(ctx), COMPONENT), rules: Some(rules) })
}

/// The RoleBinding of the Role to `service_account`, if `rolebinding.create`.
pub fn binding(ctx: &Context, values: &Values, service_account: &str) -> Option<RoleBinding> {
    if !values.rolebinding.create {
        return None;
    }
    Some(RoleBinding {
        metadata: ctx.metadata(&role_name(ctx), COMPONENT),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: role_name(ctx),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: service_account.to_owned(),
            namespace: Some(ctx.namespace().to_owned()),
            ..Subject::default()
        }]),
    })
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}
