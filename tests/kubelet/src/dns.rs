//! Cluster DNS, as CoreDNS answers it for `cluster.local`: a Service's name is its cluster IP,
//! a headless Service's name its ready pods (and `<hostname>.<service>` each one), and
//! `a-b-c-d.<namespace>.pod` an address. Pods find it through the `/etc/resolv.conf` the
//! stand-in gives them (search `<namespace>.svc.cluster.local svc.cluster.local
//! cluster.local`, `ndots:5`). There is no upstream: any other name does not exist.

use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    sync::{Arc, RwLock},
};

use simple_dns::{
    CLASS, Packet, PacketFlag, RCODE, ResourceRecord, TYPE,
    rdata::{A, RData},
};

use crate::services::{DOMAIN, Table};

/// The cluster IP of the DNS Service, which pods' `resolv.conf` names.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);

/// Answers queries on `socket` from `table` until the process ends.
pub fn serve(socket: UdpSocket, table: Arc<RwLock<Table>>) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        loop {
            let Ok((length, from)) = socket.recv_from(&mut buffer) else { continue };
            if let Some(reply) = answer(&buffer[..length], &table.read().unwrap()) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
}

/// The reply to one query.
fn answer(query: &[u8], table: &Table) -> Option<Vec<u8>> {
    let query = Packet::parse(query).ok()?;
    let mut reply = Packet::new_reply(query.id());
    reply.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    if query.has_flags(PacketFlag::RECURSION_DESIRED) {
        reply.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    let mut found = false;
    for question in &query.questions {
        let name = question.qname.to_string().trim_end_matches('.').to_ascii_lowercase();
        let Some(addresses) = lookup(&name, table) else { continue };
        found = true;
        if question.qtype != TYPE::A.into() {
            continue;
        }
        for address in addresses {
            reply.answers.push(ResourceRecord::new(
                question.qname.clone(),
                CLASS::IN,
                5,
                RData::A(A::from(address)),
            ));
        }
    }
    if !found {
        *reply.rcode_mut() = RCODE::NameError;
    }
    reply.questions = query.questions.clone();
    reply.build_bytes_vec().ok()
}

/// The addresses of `name`, if it exists.
fn lookup(name: &str, table: &Table) -> Option<Vec<Ipv4Addr>> {
    if let Some(addresses) = table.names.get(name) {
        return Some(addresses.clone());
    }
    // `10-244-3-5.<namespace>.pod.cluster.local`: the pod IP, dashed
    let rest = name.strip_suffix(DOMAIN)?.strip_suffix('.')?;
    let (dashed, kind) = rest.split_once('.')?;
    if !kind.ends_with(".pod") {
        return None;
    }
    dashed.replace('-', ".").parse().ok().map(|ip| vec![ip])
}

/// Where the DNS server listens.
pub fn socket_address() -> SocketAddr {
    SocketAddr::from((ADDRESS, 53))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use simple_dns::{CLASS, Name, Packet, Question, RCODE, TYPE, rdata::RData};

    use super::*;

    fn ask(name: &str, table: &Table) -> (RCODE, Vec<Ipv4Addr>) {
        let mut query = Packet::new_query(7);
        query.questions.push(Question::new(
            Name::new_unchecked(name),
            TYPE::A.into(),
            CLASS::IN.into(),
            false,
        ));
        let bytes = answer(&query.build_bytes_vec().unwrap(), table).unwrap();
        let reply = Packet::parse(&bytes).unwrap();
        let addresses = reply
            .answers
            .iter()
            .filter_map(|record| match &record.rdata {
                RData::A(a) => Some(Ipv4Addr::from(a.address)),
                _ => None,
            })
            .collect();
        (reply.rcode(), addresses)
    }

    #[test]
    fn services_pods_and_unknown_names() {
        let table = Table {
            backends: BTreeMap::new(),
            names: BTreeMap::from([(
                "prefect-server.prefect.svc.cluster.local".to_owned(),
                vec![Ipv4Addr::new(10, 0, 0, 42)],
            )]),
        };
        assert_eq!(
            ask("Prefect-Server.prefect.svc.cluster.local.", &table),
            (RCODE::NoError, vec![Ipv4Addr::new(10, 0, 0, 42)])
        );
        assert_eq!(
            ask("10-244-3-7.prefect.pod.cluster.local", &table),
            (RCODE::NoError, vec![Ipv4Addr::new(10, 244, 3, 7)])
        );
        assert_eq!(ask("pypi.org", &table), (RCODE::NameError, vec![]));
        assert_eq!(ask("prefect-server.svc.cluster.local", &table), (RCODE::NameError, vec![]));
    }
}
