//! A container's environment, built as the kubelet builds it: Service links (when
//! `enableServiceLinks` is not false; the API server's own Service always), then `envFrom` in
//! order, then `env` in order with `$(VAR)` expanded against what came before; values from
//! ConfigMaps, Secrets, the pod's fields and the container's resources. A reference to a
//! missing Secret, ConfigMap or key that is not `optional` stops the container with
//! `CreateContainerConfigError`, as on a node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};

/// The ConfigMaps and Secrets of a pod's namespace that the pod names, as read when its
/// container starts; those that do not exist are absent.
#[derive(Debug, Default)]
pub struct Objects {
    /// By name.
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// By name.
    pub secrets: BTreeMap<String, Secret>,
}

impl Objects {
    /// `key` of ConfigMap `name`: `Ok(None)` when optional and missing.
    pub fn config_map_key(
        &self,
        name: &str,
        key: &str,
        optional: bool,
    ) -> Result<Option<String>, String> {
        let Some(map) = self.config_maps.get(name) else {
            return if optional {
                Ok(None)
            } else {
                Err(format!("configmap \"{name}\" not found"))
            };
        };
        let value = map.data.as_ref().and_then(|data| data.get(key)).cloned().or_else(|| {
            let bytes = map.binary_data.as_ref()?.get(key)?;
            Some(String::from_utf8_lossy(&bytes.0).into_owned())
        });
        match value {
            Some(value) => Ok(Some(value)),
            None if optional => Ok(None),
            None => Err(format!("couldn't find key {key} in ConfigMap {name}")),
        }
    }

    /// `key` of Secret `name`: `Ok(None)` when optional and missing.
    pub fn secret_key(
        &self,
        name: &str,
        key: &str,
        optional: bool,
    ) -> Result<Option<String>, String> {
        let Some(secret) = self.secrets.get(name) else {
            return if optional { Ok(None) } else { Err(format!("secret \"{name}\" not found")) };
        };
        match secret.data.as_ref().and_then(|data| data.get(key)) {
            Some(bytes) => Ok(Some(String::from_utf8_lossy(&bytes.0).into_owned())),
            None if optional => Ok(None),
            None => Err(format!("couldn't find key {key} in Secret {name}")),
        }
    }
}

/// Facts of the running pod that `fieldRef` reads.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    /// `status.podIP`.
    pub pod_ip: String,
    /// `status.hostIP`.
    pub host_ip: String,
    /// `spec.nodeName`.
    pub node_name: String,
}

/// The environment of `container` in `pod`, in the order the kubelet hands it to the runtime
/// (without the image's `ENV`, which the runtime puts underneath). `services` are the Services
/// of the pod's namespace and `default/kubernetes`.
pub fn build(
    pod: &Pod,
    container: &Container,
    services: &[Service],
    objects: &Objects,
    facts: &PodFacts,
) -> Result<Vec<(String, String)>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
    let service_env = service_links(services, namespace, links);

    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, name: String, value: String| match env
        .iter_mut()
        .find(|(n, _)| *n == name)
    {
        Some(slot) => slot.1 = value,
        None => env.push((name, value)),
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or("");
        if let Some(reference) = &source.config_map_ref {
            let optional = reference.optional.unwrap_or(false);
            match objects.config_maps.get(&reference.name) {
                Some(map) => {
                    for (key, value) in map.data.iter().flatten() {
                        if is_env_name(&format!("{prefix}{key}")) {
                            set(&mut env, format!("{prefix}{key}"), value.clone());
                        }
                    }
                }
                None if optional => {}
                None => return Err(format!("configmap \"{}\" not found", reference.name)),
            }
        }
        if let Some(reference) = &source.secret_ref {
            let optional = reference.optional.unwrap_or(false);
            match objects.secrets.get(&reference.name) {
                Some(secret) => {
                    for (key, value) in secret.data.iter().flatten() {
                        if is_env_name(&format!("{prefix}{key}")) {
                            let value = String::from_utf8_lossy(&value.0).into_owned();
                            set(&mut env, format!("{prefix}{key}"), value);
                        }
                    }
                }
                None if optional => {}
                None => return Err(format!("secret \"{}\" not found", reference.name)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(source) = &var.value_from {
            let resolved = if let Some(r) = &source.config_map_key_ref {
                objects.config_map_key(&r.name, &r.key, r.optional.unwrap_or(false))?
            } else if let Some(r) = &source.secret_key_ref {
                objects.secret_key(&r.name, &r.key, r.optional.unwrap_or(false))?
            } else if let Some(r) = &source.field_ref {
                Some(field(pod, facts, &r.field_path)?)
            } else if let Some(r) = &source.resource_field_ref {
                Some(resource_field(pod, container, r)?)
            } else {
                return Err(format!("env {}: valueFrom without a source", var.name));
            };
            let Some(resolved) = resolved else { continue };
            resolved
        } else {
            let known: BTreeMap<&str, &str> = service_env
                .iter()
                .chain(env.iter())
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            expand(var.value.as_deref().unwrap_or(""), &known)
        };
        set(&mut env, var.name.clone(), value);
    }
    for (name, value) in service_env {
        if !env.iter().any(|(n, _)| *n == name) {
            env.push((name, value));
        }
    }
    Ok(env)
}

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, an undefined reference is
/// left as written, and `$$` is a literal `$`.
pub fn expand(input: &str, known: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match known.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[at..at + 2 + end + 1]),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A name the kubelet accepts from `envFrom` (a C identifier, or with dots and dashes).
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Docker-link variables of the Services: every Service of the namespace when links are on,
/// and the API server's Service of `default` always.
fn service_links(services: &[Service], namespace: &str, links: bool) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for service in services {
        let (Some(ns), Some(name), Some(spec)) = (
            service.metadata.namespace.as_deref(),
            service.metadata.name.as_deref(),
            service.spec.as_ref(),
        ) else {
            continue;
        };
        let is_api_server = ns == "default" && name == "kubernetes";
        if !(is_api_server || (links && ns == namespace)) {
            continue;
        }
        let Some(ip) = spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            continue;
        };
        let prefix = name.to_ascii_uppercase().replace('-', "_");
        let ports = spec.ports.as_deref().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        env.push((format!("{prefix}_SERVICE_HOST"), ip.to_owned()));
        env.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        for port in ports {
            if let Some(port_name) = &port.name {
                let port_name = port_name.to_ascii_uppercase().replace('-', "_");
                env.push((format!("{prefix}_SERVICE_PORT_{port_name}"), port.port.to_string()));
            }
        }
        let protocol = first.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
        env.push((format!("{prefix}_PORT"), format!("{protocol}://{ip}:{}", first.port)));
        for port in ports {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let lower = protocol.to_ascii_lowercase();
            let base = format!("{prefix}_PORT_{}_{protocol}", port.port);
            env.push((base.clone(), format!("{lower}://{ip}:{}", port.port)));
            env.push((format!("{base}_PROTO"), lower));
            env.push((format!("{base}_PORT"), port.port.to_string()));
            env.push((format!("{base}_ADDR"), ip.to_owned()));
        }
    }
    env
}

/// A `fieldRef` of the pod.
pub fn field(pod: &Pod, facts: &PodFacts, path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| -> Option<String> {
        let key = path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    let spec = pod.spec.as_ref();
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => facts.node_name.clone(),
        "spec.serviceAccountName" => {
            spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default()
        }
        "status.hostIP" => facts.host_ip.clone(),
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        "metadata.labels" | "metadata.annotations" => {
            let map = if path == "metadata.labels" { &meta.labels } else { &meta.annotations };
            map.iter().flatten().map(|(k, v)| format!("{k}=\"{v}\"\n")).collect()
        }
        _ => keyed("metadata.labels", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations", meta.annotations.as_ref()))
            .ok_or_else(|| format!("unsupported fieldRef {path}"))?,
    })
}

/// A `resourceFieldRef`: the container's limit (or, without one, the node's capacity: 2 CPUs
/// and 24 GiB here) or request, divided by the divisor and rounded up.
pub fn resource_field(
    pod: &Pod,
    container: &Container,
    reference: &k8s_openapi::api::core::v1::ResourceFieldSelector,
) -> Result<String, String> {
    let target = match reference.container_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()))
            .find(|c| c.name == name)
            .ok_or_else(|| format!("resourceFieldRef: no container {name}"))?,
        None => container,
    };
    let (kind, resource) = reference
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resource {}", reference.resource))?;
    let resources = target.resources.as_ref();
    let amounts = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => return Err(format!("unsupported resource {}", reference.resource)),
    };
    let capacity = match resource {
        "cpu" => 2.0,
        "memory" => 24.0 * 1024.0 * 1024.0 * 1024.0,
        "ephemeral-storage" => 50.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unsupported resource {}", reference.resource)),
    };
    let amount = match amounts.and_then(|a| a.get(resource)) {
        Some(quantity) => quantity_value(&quantity.0)?,
        None if kind == "requests" && resource == "cpu" => 0.0,
        None => capacity,
    };
    let divisor = reference.divisor.as_ref().map(|d| quantity_value(&d.0)).transpose()?;
    let divisor = divisor.filter(|d| *d > 0.0).unwrap_or(1.0);
    Ok(((amount / divisor).ceil() as i64).max(if resource == "cpu" { 1 } else { 0 }).to_string())
}

/// The value of a Kubernetes quantity (`500m`, `1Gi`, `2`, `1e3`).
pub fn quantity_value(quantity: &str) -> Result<f64, String> {
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (number, scale) = suffixes
        .iter()
        .find_map(|(suffix, scale)| Some((quantity.strip_suffix(suffix)?, *scale)))
        .unwrap_or((quantity, 1.0));
    number.parse::<f64>().map(|n| n * scale).map_err(|_| format!("invalid quantity {quantity}"))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EnvVar, ServicePort, ServiceSpec};

    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let known = BTreeMap::from([("A", "1"), ("B", "two")]);
        assert_eq!(expand("$(A)-$(B)", &known), "1-two");
        assert_eq!(expand("$(C) stays", &known), "$(C) stays");
        assert_eq!(
            expand("$$(A) escaped, $$ alone, $ lone", &known),
            "$(A) escaped, $ alone, $ lone"
        );
        assert_eq!(expand("$(A", &known), "$(A");
    }

    #[test]
    fn env_values_refs_and_links() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c"}]}
        }))
        .unwrap();
        let container = Container {
            name: "c".to_owned(),
            env: Some(vec![
                EnvVar { name: "A".to_owned(), value: Some("a".to_owned()), ..EnvVar::default() },
                EnvVar {
                    name: "B".to_owned(),
                    value: Some("$(A)-$(MY_SVC_SERVICE_HOST)".to_owned()),
                    ..EnvVar::default()
                },
                serde_json::from_value(serde_json::json!({
                    "name": "LABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}
                }))
                .unwrap(),
                serde_json::from_value(serde_json::json!({
                    "name": "OPT", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": true}}
                }))
                .unwrap(),
            ]),
            ..Container::default()
        };
        let service = Service {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("my-svc".to_owned()),
                namespace: Some("ns".to_owned()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.0.0.9".to_owned()),
                ports: Some(vec![ServicePort {
                    name: Some("http".to_owned()),
                    port: 80,
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        };
        let env =
            build(&pod, &container, &[service], &Objects::default(), &PodFacts::default()).unwrap();
        let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("B"), Some("a-10.0.0.9"));
        assert_eq!(get("LABEL"), Some("x"));
        assert_eq!(get("OPT"), None);
        assert_eq!(get("MY_SVC_PORT"), Some("tcp://10.0.0.9:80"));
        assert_eq!(get("MY_SVC_SERVICE_PORT_HTTP"), Some("80"));

        let missing = Container {
            name: "c".to_owned(),
            env: Some(vec![
                serde_json::from_value(serde_json::json!({
                    "name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}
                }))
                .unwrap(),
            ]),
            ..Container::default()
        };
        assert_eq!(
            build(&pod, &missing, &[], &Objects::default(), &PodFacts::default()),
            Err("secret \"absent\" not found".to_owned())
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_value("500m").unwrap(), 0.5);
        assert_eq!(quantity_value("1Gi").unwrap(), 1073741824.0);
        assert_eq!(quantity_value("2").unwrap(), 2.0);
    }
}
