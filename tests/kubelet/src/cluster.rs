//! What a cluster's node and add-ons put in the API before pods arrive: the Node (Ready, with
//! its address, its capacity and the port of its API), the default StorageClass whose claims
//! the stand-in provisions, and the DNS Service whose cluster IP pods resolve names through.

use std::net::Ipv4Addr;

use anyhow::{Context as _, Result};
use k8s_openapi::api::{
    core::v1::{Node, Service},
    storage::v1::StorageClass,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use crate::{dns, kubelet_api, status::now, storage};

/// Registers the Node `name`, Ready, at `address` (the node's address on the pod bridge).
pub async fn register_node(client: &Client, name: &str, address: Ipv4Addr) -> Result<()> {
    let nodes = Api::<Node>::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
    }))?;
    if nodes.get_opt(name).await?.is_none() {
        nodes.create(&PostParams::default(), &node).await.context("register the Node")?;
    }
    let at = now();
    let capacity =
        json!({ "cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "50Gi" });
    let status = json!({
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            // No `Hostname` address: the API server tries that type first when it calls the
            // kubelet (`pods/log`, `pods/portforward`), and the node's name resolves nowhere.
            "addresses": [
                { "type": "InternalIP", "address": address.to_string() },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": kubelet_api::PORT } },
            "conditions": [
                { "type": "Ready", "status": "True", "reason": "KubeletReady",
                  "message": "kubelet stand-in is posting ready status",
                  "lastHeartbeatTime": at, "lastTransitionTime": at },
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
                "containerRuntimeVersion": "stand-in://bubblewrap", "operatingSystem": "linux",
                "architecture": "amd64", "osImage": "Debian (kubelet stand-in)",
                "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": "",
            },
        }
    });
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .context("report the Node ready")?;
    Ok(())
}

/// The default StorageClass, provisioned by [`storage`].
pub async fn storage_class(client: &Client) -> Result<()> {
    let classes = Api::<StorageClass>::all(client.clone());
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {
            "name": storage::CLASS,
            "annotations": { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        "provisioner": storage::PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }))?;
    if classes.get_opt(storage::CLASS).await?.is_none() {
        classes.create(&PostParams::default(), &class).await.context("create the StorageClass")?;
    }
    Ok(())
}

/// `kube-system/kube-dns`, which holds the DNS address so that no Service gets it.
pub async fn dns_service(client: &Client) -> Result<()> {
    let services = Api::<Service>::namespaced(client.clone(), "kube-system");
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "kube-dns", "labels": { "k8s-app": "kube-dns" } },
        "spec": {
            "clusterIP": dns::ADDRESS.to_string(),
            "selector": { "k8s-app": "kube-dns" },
            "ports": [ { "name": "dns", "port": 53, "protocol": "UDP" } ],
        },
    }))?;
    if services.get_opt("kube-dns").await?.is_none() {
        services
            .create(&PostParams::default(), &service)
            .await
            .context("create the DNS Service")?;
    }
    Ok(())
}
