//! Reading, applying and deleting objects of any kind, addressed by a [`Target`].
//!
//! Writes are server-side apply with the field manager `prefectctl`: the server merges what
//! prefectctl sets with what others set, and a field another manager owns is a conflict
//! ([`Error::Conflict`]) unless forced.

use kube::{
    Api,
    api::{
        DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
    },
};
use serde_json::Value;

use crate::{Cluster, Error, Result, Target};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "prefectctl";

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// The server validates and computes the result but stores nothing.
    pub dry_run: bool,
    /// Takes over fields that another field manager owns.
    pub force: bool,
}

impl Cluster {
    fn api(&self, target: &Target, namespace: Option<&str>) -> Api<DynamicObject> {
        match (target.namespaced, namespace) {
            (true, Some(namespace)) => {
                Api::namespaced_with(self.client.clone(), namespace, &target.resource)
            }
            _ => Api::all_with(self.client.clone(), &target.resource),
        }
    }

    /// The live object, or `None` when there is none.
    pub async fn get(
        &self,
        target: &Target,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>> {
        let found = self.api(target, namespace).get_opt(name).await.map_err(|err| {
            Error::api(format!("read {}", describe(target, namespace, name)), err)
        })?;
        Ok(found.map(to_value))
    }

    /// Server-side applies `object` (which names its kind, namespace and name) and returns the
    /// object as the server stored it (or would, in a dry run).
    pub async fn apply(
        &self,
        target: &Target,
        object: &Value,
        options: ApplyOptions,
    ) -> Result<Value> {
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.force = options.force;
        params.dry_run = options.dry_run;
        let applied =
            self.api(target, namespace).patch(name, &params, &Patch::Apply(object)).await.map_err(
                |err| Error::api(format!("apply {}", describe(target, namespace, name)), err),
            )?;
        Ok(to_value(applied))
    }

    /// Creates `object`; `Ok(false)` when one of that name exists already.
    pub async fn create(&self, target: &Target, object: &Value) -> Result<bool> {
        let namespace = object["metadata"]["namespace"].as_str();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let typed: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|err| Error::Api {
                action: format!("create {}", describe(target, namespace, name)),
                reason: err.to_string(),
                code: 0,
            })?;
        let params =
            PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() };
        match self.api(target, namespace).create(&params, &typed).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => {
                Err(Error::api(format!("create {}", describe(target, namespace, name)), err))
            }
        }
    }

    /// JSON-merge-patches the object (a `resourceVersion` in `patch` makes it conditional).
    pub async fn merge_patch(
        &self,
        target: &Target,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value> {
        let params =
            PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
        let patched =
            self.api(target, namespace).patch(name, &params, &Patch::Merge(patch)).await.map_err(
                |err| Error::api(format!("patch {}", describe(target, namespace, name)), err),
            )?;
        Ok(to_value(patched))
    }

    /// Deletes the object and its dependents first (foreground): when it is gone, so are its
    /// pods. `Ok(false)` when it was gone.
    pub async fn delete_with_dependents(
        &self,
        target: &Target,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool> {
        self.delete_propagating(target, namespace, name, PropagationPolicy::Foreground).await
    }

    /// Deletes the object (its dependents in the background); `Ok(false)` when it was gone.
    pub async fn delete(
        &self,
        target: &Target,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool> {
        self.delete_propagating(target, namespace, name, PropagationPolicy::Background).await
    }

    async fn delete_propagating(
        &self,
        target: &Target,
        namespace: Option<&str>,
        name: &str,
        policy: PropagationPolicy,
    ) -> Result<bool> {
        let params = DeleteParams { propagation_policy: Some(policy), ..DeleteParams::default() };
        match self.api(target, namespace).delete(name, &params).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(err) => {
                Err(Error::api(format!("delete {}", describe(target, namespace, name)), err))
            }
        }
    }

    /// The objects of `target` in `namespace` (every namespace when `None`) matching
    /// `label_selector`.
    pub async fn list(
        &self,
        target: &Target,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>> {
        let params = ListParams::default().labels(label_selector);
        let list = self
            .api(target, namespace)
            .list(&params)
            .await
            .map_err(|err| Error::api(format!("list {}", target.resource.plural), err))?;
        Ok(list.items.into_iter().map(to_value).collect())
    }

    /// The metadata of the objects of `target` in `namespace` (every namespace when `None`)
    /// matching `label_selector`: each as `{"metadata": {...}}` (name, labels, annotations,
    /// resourceVersion, managed fields), in one list request that reads storage (never a
    /// cache that may lag behind) and carries no spec, status or data.
    pub async fn list_metadata(
        &self,
        target: &Target,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>> {
        let params = ListParams::default().labels(label_selector);
        let list = self.api(target, namespace).list_metadata(&params).await.map_err(|err| {
            let within = namespace.map(|n| format!(" in namespace {n}")).unwrap_or_default();
            Error::api(format!("list {}{within}", target.resource.plural), err)
        })?;
        Ok(list
            .items
            .into_iter()
            .map(|object| serde_json::json!({ "metadata": object.metadata }))
            .collect())
    }
}

/// `Deployment/prefect/prefect-server`, as messages name objects.
pub fn describe(target: &Target, namespace: Option<&str>, name: &str) -> String {
    match (target.namespaced, namespace) {
        (true, Some(namespace)) => format!("{}/{namespace}/{name}", target.resource.kind),
        _ => format!("{}/{name}", target.resource.kind),
    }
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}
