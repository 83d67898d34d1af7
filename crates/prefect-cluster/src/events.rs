//! The events of a namespace, which say why something is not ready.

use k8s_openapi::api::core::v1::Event;
use kube::{Api, api::ListParams};

use crate::{Cluster, Error, Result};

/// One event, as `--wait` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// The kind of the object it is about.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// `Warning` or `Normal`.
    pub severity: String,
    /// `FailedScheduling`...
    pub reason: String,
    /// What happened.
    pub message: String,
}

impl Cluster {
    /// The events of `namespace`, oldest first.
    pub async fn events(&self, namespace: &str) -> Result<Vec<ObjectEvent>> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let mut events = api
            .list(&ListParams::default())
            .await
            .map_err(|err| Error::api(format!("list the events of namespace {namespace}"), err))?
            .items;
        events.sort_by(|a, b| {
            let time = |e: &Event| {
                e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0))
            };
            time(a).cmp(&time(b))
        });
        Ok(events
            .into_iter()
            .map(|event| ObjectEvent {
                kind: event.involved_object.kind.unwrap_or_default(),
                name: event.involved_object.name.unwrap_or_default(),
                severity: event.type_.unwrap_or_default(),
                reason: event.reason.unwrap_or_default(),
                message: event.message.unwrap_or_default(),
            })
            .collect())
    }
}
