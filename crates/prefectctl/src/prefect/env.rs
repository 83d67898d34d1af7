//! A container's environment variable as Kubernetes would give it to the process: a literal
//! value, or a key of a Secret or ConfigMap (read here, never printed).

use prefect_cluster::Cluster;
use serde_json::Value;

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `value:`.
    Literal(String),
    /// `valueFrom.secretKeyRef`, or a Secret of `envFrom`.
    Secret {
        /// The Secret.
        name: String,
        /// The key.
        key: String,
    },
    /// `valueFrom.configMapKeyRef`, or a ConfigMap of `envFrom`.
    ConfigMap {
        /// The ConfigMap.
        name: String,
        /// The key.
        key: String,
    },
    /// `valueFrom.fieldRef` or `resourceFieldRef`: known only inside the pod.
    Downward,
}

impl Source {
    /// `Secret prefect-server-basic-auth key auth-string`, as messages name it (never the value).
    pub fn describe(&self) -> String {
        match self {
            Source::Literal(_) => "a literal value".to_owned(),
            Source::Secret { name, key } => format!("Secret {name} key {key}"),
            Source::ConfigMap { name, key } => format!("ConfigMap {name} key {key}"),
            Source::Downward => "the downward API".to_owned(),
        }
    }
}

/// Where `container`'s variable `name` comes from: the last `env` entry of that name, else
/// an `envFrom` source (whose keys cannot be seen without reading it: the Secret's or
/// ConfigMap's key `name`, with the source's prefix taken off).
pub fn source(container: &Value, name: &str) -> Option<Source> {
    let env = container["env"].as_array().map(Vec::as_slice).unwrap_or_default();
    if let Some(entry) = env.iter().rev().find(|e| e["name"] == name) {
        if let Some(value) = entry["value"].as_str() {
            return Some(Source::Literal(value.to_owned()));
        }
        let from = &entry["valueFrom"];
        let key_of =
            |r: &Value| (r["name"].as_str()?.to_owned(), r["key"].as_str()?.to_owned()).into();
        if let Some((name, key)) = key_of(&from["secretKeyRef"]) {
            return Some(Source::Secret { name, key });
        }
        if let Some((name, key)) = key_of(&from["configMapKeyRef"]) {
            return Some(Source::ConfigMap { name, key });
        }
        if from.is_object() {
            return Some(Source::Downward);
        }
        return Some(Source::Literal(String::new()));
    }
    None
}

/// The names of the Secrets and ConfigMaps a container takes whole (`envFrom`), with their
/// prefixes: `(is_secret, name, prefix)`.
pub fn env_from(container: &Value) -> Vec<(bool, String, String)> {
    let mut sources = Vec::new();
    for entry in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = entry["prefix"].as_str().unwrap_or_default().to_owned();
        if let Some(name) = entry["secretRef"]["name"].as_str() {
            sources.push((true, name.to_owned(), prefix));
        } else if let Some(name) = entry["configMapRef"]["name"].as_str() {
            sources.push((false, name.to_owned(), prefix));
        }
    }
    sources
}

/// The value the process sees for `name`, when it can be known from outside the pod:
/// `Ok(None)` when the variable is unset or its source is missing.
pub async fn resolve(
    cluster: &Cluster,
    namespace: &str,
    container: &Value,
    name: &str,
) -> prefect_cluster::Result<Option<(Source, String)>> {
    if let Some(found) = source(container, name) {
        return Ok(read(cluster, namespace, &found).await?.map(|value| (found, value)));
    }
    // Later envFrom sources win, as in the container.
    let mut found = None;
    for (secret, from, prefix) in env_from(container) {
        let Some(key) = name.strip_prefix(prefix.as_str()) else { continue };
        let candidate = if secret {
            Source::Secret { name: from, key: key.to_owned() }
        } else {
            Source::ConfigMap { name: from, key: key.to_owned() }
        };
        if let Some(value) = read(cluster, namespace, &candidate).await? {
            found = Some((candidate, value));
        }
    }
    Ok(found)
}

async fn read(
    cluster: &Cluster,
    namespace: &str,
    source: &Source,
) -> prefect_cluster::Result<Option<String>> {
    match source {
        Source::Literal(value) => Ok(Some(value.clone())),
        Source::Secret { name, key } => cluster.secret_key(namespace, name, key).await,
        Source::ConfigMap { name, key } => cluster.config_map_key(namespace, name, key).await,
        Source::Downward => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_last_entry_of_a_name_wins_and_references_are_named_not_read() {
        let container = json!({ "env": [
            { "name": "A", "value": "first" },
            { "name": "A", "value": "second" },
            { "name": "AUTH", "valueFrom": { "secretKeyRef": { "name": "s", "key": "k" } } },
            { "name": "IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
        ], "envFrom": [{ "secretRef": { "name": "bulk" }, "prefix": "X_" }] });
        assert_eq!(source(&container, "A"), Some(Source::Literal("second".to_owned())));
        let auth = source(&container, "AUTH").unwrap();
        assert_eq!(auth.describe(), "Secret s key k");
        assert_eq!(source(&container, "IP"), Some(Source::Downward));
        assert_eq!(source(&container, "MISSING"), None);
        assert_eq!(env_from(&container), vec![(true, "bulk".to_owned(), "X_".to_owned())]);
    }
}
