//! Reading what runs: pods, Jobs, a container's last log lines, a Secret's key, the
//! StorageClasses; what `status` and `doctor` look at beside the release's own objects.

use k8s_openapi::{
    api::{
        batch::v1::Job,
        core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret},
        storage::v1::StorageClass,
    },
    serde::de::DeserializeOwned,
};
use kube::{
    Api, Resource,
    api::{ListParams, LogParams},
};

use crate::{Cluster, Error, Result};

impl Cluster {
    /// The pods of `namespace` matching `label_selector`.
    pub async fn pods(&self, namespace: &str, label_selector: &str) -> Result<Vec<Pod>> {
        self.typed_list(namespace, label_selector, "pods").await
    }

    /// The Jobs of `namespace` matching `label_selector`.
    pub async fn jobs(&self, namespace: &str, label_selector: &str) -> Result<Vec<Job>> {
        self.typed_list(namespace, label_selector, "jobs").await
    }

    /// The PersistentVolumeClaims of `namespace` matching `label_selector` (a StatefulSet's
    /// claims are made by its controller, not by the release).
    pub async fn claims(
        &self,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<PersistentVolumeClaim>> {
        self.typed_list(namespace, label_selector, "persistentvolumeclaims").await
    }

    async fn typed_list<K>(
        &self,
        namespace: &str,
        label_selector: &str,
        what: &str,
    ) -> Result<Vec<K>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let list = api
            .list(&ListParams::default().labels(label_selector))
            .await
            .map_err(|err| Error::api(format!("list the {what} of namespace {namespace}"), err))?;
        Ok(list.items)
    }

    /// The last `lines` lines `container` of `pod` wrote, in its current run or (`previous`)
    /// the one before.
    pub async fn log_tail(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        lines: i64,
    ) -> Result<String> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = LogParams {
            container: Some(container.to_owned()),
            previous,
            tail_lines: Some(lines),
            ..LogParams::default()
        };
        api.logs(pod, &params).await.map_err(|err| {
            Error::api(
                format!("read the log of container {container} of Pod {namespace}/{pod}"),
                err,
            )
        })
    }

    /// The live Service, as JSON.
    pub async fn service(&self, namespace: &str, name: &str) -> Result<Option<serde_json::Value>> {
        let services = crate::discovery::builtin("v1", "Service", "services", true);
        self.get(&services, Some(namespace), name).await
    }

    /// The value of `key` in Secret `name`, `None` when the Secret or the key is missing.
    pub async fn secret_key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get_opt(name)
            .await
            .map_err(|err| Error::api(format!("read Secret {namespace}/{name}"), err))?;
        Ok(secret
            .and_then(|s| s.data)
            .and_then(|mut data| data.remove(key))
            .map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned()))
    }

    /// The value of `key` in ConfigMap `name`, `None` when the ConfigMap or the key is missing.
    pub async fn config_map_key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let map = api
            .get_opt(name)
            .await
            .map_err(|err| Error::api(format!("read ConfigMap {namespace}/{name}"), err))?;
        Ok(map.and_then(|m| m.data).and_then(|mut data| data.remove(key)))
    }

    /// Every StorageClass.
    pub async fn storage_classes(&self) -> Result<Vec<StorageClass>> {
        let api: Api<StorageClass> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|err| Error::api("list the StorageClasses", err))?;
        Ok(list.items)
    }
}
