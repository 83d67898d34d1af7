//! Services as kube-proxy (in its original userspace mode) and cluster DNS make them: a
//! listener on each cluster IP and TCP port in the node namespace that forwards every
//! connection to a ready endpoint the controller manager put in the Service's Endpoints. A
//! wrong selector, a missing port name or a pod that is not ready leaves no endpoint, and the
//! connection is closed, as a real cluster would refuse it.
//!
//! `default/kubernetes` is the API server itself, reached on this machine's loopback (its
//! Endpoints are not maintained by this control plane).

use std::{
    collections::{BTreeMap, BTreeSet},
    io,
    net::{Ipv4Addr, SocketAddr, TcpStream},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use k8s_openapi::api::core::v1::{Endpoints, Service};

use crate::network::NodeNetwork;

/// The cluster's Services and their endpoints, as the proxy and DNS read them.
#[derive(Debug, Default, Clone)]
pub struct Table {
    /// `(cluster IP, port)` → where connections go.
    pub backends: BTreeMap<(Ipv4Addr, u16), Backends>,
    /// Fully qualified names (`name.ns.svc.cluster.local`, lower case) → addresses.
    pub names: BTreeMap<String, Vec<Ipv4Addr>>,
}

/// Where connections to one Service port go.
#[derive(Debug, Clone)]
pub enum Backends {
    /// Ready pod endpoints.
    Pods(Vec<SocketAddr>),
    /// The API server on this machine's loopback.
    ApiServer(SocketAddr),
}

/// The cluster domain.
pub const DOMAIN: &str = "cluster.local";

impl Table {
    /// The table of `services` and `endpoints`; `api_server` is where `default/kubernetes`
    /// goes.
    pub fn build(services: &[Service], endpoints: &[Endpoints], api_server: SocketAddr) -> Table {
        let mut table = Table::default();
        for service in services {
            let (Some(namespace), Some(name), Some(spec)) = (
                service.metadata.namespace.as_deref(),
                service.metadata.name.as_deref(),
                service.spec.as_ref(),
            ) else {
                continue;
            };
            let endpoint = endpoints.iter().find(|e| {
                e.metadata.namespace.as_deref() == Some(namespace)
                    && e.metadata.name.as_deref() == Some(name)
            });
            let fqdn = format!("{name}.{namespace}.svc.{DOMAIN}");
            let cluster_ip = spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<Ipv4Addr>().ok());
            let Some(cluster_ip) = cluster_ip else {
                // Headless: the name is the ready pods' addresses, and each pod with a
                // hostname has its own.
                let mut all = Vec::new();
                for subset in endpoint.and_then(|e| e.subsets.as_ref()).into_iter().flatten() {
                    for address in subset.addresses.iter().flatten() {
                        let Ok(ip) = address.ip.parse::<Ipv4Addr>() else { continue };
                        all.push(ip);
                        if let Some(host) = &address.hostname {
                            table.names.insert(format!("{host}.{fqdn}"), vec![ip]);
                        }
                    }
                }
                table.names.insert(fqdn, all);
                continue;
            };
            table.names.insert(fqdn, vec![cluster_ip]);
            let is_api_server = namespace == "default" && name == "kubernetes";
            for port in spec.ports.iter().flatten() {
                if port.protocol.as_deref().unwrap_or("TCP") != "TCP" {
                    continue;
                }
                let backends = if is_api_server {
                    Backends::ApiServer(api_server)
                } else {
                    Backends::Pods(ready_endpoints(endpoint, port.name.as_deref()))
                };
                table.backends.insert((cluster_ip, port.port as u16), backends);
            }
        }
        table
    }
}

/// The ready addresses of the Endpoints' port named like the Service port.
fn ready_endpoints(endpoints: Option<&Endpoints>, port_name: Option<&str>) -> Vec<SocketAddr> {
    let mut all = Vec::new();
    for subset in endpoints.and_then(|e| e.subsets.as_ref()).into_iter().flatten() {
        let Some(port) = subset
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name.unwrap_or(""))
        else {
            continue;
        };
        for address in subset.addresses.iter().flatten() {
            if let Ok(ip) = address.ip.parse::<Ipv4Addr>() {
                all.push(SocketAddr::from((ip, port.port as u16)));
            }
        }
    }
    all
}

/// The proxy: listeners on the cluster IPs of the node namespace.
pub struct Proxy {
    node: Arc<NodeNetwork>,
    table: Arc<RwLock<Table>>,
    listening: std::sync::Mutex<BTreeMap<(Ipv4Addr, u16), Arc<AtomicBool>>>,
}

impl Proxy {
    /// A proxy in `node`'s namespace that forwards as `table` says.
    pub fn new(node: Arc<NodeNetwork>, table: Arc<RwLock<Table>>) -> Proxy {
        Proxy { node, table, listening: Default::default() }
    }

    /// Listens on every port of the table and stops listening on ports no longer in it.
    pub fn sync(&self) {
        let wanted: BTreeSet<(Ipv4Addr, u16)> =
            self.table.read().unwrap().backends.keys().copied().collect();
        let mut listening = self.listening.lock().unwrap();
        let stale: Vec<_> = listening.keys().filter(|key| !wanted.contains(key)).copied().collect();
        for key in stale {
            if let Some(stop) = listening.remove(&key) {
                stop.store(true, Ordering::Relaxed);
            }
            if !listening.keys().any(|(ip, _)| *ip == key.0) {
                self.node.remove_service_ip(key.0);
            }
        }
        for key in wanted {
            if listening.contains_key(&key) {
                continue;
            }
            match self.listen(key) {
                Ok(stop) => {
                    listening.insert(key, stop);
                }
                Err(err) => {
                    eprintln!("kubelet stand-in: cannot proxy {}:{}: {err:#}", key.0, key.1)
                }
            }
        }
    }

    fn listen(&self, (ip, port): (Ipv4Addr, u16)) -> anyhow::Result<Arc<AtomicBool>> {
        self.node.add_service_ip(ip)?;
        let listener = self.node.listen(SocketAddr::from((ip, port)))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (node, table, stopped) = (self.node.clone(), self.table.clone(), stop.clone());
        let turn = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let backends = table.read().unwrap().backends.get(&(ip, port)).cloned();
                        let (node, turn) = (node.clone(), turn.clone());
                        std::thread::spawn(move || forward(client, backends, &node, &turn));
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(stop)
    }
}

/// Connects `client` to a backend, round robin, and copies both ways until either side ends.
fn forward(client: TcpStream, backends: Option<Backends>, node: &NodeNetwork, turn: &AtomicUsize) {
    let _ = client.set_nonblocking(false);
    let timeout = Duration::from_secs(3);
    let server = match backends {
        Some(Backends::ApiServer(address)) => TcpStream::connect_timeout(&address, timeout),
        Some(Backends::Pods(pods)) if !pods.is_empty() => {
            let pick = pods[turn.fetch_add(1, Ordering::Relaxed) % pods.len()];
            node.connect(pick, timeout)
        }
        _ => return,
    };
    let Ok(server) = server else { return };
    let (Ok(client_read), Ok(server_read)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || copy(client_read, server));
    copy(server_read, client);
    let _ = upstream.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}
