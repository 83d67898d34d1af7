//! What a run reports: errors and warnings about the plugin's values, with their value paths,
//! kept by the [`Context`] so that every builder that has the context can report, and a user
//! sees every problem at once; and free-form values (the Kubernetes objects users write under
//! `affinity`, `env`, `tolerations`...) turned into k8s-openapi types, with diagnostics that
//! name the value path (`affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`).
//!
//! The path of a type error is found by pruning (the first key whose removal changes the
//! error holds it). k8s-openapi types ignore fields they do not know and fill required fields
//! that are missing with empty values, so a misspelt or forgotten key would go unseen:
//! [`Context::convert`] compares the typed value with what the user wrote and reports both.

use prefect_plugin_abi::wire::{Diagnostic, Severity};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::Context;
use crate::Error;

/// The diagnostics of a run, and the value path [`Context::within`] puts in front of the
/// paths reported.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    pub(crate) list: Vec<Diagnostic>,
    scope: String,
}

impl Context {
    /// Reports an error about the value at `path` (relative to the plugin's section, or to the
    /// part of it [`Context::within`] names) and goes on, so that one run can report several.
    /// The render fails, and the run hands the host no resources; check
    /// [`Context::failed`] before building what depends on the value.
    pub fn error(&self, path: impl Into<String>, message: impl Into<String>) {
        self.record(Severity::Error, Some(path.into()), message.into());
    }

    /// Reports a warning about the value at `path` (relative as for [`Context::error`]): a
    /// value used differently than the user may think. The render goes on.
    pub fn warn(&self, path: impl Into<String>, message: impl Into<String>) {
        self.record(Severity::Warning, Some(path.into()), message.into());
    }

    /// Reports a warning about no value in particular: about the release as a whole, such as
    /// a resource another plugin should have added. The render goes on.
    pub fn warn_release(&self, message: impl Into<String>) {
        self.diagnostics.borrow_mut().list.push(Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            path: None,
        });
    }

    /// Whether this run reported an error so far. A plugin checks it before it adds what it
    /// built, since a failed run hands the host nothing:
    ///
    /// ```
    /// # use prefect_plugin_sdk::{Context, Error};
    /// fn run(ctx: &mut Context, port: i64) -> Result<(), Error> {
    ///     if !(1..=65535).contains(&port) {
    ///         ctx.error("port", "must be between 1 and 65535");
    ///     }
    ///     if ctx.failed() {
    ///         return Ok(());
    ///     }
    ///     // ... add the resources
    ///     Ok(())
    /// }
    /// ```
    pub fn failed(&self) -> bool {
        self.error_count() > 0
    }

    /// Runs `build` with the paths it reports relative to `prefix`: a part of the values built
    /// by the same helpers as a whole section (`backgroundServices`, whose pod values
    /// [`PodValues::template`](crate::workload::PodValues::template) reports as `resources`,
    /// `podLabels`...). Scopes nest.
    ///
    /// ```
    /// # use prefect_plugin_sdk::Context;
    /// fn check(ctx: &Context, replicas: i32) {
    ///     ctx.within("backgroundServices", |ctx| {
    ///         if replicas < 0 {
    ///             // Reported at `backgroundServices.replicaCount`.
    ///             ctx.error("replicaCount", "must not be negative");
    ///         }
    ///     });
    /// }
    /// ```
    pub fn within<R>(&self, prefix: &str, build: impl FnOnce(&Context) -> R) -> R {
        let outer = {
            let mut diagnostics = self.diagnostics.borrow_mut();
            let inner = join(&diagnostics.scope, prefix);
            std::mem::replace(&mut diagnostics.scope, inner)
        };
        let result = build(self);
        self.diagnostics.borrow_mut().scope = outer;
        result
    }

    /// `value` (at `path`) as a `T`, or `None` after reporting why not. A key `T` does not
    /// have is a warning; a required field left out is an error.
    pub fn convert<T: DeserializeOwned + Serialize>(&self, value: Value, path: &str) -> Option<T> {
        match serde_json::from_value::<T>(value.clone()) {
            Ok(typed) => {
                let errors = self.error_count();
                if let Ok(back) = serde_json::to_value(&typed) {
                    self.compare_keys(&value, &back, path, short_type_name::<T>());
                }
                (self.error_count() == errors).then_some(typed)
            }
            Err(err) => {
                let inner = locate::<T>(&value, &err.to_string());
                self.error(join(path, &inner), err.to_string());
                None
            }
        }
    }

    /// The map at `path` as a `T`, as [`Context::convert`] does.
    pub fn map<T: DeserializeOwned + Serialize>(
        &self,
        map: &Map<String, Value>,
        path: &str,
    ) -> Option<T> {
        self.convert(Value::Object(map.clone()), path)
    }

    /// Every item of the list at `path` as a `T`; items that are not are reported (all of
    /// them) and left out.
    pub fn list<T: DeserializeOwned + Serialize>(&self, items: &[Value], path: &str) -> Vec<T> {
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.convert(item.clone(), &format!("{path}[{index}]")))
            .collect()
    }

    /// Records `error`, with its path or without (the error a run returned).
    pub(crate) fn record_error(&self, error: Error) {
        self.record(Severity::Error, error.path, error.message);
    }

    fn record(&self, severity: Severity, path: Option<String>, message: String) {
        let mut diagnostics = self.diagnostics.borrow_mut();
        let path = match path {
            Some(path) => Some(join(&diagnostics.scope, &path)),
            None if diagnostics.scope.is_empty() => None,
            None => Some(diagnostics.scope.clone()),
        };
        diagnostics.list.push(Diagnostic { severity, message, path });
    }

    fn error_count(&self) -> usize {
        let diagnostics = self.diagnostics.borrow();
        diagnostics.list.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Compares what the user wrote with what the typed value keeps: a key it dropped is
    /// unknown (a warning); a key it added is a required field the user left out, which
    /// k8s-openapi fills with an empty value that the API server would refuse (an error).
    fn compare_keys(&self, input: &Value, back: &Value, path: &str, type_name: &str) {
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

    /// The diagnostics reported so far, one a line: `error PATH: MESSAGE`.
    fn lines(ctx: &Context) -> Vec<String> {
        let diagnostics = ctx.diagnostics.borrow();
        diagnostics
            .list
            .iter()
            .map(|d| {
                let severity = if d.severity == Severity::Error { "error" } else { "warning" };
                format!("{severity} {}: {}", d.path.as_deref().unwrap_or("-"), d.message)
            })
            .collect()
    }

    #[test]
    fn a_type_error_names_the_path_of_the_bad_value() {
        let ctx = super::super::tests::context(Vec::new());
        let affinity = json!({
            "podAntiAffinity": {},
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "zone", "operator": "In", "values": "a" }] }],
                },
            },
        });
        assert!(ctx.convert::<Affinity>(affinity, "affinity").is_none());
        assert_eq!(
            lines(&ctx),
            ["error affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution\
              .nodeSelectorTerms[0].matchExpressions[0].values: invalid type: string \"a\", \
              expected a sequence"]
        );
        assert!(ctx.failed());
    }

    #[test]
    fn every_bad_list_item_is_reported_and_misspelt_keys_warn() {
        let ctx = super::super::tests::context(Vec::new());
        let items = [
            json!({ "key": "a", "tolerationSeconds": "soon" }),
            json!({ "key": "b", "efect": "NoSchedule" }),
            json!({ "key": "c", "tolerationSeconds": true }),
        ];
        let typed: Vec<Toleration> = ctx.list(&items, "tolerations");
        assert_eq!(typed.len(), 1);
        assert_eq!(
            lines(&ctx),
            [
                "error tolerations[0].tolerationSeconds: invalid type: string \"soon\", expected i64",
                "warning tolerations[1].efect: `efect` is not a field here (in a Kubernetes \
                 Toleration) and is ignored: check its spelling and indentation",
                "error tolerations[2].tolerationSeconds: invalid type: boolean `true`, expected i64",
            ]
        );
    }

    #[test]
    fn paths_inside_a_scope_are_relative_to_it_and_warnings_do_not_fail_the_run() {
        let ctx = super::super::tests::context(Vec::new());
        ctx.warn("replicaCount", "outside");
        assert!(!ctx.failed());
        let converted = ctx.within("backgroundServices", |ctx| {
            ctx.within("pod", |ctx| ctx.warn("[0]", "in a list"));
            ctx.warn_release("about the release");
            ctx.convert::<Toleration>(json!({ "key": "a", "efect": "x" }), "tolerations[0]")
        });
        assert!(converted.is_some(), "an unknown key is only a warning");
        ctx.error("after", "the scope ended");
        assert_eq!(
            lines(&ctx),
            [
                "warning replicaCount: outside",
                "warning backgroundServices.pod[0]: in a list",
                "warning -: about the release",
                "warning backgroundServices.tolerations[0].efect: `efect` is not a field here (in \
                 a Kubernetes Toleration) and is ignored: check its spelling and indentation",
                "error after: the scope ended",
            ]
        );
        assert!(ctx.failed());
    }
}
