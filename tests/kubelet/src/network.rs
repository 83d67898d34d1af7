//! The pod network: a network namespace for the node, with a bridge that every pod's own
//! namespace joins through a veth pair, as a CNI bridge plugin would make it. Pod IPs are
//! addresses of this stand-in's own subnet `10.244.N.0/24` inside those namespaces; the node's
//! address on the bridge ([`NodeNetwork::gateway`]) is the Node's InternalIP and the pods'
//! gateway. Service cluster IPs are addresses of the node namespace's loopback, where the
//! [`services`](crate::services) proxy listens.
//!
//! The API server runs in this machine's own network namespace, and reaches pods as it would
//! on a cluster: its Service proxy (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/`) dials
//! the endpoints' pod IPs, and it dials the kubelet on the Node's address. So the host has a
//! route to the pod subnet through a veth pair into the node namespace (`psi<pid>h` on the
//! host, `10.250.N.1/30`; `host0` in the node namespace, `10.250.N.2/30`), and the node
//! namespace, alone, forwards: pods answer through their default route, the gateway. Nothing
//! else changes on the host (no default route, no global sysctl), and neither the node nor the
//! pods have a route beyond that link (pods reach the host's end of it, as pods on a cluster
//! reach their node). Stand-ins that run at once each take their own `N` ([`subnet`]), so
//! their routes never meet.
//!
//! Sockets belong to the namespace of the thread that makes them, so the stand-in's own
//! sockets in the node namespace (proxy, DNS, probes) are made on a short-lived thread that
//! enters it first.

pub mod subnet;

use std::{
    collections::BTreeSet,
    fs::File,
    io,
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    path::Path,
    process::Command,
    sync::Mutex,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// The node-namespace end of the link from the host.
const NODE_END: &str = "host0";

/// The node's network namespace and its pod bridge.
#[derive(Debug)]
pub struct NodeNetwork {
    prefix: String,
    namespace: String,
    /// The host's end of the link to the node namespace, `<prefix>h`.
    host_end: String,
    /// The subnet, held while the network lives.
    lease: subnet::Lease,
    /// `/run/netns/<namespace>`, held open to enter it.
    handle: File,
    free: Mutex<BTreeSet<u8>>,
}

/// A pod's network namespace and address.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    /// The namespace's name (`ip netns exec <namespace>`).
    pub namespace: String,
    /// The pod IP.
    pub ip: Ipv4Addr,
}

fn run_ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("run ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

impl NodeNetwork {
    /// Makes the node namespace `<prefix>-node` with the bridge `cbr0` on a subnet of its own,
    /// and the host's route to it through the veth `<prefix>h`. Namespaces named `<prefix>-*`
    /// and the veth that an earlier run left behind are removed first.
    pub fn create(prefix: &str) -> Result<NodeNetwork> {
        let host_end = format!("{prefix}h");
        if host_end.len() > 15 {
            bail!("the network prefix {prefix} is too long for an interface name");
        }
        remove_namespaces(prefix);
        remove_link(&host_end);
        let lease = subnet::lease()?;
        let namespace = format!("{prefix}-node");
        let made = (|| {
            make_node(&namespace, &host_end, &lease.addresses)?;
            File::open(format!("/run/netns/{namespace}"))
                .with_context(|| format!("open the network namespace {namespace}"))
        })();
        let handle = match made {
            Ok(handle) => handle,
            Err(err) => {
                remove_link(&host_end);
                remove_namespaces(prefix);
                return Err(err);
            }
        };
        let network = NodeNetwork {
            prefix: prefix.to_owned(),
            namespace,
            host_end,
            lease,
            handle,
            free: Mutex::new((2..=254).collect()),
        };
        if let Err(err) = network.route_to_pods() {
            network.remove();
            return Err(err);
        }
        Ok(network)
    }

    /// Makes the node namespace forward (its own `ip_forward`: the host's stays as it is),
    /// then routes the pod subnet from the host through it.
    fn route_to_pods(&self) -> Result<()> {
        let forwarding = self
            .inside(|| {
                std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")?;
                std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            })
            .context("enable forwarding in the node namespace")?;
        if forwarding.trim() != "1" {
            bail!("the node namespace does not forward (ip_forward is {})", forwarding.trim());
        }
        let addresses = &self.lease.addresses;
        run_ip(&[
            "route",
            "add",
            &addresses.pods().to_string(),
            "via",
            &addresses.node_end().to_string(),
            "dev",
            &self.host_end,
            "src",
            &addresses.host_end().to_string(),
        ])
    }

    /// The node's address on the pod bridge, and the pods' gateway (`10.244.N.1`): the
    /// Node's InternalIP, reachable from the host.
    pub fn gateway(&self) -> Ipv4Addr {
        self.lease.addresses.gateway()
    }

    /// The pod subnet, `10.244.N.0/24`, routed from the host.
    pub fn subnet(&self) -> subnet::Ipv4Net {
        self.lease.addresses.pods()
    }

    /// A namespace and an address for a new pod, joined to the bridge.
    pub fn add_pod(&self, id: &str) -> Result<PodNetwork> {
        let octet = self.free.lock().unwrap().pop_first().context("the pod network is full")?;
        let ip = self.lease.addresses.pod(octet);
        let namespace = format!("{}-{id}", self.prefix);
        let veth = format!("veth{octet:03}");
        let node = self.namespace.as_str();
        let address = format!("{ip}/24");
        let gateway = self.gateway().to_string();
        let made = (|| {
            run_ip(&["netns", "add", &namespace])?;
            run_ip(&["-n", &namespace, "link", "set", "lo", "up"])?;
            run_ip(&[
                "-n", node, "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns",
                &namespace,
            ])?;
            run_ip(&["-n", node, "link", "set", &veth, "master", "cbr0", "up"])?;
            run_ip(&["-n", &namespace, "addr", "add", &address, "dev", "eth0"])?;
            run_ip(&["-n", &namespace, "link", "set", "eth0", "up"])?;
            run_ip(&["-n", &namespace, "route", "add", "default", "via", &gateway])
        })();
        if let Err(err) = made {
            let _ = run_ip(&["-n", node, "link", "del", &veth]);
            let _ = run_ip(&["netns", "del", &namespace]);
            self.free.lock().unwrap().insert(octet);
            return Err(err);
        }
        Ok(PodNetwork { namespace, ip })
    }

    /// Removes a pod's namespace (its veth pair goes with it) and frees its address.
    pub fn remove_pod(&self, pod: &PodNetwork) {
        let _ = run_ip(&["netns", "del", &pod.namespace]);
        if self.subnet().overlaps(&subnet::Ipv4Net { address: pod.ip, prefix: 32 }) {
            self.free.lock().unwrap().insert(pod.ip.octets()[3]);
        }
    }

    /// Adds a Service's cluster IP to the node namespace, where the proxy listens on it.
    pub fn add_service_ip(&self, address: Ipv4Addr) -> Result<()> {
        run_ip(&["-n", &self.namespace, "addr", "replace", &format!("{address}/32"), "dev", "lo"])
    }

    /// Removes a cluster IP added by [`add_service_ip`](Self::add_service_ip).
    pub fn remove_service_ip(&self, address: Ipv4Addr) {
        let _ =
            run_ip(&["-n", &self.namespace, "addr", "del", &format!("{address}/32"), "dev", "lo"]);
    }

    /// Runs `make` on a thread inside the node namespace: the sockets it makes live there.
    fn inside<T: Send + 'static>(
        &self,
        make: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let handle = self.handle.try_clone()?;
        std::thread::spawn(move || {
            move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&handle),
                Some(LinkNameSpaceType::Network),
            )?;
            make()
        })
        .join()
        .map_err(|_| io::Error::other("the thread in the node namespace panicked"))?
    }

    /// A TCP connection from the node to `address` (a pod IP), as the kubelet's probes and the
    /// proxy connect.
    pub fn connect(&self, address: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        self.inside(move || TcpStream::connect_timeout(&address, timeout))
    }

    /// A TCP listener on `address` in the node namespace.
    pub fn listen(&self, address: SocketAddr) -> io::Result<TcpListener> {
        self.inside(move || TcpListener::bind(address))
    }

    /// A UDP socket on `address` in the node namespace.
    pub fn udp(&self, address: SocketAddr) -> io::Result<UdpSocket> {
        self.inside(move || UdpSocket::bind(address))
    }
}

impl NodeNetwork {
    /// Removes the host's veth (and with it the route to the pods), the node namespace and
    /// every pod namespace. The subnet is free again when the network is dropped.
    pub fn remove(&self) {
        remove_link(&self.host_end);
        remove_namespaces(&self.prefix);
    }
}

/// The node namespace `namespace` with its bridge on `addresses`' subnet, and the link
/// `host_end` to it from the host.
fn make_node(namespace: &str, host_end: &str, addresses: &subnet::Addresses) -> Result<()> {
    run_ip(&["netns", "add", namespace])?;
    let gateway = format!("{}/24", addresses.gateway());
    let node_end = format!("{}/30", addresses.node_end());
    for args in [
        &["link", "set", "lo", "up"][..],
        &["link", "add", "cbr0", "type", "bridge"],
        &["addr", "add", &gateway, "dev", "cbr0"],
        &["link", "set", "cbr0", "up"],
    ] {
        run_ip(&[&["-n", namespace][..], args].concat())?;
    }
    run_ip(&[
        "link", "add", host_end, "type", "veth", "peer", "name", NODE_END, "netns", namespace,
    ])?;
    run_ip(&["addr", "add", &format!("{}/30", addresses.host_end()), "dev", host_end])?;
    run_ip(&["link", "set", host_end, "up"])?;
    run_ip(&["-n", namespace, "addr", "add", &node_end, "dev", NODE_END])?;
    run_ip(&["-n", namespace, "link", "set", NODE_END, "up"])
}

/// Removes the host's interface `name` if it exists (a veth takes its peer and its routes).
fn remove_link(name: &str) {
    if Path::new("/sys/class/net").join(name).exists() {
        let _ = run_ip(&["link", "del", name]);
    }
}

/// Removes every network namespace named `<prefix>-*`.
fn remove_namespaces(prefix: &str) {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('-')) {
            let _ = run_ip(&["netns", "del", &name]);
        }
    }
}

/// Removes what stand-ins that are no longer running left (killed before they could clean
/// up): the host's veths `psi<pid>h`, with their routes, and the namespaces `psi<pid>-*`,
/// where no process `<pid>` exists.
pub fn remove_abandoned() {
    if let Ok(links) = std::fs::read_dir("/sys/class/net") {
        for link in links.filter_map(Result::ok) {
            let name = link.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("psi").and_then(|rest| rest.strip_suffix('h'));
            if pid.is_some_and(is_dead) {
                let _ = run_ip(&["link", "del", &name]);
            }
        }
    }
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("psi").and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        if is_dead(pid) {
            let _ = run_ip(&["netns", "del", &name]);
        }
    }
}

/// Whether `pid` is a process id (digits only) of no running process.
fn is_dead(pid: &str) -> bool {
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && pid.parse::<u32>().is_ok()
        && !Path::new("/proc").join(pid).exists()
}
