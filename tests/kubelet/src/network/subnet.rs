//! Which addresses a stand-in takes, when several run on this machine at once (the tests run in
//! parallel, each cluster with its own stand-in): lease `N` is the pod subnet `10.244.N.0/24`
//! and the link `10.250.N.0/30` from the host to the node namespace. Both are routed on the
//! host, so two stand-ins must never hold the same `N`, and neither may overlap a route or an
//! address the host already has.
//!
//! A lease is an exclusive `flock` on `/run/prefectctl-kubelet-stand-in/subnet-N.lock`, held
//! for the life of the process: the kernel releases it when the process ends, however it ends,
//! so the lease of a killed stand-in is free again (its leftover route is removed by
//! [`remove_abandoned`](super::remove_abandoned), or the subnet is passed over while the route
//! is there).

use std::{
    fmt,
    fs::{File, OpenOptions, TryLockError},
    io::Write as _,
    net::Ipv4Addr,
    path::Path,
    process::Command,
};

use anyhow::{Context as _, Result, bail};

/// Where the lock files are.
const LOCKS: &str = "/run/prefectctl-kubelet-stand-in";

/// An IPv4 network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The first address.
    pub address: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix: u8,
}

impl Ipv4Net {
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) }
    }

    /// Whether the two networks share an address (one holds the other).
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let mask = Self::mask(self.prefix.min(other.prefix));
        u32::from(self.address) & mask == u32::from(other.address) & mask
    }

    /// Parses `a.b.c.d/len` or `a.b.c.d` (a /32).
    fn parse(text: &str) -> Option<Ipv4Net> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        Some(Ipv4Net { address: address.parse().ok()?, prefix })
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The addresses of lease `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    index: u8,
}

impl Addresses {
    /// The addresses of lease `index` (0 to 254).
    pub fn new(index: u8) -> Addresses {
        Addresses { index }
    }

    /// `N`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The pod subnet, `10.244.N.0/24`.
    pub fn pods(&self) -> Ipv4Net {
        Ipv4Net { address: Ipv4Addr::new(10, 244, self.index, 0), prefix: 24 }
    }

    /// Address `octet` of the pod subnet.
    pub fn pod(&self, octet: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 244, self.index, octet)
    }

    /// The node's address on the pod bridge, and the pods' gateway: `10.244.N.1`.
    pub fn gateway(&self) -> Ipv4Addr {
        self.pod(1)
    }

    /// The link between the host and the node namespace, `10.250.N.0/30`.
    pub fn link(&self) -> Ipv4Net {
        Ipv4Net { address: Ipv4Addr::new(10, 250, self.index, 0), prefix: 30 }
    }

    /// The host's end of the link, `10.250.N.1`: where the API server's connections to pods
    /// come from.
    pub fn host_end(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.index, 1)
    }

    /// The node namespace's end of the link, `10.250.N.2`: the host's route to the pods goes
    /// through it.
    pub fn node_end(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.index, 2)
    }

    /// Whether neither network overlaps any of `taken`.
    fn free(&self, taken: &[Ipv4Net]) -> bool {
        taken.iter().all(|t| !t.overlaps(&self.pods()) && !t.overlaps(&self.link()))
    }
}

/// A lease: its addresses, and the lock that holds them while the process lives.
#[derive(Debug)]
pub struct Lease {
    /// The addresses leased.
    pub addresses: Addresses,
    _lock: File,
}

/// Takes the first `N` that no live stand-in holds and whose networks overlap nothing the host
/// routes or has as an address.
pub fn lease() -> Result<Lease> {
    lease_in(Path::new(LOCKS), &host_networks()?)
}

/// [`lease`] with the lock files in `locks`, passing over `taken`.
fn lease_in(locks: &Path, taken: &[Ipv4Net]) -> Result<Lease> {
    std::fs::create_dir_all(locks).with_context(|| format!("create {}", locks.display()))?;
    for index in 0..=254u8 {
        let addresses = Addresses::new(index);
        if !addresses.free(taken) {
            continue;
        }
        let path = locks.join(format!("subnet-{index}.lock"));
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("lock {}", path.display()));
            }
        }
        // For whoever looks: which process holds it.
        lock.set_len(0)?;
        writeln!(lock, "{}", std::process::id())?;
        return Ok(Lease { addresses, _lock: lock });
    }
    bail!(
        "no free pod subnet in 10.244.0.0/16: 255 stand-ins run, or the host routes those \
         addresses (see `ip -4 route show table all`)"
    )
}

/// Every destination the host routes (in any table) and every address it has, except the
/// default route.
fn host_networks() -> Result<Vec<Ipv4Net>> {
    let mut all = Vec::new();
    let routes = ip_json(&["-4", "-j", "route", "show", "table", "all"])?;
    for route in routes.as_array().into_iter().flatten() {
        let dst = route["dst"].as_str().unwrap_or_default();
        if dst != "default" {
            all.extend(Ipv4Net::parse(dst));
        }
    }
    let links = ip_json(&["-4", "-j", "addr", "show"])?;
    for link in links.as_array().into_iter().flatten() {
        for info in link["addr_info"].as_array().into_iter().flatten() {
            let (Some(local), Some(prefix)) = (info["local"].as_str(), info["prefixlen"].as_u64())
            else {
                continue;
            };
            all.extend(Ipv4Net::parse(&format!("{local}/{prefix}")));
        }
    }
    Ok(all)
}

fn ip_json(args: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new("ip").args(args).output().context("run ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("read `ip {}`", args.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Net {
        Ipv4Net::parse(text).unwrap()
    }

    #[test]
    fn overlaps_when_one_holds_the_other() {
        assert!(net("10.0.0.0/8").overlaps(&net("10.244.3.0/24")));
        assert!(net("10.244.3.0/24").overlaps(&net("10.0.0.0/8")));
        assert!(net("10.244.3.77").overlaps(&net("10.244.3.0/24")));
        assert!(!net("10.244.2.0/24").overlaps(&net("10.244.3.0/24")));
        assert!(!net("192.0.2.0/24").overlaps(&net("10.244.0.0/24")));
        assert!(net("0.0.0.0/0").overlaps(&net("10.250.0.0/30")));
        assert_eq!(Ipv4Net::parse("10.0.0.0/33"), None);
        assert_eq!(Ipv4Net::parse("default"), None);
    }

    #[test]
    fn a_lease_passes_over_what_the_host_routes() {
        let three = Addresses::new(3);
        assert_eq!(three.pods().to_string(), "10.244.3.0/24");
        assert_eq!(three.gateway(), Ipv4Addr::new(10, 244, 3, 1));
        assert_eq!(three.link().to_string(), "10.250.3.0/30");
        assert_eq!(three.host_end(), Ipv4Addr::new(10, 250, 3, 1));
        assert_eq!(three.node_end(), Ipv4Addr::new(10, 250, 3, 2));
        let host = [net("192.0.2.0/24"), net("127.0.0.0/8"), net("10.244.0.0/24")];
        assert!(!Addresses::new(0).free(&host), "another stand-in's pods");
        assert!(Addresses::new(1).free(&host));
        assert!(!Addresses::new(1).free(&[net("10.250.1.1")]), "an address on the link");
        assert!(!Addresses::new(9).free(&[net("10.0.0.0/8")]), "a wider route");
    }

    /// Two leases are two locks, so they never share an `N`, as two stand-ins starting at once;
    /// a lease let go (a stand-in that ended) is free again.
    #[test]
    fn two_leases_differ_and_a_released_one_is_free() {
        let locks = std::env::temp_dir().join(format!("stand-in-leases-{}", std::process::id()));
        let taken = [net("10.244.0.0/24")];
        let one = lease_in(&locks, &taken).unwrap();
        let two = lease_in(&locks, &taken).unwrap();
        assert_eq!((one.addresses.index(), two.addresses.index()), (1, 2));
        drop(one);
        assert_eq!(lease_in(&locks, &taken).unwrap().addresses.index(), 1);
        let held = std::fs::read_to_string(locks.join("subnet-2.lock")).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        drop(two);
        std::fs::remove_dir_all(&locks).unwrap();
    }
}
