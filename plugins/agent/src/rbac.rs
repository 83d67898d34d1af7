//! The worker's Role and RoleBinding, in the release namespace and in each namespace flow runs
//! go to ([`crate::job_namespaces`]): what running flows as Jobs needs and no more (read pods,
//! their logs and status, and events; manage Jobs), plus `role.extraPermissions`; Secrets too
//! when the worker copies a Cloud API key into one per flow run (`jobApiKeyPropagation:
//! autoSecret`). Other plugins may widen the release namespace's Role in the graph (dask-rbac
//! does). Cluster-wide, only when asked (`config.observerClusterWide`): a ClusterRole that
//! reads what the worker's observer watches, and its ClusterRoleBinding.

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{
        api::rbac::v1::{
            ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
        },
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    },
};

use crate::{
    COMPONENT, api,
    values::{JobApiKeyPropagation, Values},
};

const READ: &[&str] = &["get", "list", "watch"];
const MANAGE: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The Role's name, `<release>-worker`, which other plugins look it up by.
pub fn role_name(ctx: &Context) -> String {
    ctx.full_name(COMPONENT)
}

/// The Roles, if `role.create`: the release namespace's, then one in each other namespace of
/// `job_namespaces`.
pub fn roles(ctx: &Context, values: &Values, job_namespaces: &[String]) -> Vec<Role> {
    if !values.role.create {
        return Vec::new();
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
    rules.extend(ctx.list::<PolicyRule>(&values.role.extra_permissions, "role.extraPermissions"));
    namespaces(ctx, job_namespaces)
        .map(|namespace| Role {
            metadata: in_namespace(ctx, &role_name(ctx), namespace),
            rules: Some(rules.clone()),
        })
        .collect()
}

/// The RoleBindings of the Roles to `service_account`, if `rolebinding.create`.
pub fn bindings(
    ctx: &Context,
    values: &Values,
    job_namespaces: &[String],
    service_account: &str,
) -> Vec<RoleBinding> {
    if !values.rolebinding.create {
        return Vec::new();
    }
    namespaces(ctx, job_namespaces)
        .map(|namespace| RoleBinding {
            metadata: in_namespace(ctx, &role_name(ctx), namespace),
            role_ref: RoleRef {
                api_group: RBAC_GROUP.to_owned(),
                kind: "Role".to_owned(),
                name: role_name(ctx),
            },
            subjects: Some(vec![account(ctx, service_account)]),
        })
        .collect()
}

/// The ClusterRole that lets the observer read flow-run pods, Jobs and events in every
/// namespace, if `config.observerClusterWide` and `role.create`.
pub fn observer_role(ctx: &Context, values: &Values) -> Option<ClusterRole> {
    if !values.config.observer_cluster_wide || !values.role.create {
        return None;
    }
    Some(ClusterRole {
        metadata: cluster_wide(ctx),
        rules: Some(vec![
            rule("", &["pods", "pods/log", "pods/status"], READ),
            rule("batch", &["jobs"], READ),
            rule("", &["events"], READ),
        ]),
        ..ClusterRole::default()
    })
}

/// Its ClusterRoleBinding to `service_account`, if `config.observerClusterWide` and
/// `rolebinding.create`.
pub fn observer_binding(
    ctx: &Context,
    values: &Values,
    service_account: &str,
) -> Option<ClusterRoleBinding> {
    if !values.config.observer_cluster_wide || !values.rolebinding.create {
        return None;
    }
    let metadata = cluster_wide(ctx);
    Some(ClusterRoleBinding {
        role_ref: RoleRef {
            api_group: RBAC_GROUP.to_owned(),
            kind: "ClusterRole".to_owned(),
            name: metadata.name.clone().unwrap_or_default(),
        },
        metadata,
        subjects: Some(vec![account(ctx, service_account)]),
    })
}

/// The release namespace, then the other namespaces flow runs go to.
fn namespaces<'a>(ctx: &'a Context, job_namespaces: &'a [String]) -> impl Iterator<Item = &'a str> {
    let release = ctx.namespace();
    std::iter::once(release)
        .chain(job_namespaces.iter().map(String::as_str).filter(move |ns| *ns != release))
}

/// The release's metadata for `name` in `namespace`.
fn in_namespace(ctx: &Context, name: &str, namespace: &str) -> ObjectMeta {
    let mut metadata = ctx.metadata(name, COMPONENT);
    metadata.namespace = Some(namespace.to_owned());
    metadata
}

/// The observer's cluster-scoped metadata: the name says the namespace too, since releases of
/// the same name in two namespaces share the cluster's names.
fn cluster_wide(ctx: &Context) -> ObjectMeta {
    let name = format!("{}-{}-observer", ctx.namespace(), ctx.full_name(COMPONENT));
    let mut metadata = ctx.metadata(&name, COMPONENT);
    metadata.namespace = None;
    metadata
}

/// The worker's ServiceAccount, in the release namespace.
fn account(ctx: &Context, service_account: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".to_owned(),
        name: service_account.to_owned(),
        namespace: Some(ctx.namespace().to_owned()),
        ..Subject::default()
    }
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
