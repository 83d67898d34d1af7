//! What the kubeconfig's user may do, asked before the first write, so that a command the user
//! lacks rights for fails whole, naming the verb and the resource, instead of half-way.
//!
//! One SelfSubjectRulesReview lists the user's rules in a namespace (cluster-wide rules
//! included); a cluster-scoped permission those rules grant is confirmed with a
//! SelfSubjectAccessReview. Every review of a check is sent at once. An authorizer that cannot
//! list its rules (the review says `incomplete`) is trusted to decide at write time.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
};
use kube::{Api, api::PostParams};

use crate::{Cluster, Error, Result};

/// Something the user needs to be allowed to do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    /// `create`, `patch`, `delete`...
    pub verb: &'static str,
    /// The API group, `""` for the core group.
    pub group: String,
    /// The resource (plural): `deployments`.
    pub resource: String,
    /// The namespace; `None` for a cluster-scoped resource.
    pub namespace: Option<String>,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let resource = if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        match &self.namespace {
            Some(namespace) => write!(f, "{} {resource} in namespace {namespace}", self.verb),
            None => write!(f, "{} {resource} (cluster-wide)", self.verb),
        }
    }
}

impl Cluster {
    /// The permissions of `needed` that the user lacks (none when the server cannot say).
    ///
    /// One SelfSubjectRulesReview per namespace, all at once, answers the namespaced ones.
    /// Cluster-wide rules are part of every namespace's review, so a cluster-scoped permission
    /// that no rule of a complete review grants is missing; one that a rule grants may come
    /// from a binding of that namespace only, and is asked about with a
    /// SelfSubjectAccessReview (those at once too). Each permission is asked about once.
    pub async fn missing_permissions(&self, needed: &[Permission]) -> Result<Vec<Permission>> {
        let mut needed = needed.to_vec();
        needed.sort();
        needed.dedup();
        let mut namespaces: Vec<&str> =
            needed.iter().filter_map(|p| p.namespace.as_deref()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let reviews = futures::future::join_all(namespaces.iter().map(|namespace| async move {
            self.rules_in(namespace).await.map(|rules| (*namespace, rules))
        }))
        .await;
        let reviews: Vec<(&str, Option<Vec<ResourceRule>>)> =
            reviews.into_iter().collect::<Result<_>>()?;
        // A complete review, for the cluster-wide rules.
        let cluster_wide = reviews.iter().find_map(|(_, rules)| rules.as_ref());
        let mut missing = Vec::new();
        let mut to_ask = Vec::new();
        for permission in &needed {
            match &permission.namespace {
                Some(namespace) => {
                    let rules = reviews.iter().find(|(n, _)| n == namespace);
                    let Some((_, Some(rules))) = rules else { continue };
                    if !allows(rules, permission) {
                        missing.push(permission.clone());
                    }
                }
                None if cluster_wide.is_some_and(|rules| !allows(rules, permission)) => {
                    missing.push(permission.clone());
                }
                None => to_ask.push(permission),
            }
        }
        let answers =
            futures::future::join_all(to_ask.iter().map(|permission| self.may(permission))).await;
        for (permission, allowed) in to_ask.into_iter().zip(answers) {
            if !allowed? {
                missing.push(permission.clone());
            }
        }
        missing.sort();
        Ok(missing)
    }

    /// The user's rules in `namespace` (cluster-wide ones included); `None` when the
    /// authorizer cannot list them all (the review says `incomplete`), which leaves the
    /// decision to write time.
    async fn rules_in(&self, namespace: &str) -> Result<Option<Vec<ResourceRule>>> {
        let reviews: Api<SelfSubjectRulesReview> = Api::all(self.client.clone());
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_owned()) },
            ..SelfSubjectRulesReview::default()
        };
        let answer = reviews.create(&PostParams::default(), &review).await.map_err(|err| {
            Error::api(format!("ask which rights you have in namespace {namespace}"), err)
        })?;
        Ok(answer.status.filter(|status| !status.incomplete).map(|status| status.resource_rules))
    }

    /// Whether the user may do `permission`, by a SelfSubjectAccessReview.
    async fn may(&self, permission: &Permission) -> Result<bool> {
        let access: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(permission.verb.to_owned()),
                    group: Some(permission.group.clone()),
                    resource: Some(permission.resource.clone()),
                    namespace: permission.namespace.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = access
            .create(&PostParams::default(), &review)
            .await
            .map_err(|err| Error::api(format!("ask whether you may {permission}"), err))?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }
}

/// Whether one of `rules` grants `permission` on every object of its resource (a rule limited
/// to some names does not).
fn allows(rules: &[ResourceRule], permission: &Permission) -> bool {
    rules.iter().any(|rule| {
        matches(&rule.verbs, permission.verb)
            && matches(rule.api_groups.as_deref().unwrap_or_default(), &permission.group)
            && matches(rule.resources.as_deref().unwrap_or_default(), &permission.resource)
            && rule.resource_names.as_ref().is_none_or(Vec::is_empty)
    })
}

fn matches(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| p == "*" || p == value)
}
