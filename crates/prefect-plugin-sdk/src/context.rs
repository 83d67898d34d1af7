//! [`Context`]: what a running plugin reads (release, stack, capabilities, the graph so far)
//! and where it puts what it produces (resources, changes, and the errors and warnings of
//! [`diagnostics`]).

use std::{cell::RefCell, collections::BTreeMap};

use k8s_openapi::{
    Metadata, Resource,
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
    serde::Serialize,
};
use prefect_plugin_abi::wire::{
    Capabilities, GlobalValues, Lookups, ObjectRef, Release, RunRequest,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Error, labels, pods};

mod diagnostics;
mod overlay;

pub use diagnostics::join;

/// The state of one plugin run.
pub struct Context {
    release: Release,
    global: GlobalValues,
    plugins: Vec<String>,
    capabilities: Capabilities,
    items: Vec<Value>,
    lookups: Lookups,
    /// The live objects asked for in this round that the host has not read yet.
    pub(crate) pending: Vec<ObjectRef>,
    pub(crate) added: Vec<Value>,
    /// Indexes into `items` of the objects this run changed.
    pub(crate) changed: Vec<usize>,
    /// Behind a `RefCell` so that every builder given `&Context` can report.
    pub(crate) diagnostics: RefCell<diagnostics::Diagnostics>,
    /// The resources of `items` this run removed, as the host names them.
    pub(crate) removed: Vec<ObjectRef>,
}

impl Context {
    /// A context for `request`; its `values` are not read here.
    pub fn new(request: RunRequest) -> Context {
        Context {
            release: request.release,
            global: request.global,
            plugins: request.plugins,
            capabilities: request.capabilities,
            items: request.items,
            lookups: request.lookups,
            pending: Vec::new(),
            added: Vec::new(),
            changed: Vec::new(),
            diagnostics: RefCell::default(),
            removed: Vec::new(),
        }
    }

    /// The release name (`--release`, default `prefect`).
    pub fn release_name(&self) -> &str {
        &self.release.name
    }

    /// The namespace the release is installed into.
    pub fn namespace(&self) -> &str {
        &self.release.namespace
    }

    /// The `global:` values shared by every plugin.
    pub fn global(&self) -> &GlobalValues {
        &self.global
    }

    /// What the target cluster serves; pick API versions from it.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether `plugin` is in the stack being rendered.
    pub fn has_plugin(&self, plugin: &str) -> bool {
        self.plugins.iter().any(|p| p == plugin)
    }

    /// The name of a release's component, Helm-style: `<release>-<component>`, cut to the
    /// 63 characters that names used as labels and DNS labels allow.
    pub fn full_name(&self, component: &str) -> String {
        labels::full_name(&self.release.name, component)
    }

    /// Metadata for a resource called `name` of `component`, in the release namespace, with the
    /// standard labels.
    pub fn metadata(&self, name: &str, component: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(self.release.namespace.clone()),
            labels: Some(self.labels(component)),
            ..ObjectMeta::default()
        }
    }

    /// The standard `app.kubernetes.io/*` labels of `component`.
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        labels::standard(&self.release.name, component)
    }

    /// The labels that select `component`'s pods; they never change across upgrades.
    pub fn selector_labels(&self, component: &str) -> BTreeMap<String, String> {
        labels::selector(&self.release.name, component)
    }

    /// A selector of `component`'s pods by [`Context::selector_labels`], for a workload, a
    /// PodDisruptionBudget or a NetworkPolicy.
    pub fn pod_selector(&self, component: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some(self.selector_labels(component)),
            ..LabelSelector::default()
        }
    }

    /// The image reference of the Prefect image from `global.prefect.image`, with
    /// `global.imageRegistry` in front.
    pub fn prefect_image(&self) -> String {
        let image = &self.global.prefect.image;
        self.image(&image.repository, &image.prefect_tag)
    }

    /// `repository:tag`, with `global.imageRegistry` in front when it is set.
    pub fn image(&self, repository: &str, tag: &str) -> String {
        self.pinned_image(repository, tag, "")
    }

    /// [`Context::image`] followed by `@digest` when `digest` is not empty: the runtime pulls
    /// exactly that image, and the tag stays for people reading the manifest. Check the digest
    /// first with [`crate::workload::check_digest`].
    pub fn pinned_image(&self, repository: &str, tag: &str, digest: &str) -> String {
        let registry = self.global.image_registry.trim_end_matches('/');
        let at = if digest.is_empty() { String::new() } else { format!("@{digest}") };
        if registry.is_empty() {
            format!("{repository}:{tag}{at}")
        } else {
            format!("{registry}/{repository}:{tag}{at}")
        }
    }

    /// Adds a typed resource. A namespaced resource without a namespace gets the release's.
    pub fn add<K>(&mut self, object: K) -> Result<(), Error>
    where
        K: Resource + Metadata<Ty = ObjectMeta> + Serialize,
    {
        self.add_object(serde_json::to_value(&object)?);
        Ok(())
    }

    /// Adds a typed resource in another version of its API group than the one `K` is written
    /// for, such as a `PodDisruptionBudget` as `policy/v1beta1` on a cluster that does not
    /// serve `policy/v1` (pick it from [`Context::capabilities`]). The fields must mean the
    /// same in that version; an `api_version` of another group is an error.
    pub fn add_as<K>(&mut self, object: K, api_version: &str) -> Result<(), Error>
    where
        K: Resource + Metadata<Ty = ObjectMeta> + Serialize,
    {
        self.add_object(in_version(&object, api_version)?);
        Ok(())
    }

    /// Adds a resource given as JSON (for kinds k8s-openapi has no type for, such as custom
    /// resources). It must carry `apiVersion`, `kind` and `metadata.name`; a missing
    /// `metadata.namespace` is set to the release's unless the kind is cluster-scoped.
    pub fn add_object(&mut self, mut object: Value) {
        let namespaced = !labels::is_cluster_scoped(object["kind"].as_str().unwrap_or_default());
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
            && namespaced
            && !meta.contains_key("namespace")
        {
            meta.insert("namespace".into(), Value::String(self.release.namespace.clone()));
        }
        self.added.push(object);
    }

    /// The resources other plugins put in the graph before this one ran, in render order.
    pub fn items(&self) -> &[Value] {
        &self.items
    }

    /// The resources of kind `K` in the graph so far, typed.
    pub fn items_of<K>(&self) -> impl Iterator<Item = Result<K, Error>> + '_
    where
        K: Resource + DeserializeOwned,
    {
        self.items
            .iter()
            .filter(|item| is_kind::<K>(item))
            .map(|item| serde_json::from_value(item.clone()).map_err(Error::from))
    }

    /// Runs `change` on every resource in the graph so far; those it changes are returned to the
    /// host as changed, which records the changed fields in the resource's provenance.
    pub fn update_each(&mut self, mut change: impl FnMut(&mut Value)) {
        for (index, item) in self.items.iter_mut().enumerate() {
            let before = item.clone();
            change(item);
            if *item != before && !self.changed.contains(&index) {
                self.changed.push(index);
            }
        }
    }

    /// Runs `visit` on the pod template of every workload in the graph so far (every kind of
    /// [`pods::KINDS`]: a Pod is its own template), with the workload it belongs to; those it
    /// changes are handed back as changed, as [`Context::update_each`] does.
    pub fn update_pod_templates(&mut self, mut visit: impl FnMut(&pods::Workload, &mut Value)) {
        self.update_each(|object| {
            let workload = pods::Workload::of(object);
            if let Some(template) = pods::template_mut(object) {
                visit(&workload, template);
            }
        });
    }

    /// Changes the resource of kind `K` called `name` in the release namespace, typed; returns
    /// whether it was found.
    ///
    /// Only what `change` changes is written back: fields `K` does not model (those a newer
    /// Kubernetes added, or another plugin set through JSON) are kept as they were. A field
    /// `change` clears (sets to `None`, or removes from a list) is removed with all it held,
    /// unknown fields included. List items are matched by their `name` (containers, ports,
    /// variables), or by position in a list whose length is kept; a new item is written as
    /// `K` writes it.
    pub fn update<K>(&mut self, name: &str, change: impl FnOnce(&mut K)) -> Result<bool, Error>
    where
        K: Resource + DeserializeOwned + Serialize,
    {
        let Some(index) = self.position::<K>(name) else { return Ok(false) };
        let mut typed: K = serde_json::from_value(self.items[index].clone())?;
        let before = serde_json::to_value(&typed)?;
        change(&mut typed);
        let after = overlay::overlay(&self.items[index], &before, &serde_json::to_value(&typed)?);
        if after != self.items[index] {
            self.items[index] = after;
            if !self.changed.contains(&index) {
                self.changed.push(index);
            }
        }
        Ok(true)
    }

    /// Takes the resource of kind `K` called `name` in the release namespace out of the
    /// release (a transformer that replaces it, or drops what the cluster does not need);
    /// returns whether it was found. It is gone from [`Context::items`] at once, and `render`
    /// shows which plugin removed it.
    pub fn remove<K: Resource>(&mut self, name: &str) -> bool {
        let Some(index) = self.position::<K>(name) else { return false };
        let item = self.items.remove(index);
        self.changed.retain(|&changed| changed != index);
        for changed in &mut self.changed {
            if *changed > index {
                *changed -= 1;
            }
        }
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        self.removed.push(ObjectRef {
            api_version: text(&item["apiVersion"]),
            kind: text(&item["kind"]),
            namespace: item["metadata"]["namespace"].as_str().map(str::to_owned),
            name: text(&item["metadata"]["name"]),
        });
        true
    }

    /// The index in `items` of the resource of kind `K` called `name` in the release
    /// namespace.
    fn position<K: Resource>(&self, name: &str) -> Option<usize> {
        let namespace = self.release.namespace.as_str();
        self.items.iter().position(|item| {
            is_kind::<K>(item)
                && item["metadata"]["name"] == name
                && (labels::is_cluster_scoped(K::KIND)
                    || item["metadata"]["namespace"] == namespace)
        })
    }

    /// Reads the live object of kind `K` called `name` (in the release namespace, unless `K`
    /// is cluster-scoped), such as the Secret that holds a password the plugin generated on
    /// an earlier apply; see [`Context::lookup_object`] for when each answer comes. A live
    /// object that is not a `K` is an error.
    pub fn lookup<K>(&mut self, name: &str) -> Result<Lookup<K>, Error>
    where
        K: Resource + DeserializeOwned,
    {
        let reference = ObjectRef {
            api_version: K::API_VERSION.to_owned(),
            kind: K::KIND.to_owned(),
            namespace: (!labels::is_cluster_scoped(K::KIND))
                .then(|| self.release.namespace.clone()),
            name: name.to_owned(),
        };
        Ok(match self.lookup_object(&reference) {
            Lookup::Found(live) => Lookup::Found(serde_json::from_value(live).map_err(|err| {
                Error::new(format!(
                    "the live {} {name} cannot be read as one: {err}; check that it is the \
                     release's own",
                    K::KIND
                ))
            })?),
            Lookup::Absent => Lookup::Absent,
            Lookup::Pending => Lookup::Pending,
            Lookup::Unavailable => Lookup::Unavailable,
        })
    }

    /// Reads a live object from the cluster, as JSON (for kinds k8s-openapi has no type for;
    /// [`Context::lookup`] reads a typed one).
    ///
    /// While rendering offline the answer is [`Lookup::Unavailable`]. While applying, the first
    /// round of the run answers [`Lookup::Pending`]: the host then reads every object asked
    /// for and runs the plugin again, discarding what this round added, and this time the
    /// answer is [`Lookup::Found`] or [`Lookup::Absent`]. So a plugin may treat `Pending` as it
    /// likes, as long as it asks for the same objects again.
    pub fn lookup_object(&mut self, reference: &ObjectRef) -> Lookup {
        if !self.lookups.available {
            return Lookup::Unavailable;
        }
        match self.lookups.results.iter().find(|result| result.reference == *reference) {
            Some(result) => match &result.object {
                Some(object) => Lookup::Found(object.clone()),
                None => Lookup::Absent,
            },
            None => {
                if !self.pending.contains(reference) {
                    self.pending.push(reference.clone());
                }
                Lookup::Pending
            }
        }
    }

    pub(crate) fn changed_items(&self) -> Vec<Value> {
        self.changed.iter().map(|&index| self.items[index].clone()).collect()
    }
}

/// What [`Context::lookup`] (a typed object `T`) or [`Context::lookup_object`] (JSON) found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T = Value> {
    /// The live object.
    Found(T),
    /// The cluster has no such object (a first install).
    Absent,
    /// The host reads it before the next round of this run.
    Pending,
    /// No cluster is read in this run (`prefectctl render`).
    Unavailable,
}

/// `object` as JSON with `api_version`, which must be a version of `K`'s API group.
pub(crate) fn in_version<K: Resource + Serialize>(
    object: &K,
    api_version: &str,
) -> Result<Value, Error> {
    if api_group(api_version) != K::GROUP {
        return Err(Error::new(format!(
            "cannot write a {} as {api_version}: it belongs to the API group {:?}; give a \
             version of that group, such as {}",
            K::KIND,
            K::GROUP,
            K::API_VERSION
        )));
    }
    let mut json = serde_json::to_value(object)?;
    json["apiVersion"] = Value::String(api_version.to_owned());
    Ok(json)
}

fn is_kind<K: Resource>(item: &Value) -> bool {
    item["kind"] == K::KIND
        && api_group(item["apiVersion"].as_str().unwrap_or_default()) == K::GROUP
}

fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

#[cfg(test)]
mod tests;
