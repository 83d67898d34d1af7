//! The ServiceAccount the server pods run as. Prefect's server never calls the Kubernetes
//! API, so the account's token is not mounted.

use prefect_plugin_sdk::{Context, k8s_openapi::api::core::v1::ServiceAccount};

use crate::{COMPONENT, values};

/// The name the pods run as, and the account to create (if `create` is on).
pub fn build(ctx: &Context, values: &values::ServiceAccount) -> (String, Option<ServiceAccount>) {
    if !values.create {
        let name = if values.name.is_empty() { "default".to_owned() } else { values.name.clone() };
        return (name, None);
    }
    let name = if values.name.is_empty() { ctx.full_name(COMPONENT) } else { values.name.clone() };
    let mut metadata = ctx.metadata(&name, COMPONENT);
    if !values.annotations.is_empty() {
        metadata.annotations = Some(values.annotations.clone());
    }
    let account = ServiceAccount {
        metadata,
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    (name, Some(account))
}
