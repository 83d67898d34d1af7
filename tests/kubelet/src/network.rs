//! The pod network: a network namespace for the node, with a bridge that every pod's own
//! namespace joins through a veth pair, as a CNI bridge plugin would make it. Pod IPs are
//! `10.244.0.0/24` addresses inside those namespaces, never on this machine's own network;
//! Service cluster IPs are addresses of the node namespace's loopback, where the
//! [`services`](crate::services) proxy listens.
//!
//! Sockets belong to the namespace of the thread that makes them, so the stand-in's own
//! sockets in the node namespace (proxy, DNS, probes) are made on a short-lived thread that
//! enters it first.

use std::{
    collections::BTreeSet,
    fs::File,
    io,
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    process::Command,
    sync::Mutex,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// The node's address on the pod bridge, and the pods' gateway.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 244, 0, 1);

/// The node's network namespace and its pod bridge.
#[derive(Debug)]
pub struct NodeNetwork {
    prefix: String,
    namespace: String,
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
    /// Makes the node namespace `<prefix>-node` with the bridge `cbr0`. Namespaces named
    /// `<prefix>-*` that an earlier run left behind are removed first.
    pub fn create(prefix: &str) -> Result<NodeNetwork> {
        remove_namespaces(prefix);
        let namespace = format!("{prefix}-node");
        run_ip(&["netns", "add", &namespace])?;
        let gateway = format!("{GATEWAY}/24");
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "add", "cbr0", "type", "bridge"],
            &["addr", "add", &gateway, "dev", "cbr0"],
            &["link", "set", "cbr0", "up"],
        ] {
            run_ip(&[&["-n", namespace.as_str()][..], args].concat())?;
        }
        let handle = File::open(format!("/run/netns/{namespace}"))
            .with_context(|| format!("open the network namespace {namespace}"))?;
        Ok(NodeNetwork {
            prefix: prefix.to_owned(),
            namespace,
            handle,
            free: Mutex::new((2..=254).collect()),
        })
    }

    /// A namespace and an address for a new pod, joined to the bridge.
    pub fn add_pod(&self, id: &str) -> Result<PodNetwork> {
        let octet = self.free.lock().unwrap().pop_first().context("the pod network is full")?;
        let ip = Ipv4Addr::new(10, 244, 0, octet);
        let namespace = format!("{}-{id}", self.prefix);
        let veth = format!("veth{octet:03}");
        let node = self.namespace.as_str();
        let address = format!("{ip}/24");
        let gateway = GATEWAY.to_string();
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
        if pod.ip.octets()[..3] == [10, 244, 0] {
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
    /// Removes the node namespace and every pod namespace.
    pub fn remove(&self) {
        remove_namespaces(&self.prefix);
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

/// Removes the namespaces of stand-ins that are no longer running: `psi<pid>-*` where no
/// process `<pid>` exists (a stand-in killed before it could clean up).
pub fn remove_abandoned() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("psi").and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = run_ip(&["netns", "del", &name]);
        }
    }
}
