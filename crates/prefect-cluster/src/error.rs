//! [`Error`]: what went wrong talking to the cluster, said so that the user knows what to do.

use std::path::PathBuf;

/// A `Result` whose error is, by default, this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No kubeconfig could be read and the process is not in a cluster.
    #[error(
        "no cluster to talk to: {reason}; pass --kubeconfig FILE, set KUBECONFIG, or create \
         ~/.kube/config"
    )]
    NoConfig {
        /// Why the kubeconfig could not be used.
        reason: String,
    },
    /// The kubeconfig file given could not be read.
    #[error("cannot read the kubeconfig {}: {reason}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The kubeconfig has no usable context of that name (or its cluster or user is missing).
    #[error("the kubeconfig cannot be used{}: {reason}", context.as_ref().map(|c| format!(" with context `{c}`")).unwrap_or_default())]
    Context {
        /// The context asked for with `--kube-context`.
        context: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// `--kube-context` names a context the kubeconfig does not have.
    #[error(
        "the kubeconfig{} has no context `{context}`; {}",
        file.as_ref().map(|f| format!(" {}", f.display())).unwrap_or_default(),
        if known.is_empty() {
            "it has no contexts at all: add one (kubectl config set-context) or use another \
             kubeconfig".to_owned()
        } else {
            format!(
                "pass one of its contexts to --kube-context: {}",
                known
                    .iter()
                    .map(|name| if current.as_ref() == Some(name) {
                        format!("{name} (current)")
                    } else {
                        name.clone()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The kubeconfig file, when one was named.
        file: Option<PathBuf>,
        /// The contexts it has.
        known: Vec<String>,
        /// Its current context.
        current: Option<String>,
    },
    /// A request got no answer: the server refused the connection, its name did not resolve,
    /// TLS failed, or it did not answer within the request timeout.
    #[error("{action}: {reason}")]
    NoAnswer {
        /// What was being done, e.g. `read the release records`.
        action: String,
        /// What kept the request from the server, naming its URL.
        reason: String,
    },
    /// The API server could not be reached.
    #[error("cannot reach the API server at {server}: {reason}")]
    Unreachable {
        /// The server's URL.
        server: String,
        /// The transport's error.
        reason: String,
    },
    /// The API server refused the request.
    #[error("{action}: {reason}")]
    Api {
        /// What was being done, e.g. `apply Deployment/prefect/prefect-server`.
        action: String,
        /// What the server said, and what to do about it.
        reason: String,
        /// The HTTP status code.
        code: u16,
    },
    /// Server-side apply found fields that another field manager owns.
    #[error(
        "{object}: {} set by another field manager: {}; leave {it} to prefectctl by removing \
         {it} there, or take {it} over with --force-conflicts",
        if conflicts.len() == 1 { "a field is also" } else { "fields are also" },
        conflicts.iter().map(|c| format!("{} (by {:?})", c.field, c.manager)).collect::<Vec<_>>().join(", "),
        it = if conflicts.len() == 1 { "it" } else { "them" }
    )]
    Conflict {
        /// The object, `Deployment/prefect/prefect-server`.
        object: String,
        /// Each field and the manager that owns it.
        conflicts: Vec<Conflict>,
    },
    /// A stored release record could not be read.
    #[error("the release record {name} is damaged: {reason}")]
    Record {
        /// The record's Secret.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// One field that another field manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The field's path, `.spec.replicas`.
    pub field: String,
    /// The field manager that owns it.
    pub manager: String,
}

impl Error {
    /// Wraps a kube error that happened while doing `action`.
    pub(crate) fn api(action: impl Into<String>, error: kube::Error) -> Error {
        let action = action.into();
        match error {
            kube::Error::Api(status) if status.code == 409 && status.reason == "Conflict" => {
                let conflicts: Vec<Conflict> = status
                    .details
                    .iter()
                    .flat_map(|details| &details.causes)
                    .filter(|cause| cause.reason == "FieldManagerConflict")
                    .map(|cause| Conflict {
                        field: cause.field.clone(),
                        manager: manager_of(&cause.message),
                    })
                    .collect();
                if conflicts.is_empty() {
                    let code = status.code;
                    return Error::Api { action, reason: status.message.clone(), code };
                }
                let object = action.strip_prefix("apply ").unwrap_or(&action).to_owned();
                Error::Conflict { object, conflicts }
            }
            kube::Error::Api(status) => {
                let code = status.code;
                let reason = match (code, status.reason.as_str()) {
                    (403, _) => format!(
                        "forbidden: {} (ask your cluster administrator for the right, or use a \
                         kubeconfig that has it)",
                        status.message
                    ),
                    (401, _) => format!(
                        "unauthorized: {} (the kubeconfig's credentials were refused: refresh \
                         them)",
                        status.message
                    ),
                    _ => status.message.clone(),
                };
                Error::Api { action, reason, code }
            }
            kube::Error::Service(ref cause)
                if let Some(failed) = cause.downcast_ref::<crate::transport::NoAnswer>() =>
            {
                Error::NoAnswer { action, reason: failed.reason.clone() }
            }
            other => Error::Api { action, reason: one_line(&other.to_string()), code: 0 },
        }
    }

    /// Whether the server gave no answer (unreachable, or not in time), as opposed to an
    /// answer that refuses.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Error::NoAnswer { .. })
    }

    /// The HTTP status of a refused request, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { code, .. } if *code != 0 => Some(*code),
            _ => None,
        }
    }
}

/// The manager named in a conflict's message: `conflict with "kubectl" using apps/v1`.
fn manager_of(message: &str) -> String {
    message.split('"').nth(1).unwrap_or(message).to_owned()
}

pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
