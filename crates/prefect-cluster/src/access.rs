//! What the kubeconfig's user may do, asked before the first write, so that a command the user
//! lacks rights for fails whole, naming the verb and the resource, instead of half-way.
//!
//! One SelfSubjectRulesReview lists the user's rules in the namespace (cluster-wide rules
//! included); a cluster-scoped object is asked about with a SelfSubjectAccessReview. An
//! authorizer that cannot list its rules (the review says `incomplete`) is trusted to decide
//! at write time.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
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
    pub async fn missing_permissions(&self, needed: &[Permission]) -> Result<Vec<Permission>> {
        let mut missing = Vec::new();
        let mut namespaces: Vec<&str> =
            needed.iter().filter_map(|p| p.namespace.as_deref()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let reviews: Api<SelfSubjectRulesReview> = Api::all(self.client.clone());
        for namespace in namespaces {
            let review = SelfSubjectRulesReview {
                spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_owned()) },
                ..SelfSubjectRulesReview::default()
            };
            let answer = reviews.create(&PostParams::default(), &review).await.map_err(|err| {
                Error::api(format!("ask which rights you have in namespace {namespace}"), err)
            })?;
            let Some(status) = answer.status else { continue };
            if status.incomplete {
                continue;
            }
            for permission in needed.iter().filter(|p| p.namespace.as_deref() == Some(namespace)) {
                let allowed = status.resource_rules.iter().any(|rule| {
                    matches(&rule.verbs, permission.verb)
                        && matches(
                            rule.api_groups.as_deref().unwrap_or_default(),
                            &permission.group,
                        )
                        && matches(
                            rule.resources.as_deref().unwrap_or_default(),
                            &permission.resource,
                        )
                        && rule.resource_names.as_ref().is_none_or(Vec::is_empty)
                });
                if !allowed {
                    missing.push(permission.clone());
                }
            }
        }
        let access: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        for permission in needed.iter().filter(|p| p.namespace.is_none()) {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(permission.verb.to_owned()),
                        group: Some(permission.group.clone()),
                        resource: Some(permission.resource.clone()),
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
            if !answer.status.is_some_and(|s| s.allowed) {
                missing.push(permission.clone());
            }
        }
        missing.sort();
        missing.dedup();
        Ok(missing)
    }
}

fn matches(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| p == "*" || p == value)
}
