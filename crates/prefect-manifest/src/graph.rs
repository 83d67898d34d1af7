//! [`Graph`]: the resources plugins add and change, each with its provenance.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Error, Item, Provenance, ResourceKey, Result, diff, order, validate};

/// The resources plugins have added so far, keyed by [`ResourceKey`], each with its
/// [`Provenance`].
///
/// Everything in the graph has passed [`validate`](crate::validate), and no two resources
/// share a key.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    entries: BTreeMap<ResourceKey, Box<Entry>>,
    /// The resources plugins removed, in the order they were removed, with their provenance.
    removed: Vec<(ResourceKey, Provenance)>,
}

#[derive(Debug, Clone)]
struct Entry {
    object: Value,
    provenance: Provenance,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// How many resources the graph holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the graph holds no resources.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The resource with `key` (whatever the version in `key`'s `apiVersion`).
    pub fn get(&self, key: &ResourceKey) -> Option<&Value> {
        self.entries.get(key).map(|entry| &entry.object)
    }

    /// Every resource, in key order (not the render order: see [`Graph::ordered`]), without
    /// sorting them.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceKey, &Value)> + Clone {
        self.entries.iter().map(|(key, entry)| (key, &entry.object))
    }

    /// Who added the resource with `key`, and which fields were changed since by whom.
    pub fn provenance(&self, key: &ResourceKey) -> Option<&Provenance> {
        self.entries.get(key).map(|entry| &entry.provenance)
    }

    /// The resources plugins removed from the graph, in the order they were removed, each
    /// with its [`Provenance`] up to its removal ([`Provenance::removed_by`] names the plugin).
    pub fn removed(&self) -> &[(ResourceKey, Provenance)] {
        &self.removed
    }

    /// Adds one resource on behalf of `plugin`; see [`Graph::apply`]. When the object has
    /// several problems, only the first is returned.
    #[expect(
        clippy::result_large_err,
        reason = "a cold path; `apply`, which the host calls, returns a `Vec`"
    )]
    pub fn add(&mut self, plugin: &str, object: Value) -> Result<()> {
        self.apply(plugin, vec![object], Vec::new()).map_err(first)
    }

    /// Replaces a resource on behalf of `plugin`, which changed it; see [`Graph::apply`]. When
    /// the object has several problems, only the first is returned.
    #[expect(
        clippy::result_large_err,
        reason = "a cold path; `apply`, which the host calls, returns a `Vec`"
    )]
    pub fn change(&mut self, plugin: &str, object: Value) -> Result<()> {
        self.apply(plugin, Vec::new(), vec![object]).map_err(first)
    }

    /// Applies one plugin's response: the resources it adds and those it changed.
    ///
    /// Every object is checked first, and every problem is returned: an invalid object, an
    /// added resource already in the graph ([`Error::Conflict`]), a changed one that is not
    /// ([`Error::ChangedMissing`], [`Error::ChangedIdentity`]), the same resource twice. If
    /// there is any, the graph is left exactly as it was.
    ///
    /// A changed object replaces the resource with its key; the paths of the fields that differ
    /// are recorded in the resource's provenance. A changed object equal to the resource
    /// changes nothing and records nothing. Its `apiVersion` may name another version of the
    /// same group.
    pub fn apply(
        &mut self,
        plugin: &str,
        added: Vec<Value>,
        changed: Vec<Value>,
    ) -> Result<(), Vec<Error>> {
        self.apply_with_removals(plugin, added, changed, Vec::new())
    }

    /// [`Graph::apply`], and the resources with the keys in `removed` taken out of the graph
    /// (whatever the version in each key's `apiVersion`), all or nothing with the rest.
    ///
    /// A removed resource must be in the graph ([`Error::RemovedMissing`]) and not also added
    /// or changed by the same response ([`Error::Duplicate`]); it is remembered with its
    /// provenance in [`Graph::removed`], so that the output can say who removed what.
    pub fn apply_with_removals(
        &mut self,
        plugin: &str,
        added: Vec<Value>,
        changed: Vec<Value>,
        removed: Vec<ResourceKey>,
    ) -> Result<(), Vec<Error>> {
        // Each problem with the position of the item it is about, so that they are reported
        // in the order of the response whatever order they are found in.
        let mut errors: Vec<(usize, Error)> = Vec::new();
        // Every valid item with its key and position, sorted by key (then position): one sort
        // of thousands of keys instead of a search per key, and two items with one key next
        // to each other.
        let item_count = added.len() + changed.len();
        let mut staged: Vec<(ResourceKey, usize, Item, Value)> = Vec::with_capacity(item_count);
        let items =
            added.into_iter().enumerate().map(|(index, object)| (Item::Added(index), object));
        let items = items.chain(
            changed.into_iter().enumerate().map(|(index, object)| (Item::Changed(index), object)),
        );
        for (position, (item, object)) in items.enumerate() {
            let mut problems = Vec::new();
            match checked(plugin, item, &object, &mut problems) {
                Some(key) => staged.push((key, position, item, object)),
                None => errors.extend(problems.into_iter().map(|problem| (position, problem))),
            }
        }
        staged.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        // The first item of each key, the others reported as duplicates of it; an item in
        // error stays (with a `Null` object) so that a removal of its key is a duplicate too.
        let mut kept: Vec<(ResourceKey, Item, Value)> = Vec::with_capacity(staged.len());
        for (key, position, item, object) in staged {
            if let Some((first_key, first, _)) = kept.last()
                && *first_key == key
            {
                let duplicate = Error::Duplicate {
                    plugin: plugin.to_owned(),
                    key,
                    first: *first,
                    second: item,
                };
                errors.push((position, duplicate));
                continue;
            }
            let error = match (item, self.entries.get(&key)) {
                (Item::Added(_), None) | (Item::Changed(_), Some(_)) => None,
                (Item::Added(_), Some(entry)) => Some(Error::Conflict {
                    key: key.clone(),
                    first_plugin: entry.provenance.added_by.clone(),
                    second_plugin: plugin.to_owned(),
                }),
                (Item::Changed(_), None) => Some(self.missing(plugin, key.clone(), item)),
                // Removals are checked after every added and changed object.
                (Item::Removed(_), _) => None,
            };
            match error {
                Some(error) => {
                    errors.push((position, error));
                    kept.push((key, item, Value::Null));
                }
                None => kept.push((key, item, object)),
            }
        }
        let mut removing: Vec<(ResourceKey, Item)> = Vec::with_capacity(removed.len());
        for (index, key) in removed.into_iter().enumerate() {
            let item = Item::Removed(index);
            let position = item_count + index;
            let given = kept
                .binary_search_by(|(kept_key, _, _)| kept_key.cmp(&key))
                .ok()
                .map(|at| kept[at].1)
                .or_else(|| removing.iter().find(|(k, _)| *k == key).map(|(_, first)| *first));
            if let Some(first) = given {
                let duplicate =
                    Error::Duplicate { plugin: plugin.to_owned(), key, first, second: item };
                errors.push((position, duplicate));
            } else if !self.entries.contains_key(&key) {
                let missing = Error::RemovedMissing { plugin: plugin.to_owned(), key, item };
                errors.push((position, missing));
            } else {
                removing.push((key, item));
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|(position, _)| *position);
            return Err(errors.into_iter().map(|(_, error)| error).collect());
        }

        let mut additions = Vec::new();
        for (key, item, object) in kept {
            match item {
                Item::Added(_) => {
                    let entry = Entry { object, provenance: Provenance::new(plugin) };
                    additions.push((key, Box::new(entry)));
                }
                Item::Changed(_) => self.replace(plugin, key, object),
                Item::Removed(_) => {}
            }
        }
        for (key, _) in removing {
            if let Some((key, mut entry)) = self.entries.remove_entry(&key) {
                entry.provenance.removed_by = Some(plugin.to_owned());
                self.removed.push((key, entry.provenance));
            }
        }
        // In key order already: collecting builds the map in one pass, and `append` merges two
        // sorted maps in one pass, so a plugin adding thousands of resources costs linear
        // time, not a search per resource; a few are inserted one by one.
        if additions.len() > self.entries.len() / 8 {
            let mut additions: BTreeMap<_, _> = additions.into_iter().collect();
            self.entries.append(&mut additions);
        } else {
            self.entries.extend(additions);
        }
        Ok(())
    }

    /// Runs a host-owned pass over every resource, such as adding common labels, and records
    /// the fields it changes in provenance under the name `by`.
    ///
    /// The pass must leave each resource valid and keep its API group, kind, namespace and name;
    /// if it does not, every problem is returned and the graph is left exactly as it was.
    pub fn transform_all(
        &mut self,
        by: &str,
        f: impl FnMut(&ResourceKey, &mut Value),
    ) -> Result<(), Vec<Error>> {
        self.transform_where(by, |_, _| true, f)
    }

    /// [`Graph::transform_all`] over only the resources `wanted` picks: the others are not
    /// copied and compared, which for a pass that changes a few resources of many is most of
    /// its cost.
    pub fn transform_where(
        &mut self,
        by: &str,
        mut wanted: impl FnMut(&ResourceKey, &Value) -> bool,
        mut f: impl FnMut(&ResourceKey, &mut Value),
    ) -> Result<(), Vec<Error>> {
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        for (key, entry) in &self.entries {
            if !wanted(key, &entry.object) {
                continue;
            }
            let mut object = entry.object.clone();
            f(key, &mut object);
            if object == entry.object {
                continue;
            }
            let (new_key, problems) = validate::check(&object);
            let pass = || by.to_owned();
            match new_key {
                Some(new_key) if problems.is_empty() => {
                    if new_key == *key {
                        changes.push((new_key, object));
                    } else {
                        errors.push(Error::PassChangedIdentity {
                            pass: pass(),
                            key: key.clone(),
                            new_key,
                        });
                    }
                }
                _ => errors.extend(problems.into_iter().map(|problem| Error::PassInvalid {
                    pass: pass(),
                    key: key.clone(),
                    problem,
                })),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        for (key, object) in changes {
            self.replace(by, key, object);
        }
        Ok(())
    }

    /// Every resource in the order to render and apply them, described in [`crate::order`].
    /// It depends only on the resources, never on the order they were added in.
    pub fn ordered(&self) -> Vec<(&ResourceKey, &Value)> {
        self.placed().into_iter().map(|(key, entry, _)| (key, &entry.object)).collect()
    }

    /// [`Graph::ordered`], each resource with its [`Provenance`] (without a search of the
    /// graph per resource, as [`Graph::provenance`] would be).
    pub fn ordered_with_provenance(&self) -> Vec<(&ResourceKey, &Value, &Provenance)> {
        self.placed()
            .into_iter()
            .map(|(key, entry, _)| (key, &entry.object, &entry.provenance))
            .collect()
    }

    /// The keys of [`Graph::ordered`] in consecutive groups, one per stage of
    /// [`crate::order`] that has resources (the workloads stage split around its gates): the
    /// resources of one group may be applied concurrently, once the groups before it are in
    /// place.
    pub fn waves(&self) -> Vec<Vec<&ResourceKey>> {
        let mut waves: Vec<Vec<&ResourceKey>> = Vec::new();
        let mut previous = None;
        for (key, _, place) in self.placed() {
            match waves.last_mut() {
                Some(wave) if previous == Some(place) => wave.push(key),
                _ => waves.push(vec![key]),
            }
            previous = Some(place);
        }
        waves
    }

    /// The resources in order, each with its wave: its stage and its step among the workloads.
    fn placed(&self) -> Vec<(&ResourceKey, &Entry, (usize, order::Step))> {
        let steps = order::steps(self.iter());
        let mut placed: Vec<_> = self
            .entries
            .iter()
            .map(|(key, entry)| {
                // No gate: no search per resource.
                let step = if steps.is_empty() {
                    order::Step::default()
                } else {
                    steps.get(key).copied().unwrap_or_default()
                };
                let rank = order::rank(&key.kind);
                (key, entry, (rank.stage, step), rank)
            })
            .collect();
        // By wave, then in the order of `order::sort` within it; each rank worked out once.
        placed.sort_unstable_by(|(a, _, place_a, rank_a), (b, _, place_b, rank_b)| {
            place_a.cmp(place_b).then_with(|| order::compare((*rank_a, *a), (*rank_b, *b)))
        });
        placed.into_iter().map(|(key, entry, place, _)| (key, &**entry, place)).collect()
    }

    /// Why `plugin` cannot change `key`, which is not in the graph: the same resource in
    /// another API group is, or none is.
    fn missing(&self, plugin: &str, key: ResourceKey, item: Item) -> Error {
        let moved = self.entries.keys().find(|old| {
            old.kind == key.kind && old.namespace == key.namespace && old.name == key.name
        });
        match moved {
            Some(old) => Error::ChangedIdentity {
                plugin: plugin.to_owned(),
                key: old.clone(),
                new_key: key,
                item,
            },
            None => Error::ChangedMissing { plugin: plugin.to_owned(), key, item },
        }
    }

    /// Replaces the resource with `key` by `object`, recording what `by` changed. The stored
    /// key takes `key`'s `apiVersion`.
    fn replace(&mut self, by: &str, key: ResourceKey, object: Value) {
        let Some(mut entry) = self.entries.remove(&key) else { return };
        entry.provenance.record(by, diff::changed_paths(&entry.object, &object));
        entry.object = object;
        self.entries.insert(key, entry);
    }
}

/// Checks `object`, pushing one error per problem, and returns its key when it is valid.
fn checked(
    plugin: &str,
    item: Item,
    object: &Value,
    errors: &mut Vec<Error>,
) -> Option<ResourceKey> {
    let (key, problems) = validate::check(object);
    if problems.is_empty() {
        return key;
    }
    errors.extend(problems.into_iter().map(|problem| Error::InvalidObject {
        plugin: plugin.to_owned(),
        item,
        key: key.clone(),
        problem,
    }));
    None
}

/// The first of `errors`, which [`Graph::apply`] never returns empty.
fn first(mut errors: Vec<Error>) -> Error {
    errors.swap_remove(0)
}

#[cfg(test)]
mod tests;
