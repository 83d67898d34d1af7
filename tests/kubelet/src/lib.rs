//! A kubelet stand-in for the integration tests: it runs the pods of a test API server the way
//! a kubelet on a node would, on a machine with no container runtime.
//!
//! The test control plane (`../shared/k8s`) has an API server and a controller manager, no
//! scheduler and no kubelet: Deployments get pods that stay Pending for ever. Started beside
//! it, the stand-in registers a Node and binds every unscheduled pod to it (the scheduler's
//! part), then for each pod:
//!
//! - gives it a network namespace and a pod IP on the node's bridge ([`network`]), so the
//!   controller manager computes real Endpoints, and Service names resolve ([`dns`]) to
//!   cluster IPs that forward to those endpoints ([`services`]); this machine routes the
//!   node's own pod subnet, so the API server reaches pods (its Service proxy) and the
//!   node's address as it would on a cluster;
//! - admits it as OpenShift's restricted-v2 would in a namespace with a uid range
//!   ([`openshift`]);
//! - makes its volumes ([`volumes`], claims provisioned by [`storage`]);
//! - runs its init containers, then its containers, each as a process in a sandbox of its own
//!   ([`sandbox`]) with the image's stand-in ([`images`]), the environment the kubelet
//!   builds ([`mod@env`]), its user and groups and its mounts ([`container`]);
//! - runs its probes ([`probe`]), restarts what `restartPolicy` restarts ([`pod`]) and writes
//!   its status back through the API ([`status`]), with events ([`events`]).
//!
//! The node serves the kubelet API the API server proxies to ([`kubelet_api`], on the node's
//! address, port 10250): `kubectl logs`, with `--previous` and `--tail`, reads a container's
//! runs ([`container_logs`]; each is a file under the state folder:
//! `pods/<ns>_<pod>_<uid>/logs/<container>/<start>.log`), and `pods/portforward` reaches a
//! pod's ports over a WebSocket as kube-rs speaks it ([`port_forward`]).
//!
//! Faithful where the tests need the truth (commands, env, users, files, ports, names,
//! readiness); simpler elsewhere, and said so: one node; no resource limits or seccomp; the
//! image's `/usr` and `/etc` are this machine's, read-only even when the root filesystem is
//! writable; Secret and ConfigMap volumes are not refreshed while a pod runs; logs have no
//! timestamps and are not followed; port-forwards over SPDY (what `kubectl port-forward` 1.32
//! falls back to against a 1.20 API server) are refused, so `kubectl port-forward` does not
//! work; no `exec` or `attach`. It needs root (namespaces, users), `ip` (iproute2), `bwrap`
//! (bubblewrap), `setpriv` and `nsenter` (util-linux) and `tini`.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod container;
pub mod container_logs;
pub mod dns;
pub mod env;
pub mod events;
pub mod images;
pub mod kubelet_api;
pub mod network;
pub mod openshift;
pub mod pod;
pub mod port_forward;
pub mod probe;
pub mod python;
pub mod sandbox;
pub mod services;
pub mod status;
pub mod storage;
pub mod volumes;

use std::{
    collections::BTreeMap,
    net::{SocketAddr, ToSocketAddrs},
    path::PathBuf,
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::{Binding, Endpoints, Pod, Service};
use kube::{
    Api, Client, Config,
    api::{ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::json;
use tokio::sync::watch;

/// How to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The kubeconfig of the API server (an admin's).
    pub kubeconfig: PathBuf,
    /// The Node's name.
    pub node_name: String,
    /// Where pods and volumes keep their folders.
    pub state: PathBuf,
}

/// The programs the stand-in runs pods with.
const TOOLS: &[(&str, &str)] = &[
    ("/usr/bin/bwrap", "bubblewrap"),
    ("/usr/bin/setpriv", "util-linux"),
    ("/usr/bin/nsenter", "util-linux"),
    ("/usr/bin/tini", "tini"),
    ("/usr/sbin/ip", "iproute2"),
];

/// Runs the node until `shutdown` resolves; then stops every pod and removes the network.
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!("the kubelet stand-in makes namespaces and runs pods as their users: run it as root");
    }
    for (tool, package) in TOOLS {
        if !std::path::Path::new(tool).is_file() {
            bail!("{tool} is missing: install Debian's {package}");
        }
    }
    std::fs::create_dir_all(&settings.state)
        .with_context(|| format!("create {}", settings.state.display()))?;
    let kubeconfig = Kubeconfig::read_from(&settings.kubeconfig)
        .with_context(|| format!("read {}", settings.kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let api_server = api_server_address(&config)?;
    let client = Client::try_from(config)?;

    network::remove_abandoned();
    let network = Arc::new(network::NodeNetwork::create(&format!("psi{}", std::process::id()))?);
    cluster::register_node(&client, &settings.node_name, network.gateway()).await?;
    cluster::storage_class(&client).await?;
    cluster::dns_service(&client).await?;

    let table = Arc::new(RwLock::new(services::Table::default()));
    network.add_service_ip(dns::ADDRESS)?;
    dns::serve(network.udp(dns::socket_address())?, table.clone());
    let proxy = services::Proxy::new(network.clone(), table.clone());
    let node = Arc::new(pod::Node {
        client: client.clone(),
        name: settings.node_name.clone(),
        network: network.clone(),
        dir: settings.state.clone(),
        services: RwLock::new(Vec::new()),
        events: events::Events::new(client.clone(), &settings.node_name),
    });
    let kubelet_api = kubelet_api::serve(node.clone(), network.gateway())?;

    let mut pods: BTreeMap<String, (watch::Sender<Option<Pod>>, tokio::task::JoinHandle<()>)> =
        BTreeMap::new();
    tokio::pin!(shutdown);
    loop {
        if let Err(err) = sync_services(&client, &node, &table, &proxy, api_server).await {
            eprintln!("kubelet stand-in: services: {err:#}");
        }
        if let Err(err) = storage::sync(&client, &settings.state).await {
            eprintln!("kubelet stand-in: volumes: {err:#}");
        }
        if let Err(err) = sync_pods(&node, &mut pods).await {
            eprintln!("kubelet stand-in: pods: {err:#}");
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    // Stop every pod at once, without grace: the test is over.
    for (updates, _) in pods.values() {
        let _ = updates.send(None);
    }
    for (_, (_, task)) in pods {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    kubelet_api.abort();
    network.remove();
    Ok(())
}

/// Where `default/kubernetes` leads: the API server of the kubeconfig.
fn api_server_address(config: &Config) -> Result<SocketAddr> {
    let host = config.cluster_url.host().context("the kubeconfig's server has no host")?;
    let port = config.cluster_url.port_u16().unwrap_or(443);
    (host, port)
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve the API server {host}"))
}

async fn sync_services(
    client: &Client,
    node: &pod::Node,
    table: &RwLock<services::Table>,
    proxy: &services::Proxy,
    api_server: SocketAddr,
) -> Result<()> {
    let services = Api::<Service>::all(client.clone()).list(&ListParams::default()).await?.items;
    let endpoints = Api::<Endpoints>::all(client.clone()).list(&ListParams::default()).await?.items;
    *table.write().unwrap() = services::Table::build(&services, &endpoints, api_server);
    *node.services.write().unwrap() = services;
    proxy.sync();
    Ok(())
}

/// Binds unscheduled pods to the node, starts the pods bound to it and tells each running pod
/// what the API now says of it.
async fn sync_pods(
    node: &Arc<pod::Node>,
    pods: &mut BTreeMap<String, (watch::Sender<Option<Pod>>, tokio::task::JoinHandle<()>)>,
) -> Result<()> {
    let listed = Api::<Pod>::all(node.client.clone()).list(&ListParams::default()).await?.items;
    let mut seen = Vec::new();
    for pod in listed {
        let spec = pod.spec.as_ref();
        let node_name = spec.and_then(|s| s.node_name.as_deref());
        let (Some(uid), Some(namespace), Some(name)) =
            (&pod.metadata.uid, &pod.metadata.namespace, &pod.metadata.name)
        else {
            continue;
        };
        if node_name.is_none() {
            let scheduler =
                spec.and_then(|s| s.scheduler_name.as_deref()).unwrap_or("default-scheduler");
            if scheduler == "default-scheduler" && pod.metadata.deletion_timestamp.is_none() {
                bind(node, namespace, name).await;
            }
            continue;
        }
        if node_name != Some(node.name.as_str()) {
            continue;
        }
        seen.push(uid.clone());
        match pods.get(uid) {
            Some((updates, _)) => {
                updates.send_if_modified(|current| {
                    let changed =
                        current.as_ref().and_then(|p| p.metadata.resource_version.as_ref())
                            != pod.metadata.resource_version.as_ref();
                    if changed {
                        *current = Some(pod.clone());
                    }
                    changed
                });
            }
            None => {
                let (updates, receiver) = watch::channel(Some(pod.clone()));
                let task = tokio::spawn(pod::run(node.clone(), receiver));
                pods.insert(uid.clone(), (updates, task));
            }
        }
    }
    for (uid, (updates, _)) in pods.iter() {
        if !seen.contains(uid) {
            let _ = updates.send(None);
        }
    }
    pods.retain(|uid, (_, task)| seen.contains(uid) || !task.is_finished());
    Ok(())
}

/// The scheduler's part: binds the pod to the node.
async fn bind(node: &pod::Node, namespace: &str, name: &str) {
    let binding: Binding = match serde_json::from_value(json!({
        "metadata": { "name": name, "namespace": namespace },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node.name },
    })) {
        Ok(binding) => binding,
        Err(_) => return,
    };
    let _ = Api::<Pod>::namespaced(node.client.clone(), namespace)
        .create_subresource::<Binding, serde_json::Value>(
            "binding",
            name,
            &PostParams::default(),
            &binding,
        )
        .await;
}
