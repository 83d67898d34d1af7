//! Events about pods, as the kubelet records them (`Pulling`, `Started`, `Unhealthy`,
//! `BackOff`, `FailedMount`, `Killing`...): `kubectl describe` and `prefectctl apply --wait`
//! show them. An event already recorded for a pod is not recorded again.

use std::{collections::BTreeSet, sync::Mutex};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::{Api, Client, api::PostParams};
use serde_json::json;

use crate::status::now;

/// Records events from one node.
pub struct Events {
    client: Client,
    node: String,
    seen: Mutex<BTreeSet<(String, String, String)>>,
}

impl Events {
    /// Events from `node`.
    pub fn new(client: Client, node: &str) -> Events {
        Events { client, node: node.to_owned(), seen: Mutex::default() }
    }

    /// A `Normal` event.
    pub async fn normal(&self, pod: &Pod, reason: &str, message: &str) {
        self.record(pod, "Normal", reason, message).await;
    }

    /// A `Warning` event.
    pub async fn warning(&self, pod: &Pod, reason: &str, message: &str) {
        self.record(pod, "Warning", reason, message).await;
    }

    async fn record(&self, pod: &Pod, kind: &str, reason: &str, message: &str) {
        let (Some(namespace), Some(name), Some(uid)) =
            (&pod.metadata.namespace, &pod.metadata.name, &pod.metadata.uid)
        else {
            return;
        };
        let key = (uid.clone(), reason.to_owned(), message.to_owned());
        if !self.seen.lock().unwrap().insert(key) {
            return;
        }
        let at = now();
        let event: Event = match serde_json::from_value(json!({
            "metadata": { "generateName": format!("{name}.") , "namespace": namespace },
            "involvedObject": {
                "kind": "Pod", "apiVersion": "v1", "namespace": namespace, "name": name, "uid": uid,
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": { "component": "kubelet", "host": self.node },
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
        })) {
            Ok(event) => event,
            Err(_) => return,
        };
        let _ = Api::<Event>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &event)
            .await;
    }
}
