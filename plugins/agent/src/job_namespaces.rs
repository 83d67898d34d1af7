//! The namespaces flow runs go to (`config.jobNamespace`): the release namespace unless the
//! values name others. The worker's Role and RoleBinding are made in each ([`crate::rbac`]),
//! its observer watches them, and a pool it creates sends flow runs to the first.
//!
//! A flow-run Job reads a credential the worker names by Secret reference from a Secret of its
//! own namespace: outside the release namespace, that Secret is the user's to create, and the
//! plugin says which ([`check_secrets`]).

use prefect_plugin_sdk::{Context, k8s_openapi::api::core::v1::EnvVar};

use crate::api;

/// The namespaces of `config.jobNamespace`, in the order given, without repeats; the release
/// namespace when it names none. A name that cannot be a namespace is reported.
pub fn resolve(ctx: &Context, job_namespace: &str) -> Vec<String> {
    let mut namespaces: Vec<String> = Vec::new();
    for name in job_namespace.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        if !is_label(name) {
            ctx.error(
                "config.jobNamespace",
                format!(
                    "{name:?} is not a namespace name (lower-case letters, digits and `-`, at most \
                     63): give namespaces separated by commas, such as flows,team-b"
                ),
            );
        } else if !namespaces.iter().any(|known| known == name) {
            namespaces.push(name.to_owned());
        }
    }
    if namespaces.is_empty() {
        namespaces.push(ctx.namespace().to_owned());
    }
    namespaces
}

/// Warns of each Secret the worker's environment `env` has flow-run Jobs read a credential
/// from, which Jobs in `namespaces` outside the release namespace find only once it is created
/// there.
pub fn check_secrets(ctx: &Context, env: &[EnvVar], namespaces: &[String]) {
    let elsewhere: Vec<&str> = namespaces
        .iter()
        .map(String::as_str)
        .filter(|namespace| *namespace != ctx.namespace())
        .collect();
    if elsewhere.is_empty() {
        return;
    }
    for (credential, secret) in api::job_secret_references(env) {
        ctx.warn(
            "config.jobNamespace",
            format!(
                "flow-run Jobs read {credential} from Secret {secret} of their own namespace: \
                 create it in {} too (it is in {}), or their pods will not start",
                elsewhere.join(", "),
                ctx.namespace()
            ),
        );
    }
}

/// Whether `name` is a DNS-1123 label, as namespace names are.
fn is_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}
