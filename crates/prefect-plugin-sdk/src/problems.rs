//! [`Problems`]: the errors and warnings a run collects, so that a user sees all of them at
//! once; and free-form values (the Kubernetes objects users write under `affinity`, `env`,
//! `tolerations`...) turned into k8s-openapi types, with problems that name the value path
//! (`affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`).
//!
//! The path of a type error is found by pruning (the first key whose removal changes the
//! error holds it). k8s-openapi types ignore fields they do not know and fill required fields
//! that are missing with empty values, so a misspelt or forgotten key would go unseen:
//! [`Problems::convert`] compares the typed value with what the user wrote and reports both.
//!
//! A plugin collects problems while it builds its resources and hands them to
//! [`Context::report`](crate::Context::report) at the end.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::Error;

/// What is wrong with the values, collected while the resources are built.
#[derive(Debug, Default)]
pub struct Problems {
    /// Values that cannot be used; the render fails.
    pub errors: Vec<Error>,
    /// `(path, message)` of values that are used differently than the user may think.
    pub warnings: Vec<(String, String)>,
}

impl Problems {
    /// Records an error about the value at `path`.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Error::at(path, message));
    }

    /// Records a warning about the value at `path`.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push((path.into(), message.into()));
    }

    /// Records the problems of `inner`, whose paths are relative to `prefix`: a part of the
    /// values built by the same helpers as a whole section (`backgroundServices`, whose pod
    /// values `PodValues::template` reports as `resources`, `podLabels`...).
    pub fn extend_at(&mut self, prefix: &str, inner: Problems) {
        for error in inner.errors {
            let path = join(prefix, error.path.as_deref().unwrap_or(""));
            self.errors.push(Error::at(path, error.message));
        }
        for (path, message) in inner.warnings {
            self.warnings.push((join(prefix, &path), message));
        }
    }

    /// `value` (at `path`) as a `T`, or `None` after recording why not.
    pub fn convert<T: DeserializeOwned + Serialize>(
        &mut self,
        value: Value,
        path: &str,
    ) -> Option<T> {
        match serde_json::from_value::<T>(value.clone()) {
            Ok(typed) => {
                let errors = self.errors.len();
                if let Ok(back) = serde_json::to_value(&typed) {
                    self.compare_keys(&value, &back, path, short_type_name::<T>());
                }
                (self.errors.len() == errors).then_some(typed)
            }
            Err(err) => {
                let inner = locate::<T>(&value, &err.to_string());
                self.errors.push(Error::at(join(path, &inner), err.to_string()));
                None
            }
        }
    }

    /// The map at `path` as a `T`.
    pub fn map<T: DeserializeOwned + Serialize>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
    ) -> Option<T> {
        self.convert(Value::Object(map.clone()), path)
    }

    /// Every item of the list at `path` as a `T`; items that are not are reported (all of
    /// them) and left out.
    pub fn list<T: DeserializeOwned + Serialize>(&mut self, items: &[Value], path: &str) -> Vec<T> {
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.convert(item.clone(), &format!("{path}[{index}]")))
            .collect()
    }

    /// Compares what the user wrote with what the typed value keeps: a key it dropped is
    /// unknown (a warning); a key it added is a required field the user left out, which
    /// k8s-openapi fills with an empty value that the API server would refuse (an error).
    fn compare_keys(&mut self, input: &Value, back: &Value, path: &str, type_name: &str) {
        match (input, back) {
            (Value::Object(input), Value::Object(back)) => {
                for (key, value) in input {
                    let at = join(path, key);
                    match back.get(key) {
                        Some(kept) => self.compare_keys(value, kept, &at, type_name),
                        None if value.is_null() => {}
                        None => self.warn(
                            at,
                            format!(
                                "`{key}` is not a field here (in a Kubernetes {type_name}) and is \
                                 ignored: check its spelling and indentation"
                            ),
                        ),
                    }
                }
                for key in back.keys().filter(|key| !input.contains_key(*key)) {
                    self.error(
                        join(path, key),
                        format!("`{key}` is missing: a Kubernetes {type_name} needs it here"),
                    );
                }
            }
            (Value::Array(input), Value::Array(back)) => {
                for (index, (value, kept)) in input.iter().zip(back).enumerate() {
                    self.compare_keys(value, kept, &format!("{path}[{index}]"), type_name);
                }
            }
            _ => {}
        }
    }
}

/// The path inside `value` of the error `message` that deserializing a `T` gives: descend
/// into the first key (or item) whose removal changes the error, until none does.
fn locate<T: DeserializeOwned>(value: &Value, message: &str) -> String {
    let mut path: Vec<Step> = Vec::new();
    while let Some(step) = culprit::<T>(value, &path, message) {
        path.push(step);
    }
    path.iter().fold(String::new(), |out, step| match step {
        Step::Key(key) => join(&out, key),
        Step::Index(index) => format!("{out}[{index}]"),
    })
}

/// The child of the node at `path` whose removal changes the error `message`.
fn culprit<T: DeserializeOwned>(value: &Value, path: &[Step], message: &str) -> Option<Step> {
    let children: Vec<Step> = match get(value, path)? {
        Value::Object(map) => map.keys().cloned().map(Step::Key).collect(),
        Value::Array(items) => (0..items.len()).map(Step::Index).collect(),
        _ => return None,
    };
    children.into_iter().find(|child| {
        let mut pruned = value.clone();
        remove(&mut pruned, path, child);
        let error = serde_json::from_value::<T>(pruned).err().map(|err| err.to_string());
        error.as_deref() != Some(message)
    })
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn get<'v>(value: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(key) => node.get(key),
        Step::Index(index) => node.get(index),
    })
}

/// Removes the child `last` of the node at `parent`.
fn remove(value: &mut Value, parent: &[Step], last: &Step) {
    let mut node = value;
    for step in parent {
        let next = match step {
            Step::Key(key) => node.get_mut(key),
            Step::Index(index) => node.get_mut(*index),
        };
        let Some(next) = next else { return };
        node = next;
    }
    match (node, last) {
        (Value::Object(map), Step::Key(key)) => {
            map.shift_remove(key);
        }
        (Value::Array(items), Step::Index(index)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

/// `outer.inner`, where an empty side or a list index needs no dot.
pub fn join(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_owned()
    } else if inner.is_empty() {
        outer.to_owned()
    } else if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Affinity, Toleration};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_type_error_names_the_path_of_the_bad_value() {
        let mut convert = Problems::default();
        let affinity = json!({
            "podAntiAffinity": {},
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "zone", "operator": "In", "values": "a" }] }],
                },
            },
        });
        assert!(convert.convert::<Affinity>(affinity, "affinity").is_none());
        let error = convert.errors[0].to_string();
        assert_eq!(
            error,
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]\
             .matchExpressions[0].values: invalid type: string \"a\", expected a sequence"
        );
    }

    #[test]
    fn every_bad_list_item_is_reported_and_misspelt_keys_warn() {
        let mut convert = Problems::default();
        let items = [
            json!({ "key": "a", "tolerationSeconds": "soon" }),
            json!({ "key": "b", "efect": "NoSchedule" }),
            json!({ "key": "c", "tolerationSeconds": true }),
        ];
        let typed: Vec<Toleration> = convert.list(&items, "tolerations");
        assert_eq!(typed.len(), 1);
        let errors: Vec<String> = convert.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "tolerations[0].tolerationSeconds: invalid type: string \"soon\", expected i64",
                "tolerations[2].tolerationSeconds: invalid type: boolean `true`, expected i64",
            ]
        );
        assert_eq!(convert.warnings[0].0, "tolerations[1].efect");
    }
}
