//! What the stand-in knows of a pod, and the `status` it writes back through the API: phase,
//! pod IP, conditions, and each container's state, last state, readiness and restarts, in the
//! shapes the kubelet writes them (the controllers and `prefectctl --wait` read them).

use serde_json::{Value, json};

/// Now, as Kubernetes writes times.
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A container's state.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Not running.
    Waiting {
        /// `ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`,
        /// `CreateContainerConfigError`, `ErrImagePull`...
        reason: String,
        /// What went wrong.
        message: Option<String>,
    },
    /// Running.
    Running {
        /// Since when.
        started_at: String,
    },
    /// Ended.
    Terminated {
        /// Its exit code (128 + the signal that killed it).
        exit_code: i32,
        /// `Completed` or `Error`.
        reason: String,
        /// When it started.
        started_at: String,
        /// When it ended.
        finished_at: String,
    },
}

impl State {
    /// Waiting for `reason`.
    pub fn waiting(reason: &str, message: Option<String>) -> State {
        State::Waiting { reason: reason.to_owned(), message }
    }

    fn to_json(&self) -> Value {
        match self {
            State::Waiting { reason, message } => {
                let mut waiting = json!({ "reason": reason });
                if let Some(message) = message {
                    waiting["message"] = json!(message);
                }
                json!({ "waiting": waiting })
            }
            State::Running { started_at } => json!({ "running": { "startedAt": started_at } }),
            State::Terminated { exit_code, reason, started_at, finished_at } => json!({
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": started_at,
                    "finishedAt": finished_at,
                }
            }),
        }
    }
}

/// One container.
#[derive(Debug, Clone)]
pub struct ContainerStatus {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// Now.
    pub state: State,
    /// Before its last restart.
    pub last_state: Option<State>,
    /// Its readiness probe passes (or it has none and runs).
    pub ready: bool,
    /// Its startup probe passed (or it has none and runs).
    pub started: bool,
    /// Restarts so far.
    pub restart_count: i32,
}

impl ContainerStatus {
    /// A container not started yet.
    pub fn new(name: &str, image: &str, reason: &str) -> ContainerStatus {
        ContainerStatus {
            name: name.to_owned(),
            image: image.to_owned(),
            state: State::waiting(reason, None),
            last_state: None,
            ready: false,
            started: false,
            restart_count: 0,
        }
    }

    fn to_json(&self, pod_uid: &str) -> Value {
        let running = matches!(self.state, State::Running { .. });
        let mut status = json!({
            "name": self.name,
            "image": self.image,
            "imageID": format!("stand-in://{}", self.image),
            "state": self.state.to_json(),
            "lastState": self.last_state.as_ref().map(State::to_json).unwrap_or_else(|| json!({})),
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": running && self.started,
        });
        if !matches!(self.state, State::Waiting { .. }) || self.last_state.is_some() {
            status["containerID"] =
                json!(format!("stand-in://{pod_uid}/{}/{}", self.name, self.restart_count));
        }
        status
    }
}

/// A pod.
#[derive(Debug, Clone)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub phase: &'static str,
    /// Why, for a failed pod.
    pub reason: Option<String>,
    /// Its address.
    pub pod_ip: Option<String>,
    /// The node's address.
    pub host_ip: String,
    /// When the kubelet took it.
    pub start_time: String,
    /// Init containers have all succeeded.
    pub initialized: bool,
    /// Init containers.
    pub init: Vec<ContainerStatus>,
    /// Containers.
    pub containers: Vec<ContainerStatus>,
    /// Last transition times of `Initialized`, `ContainersReady`, `Ready`, by their value.
    transitions: [(bool, String); 3],
}

impl PodStatus {
    /// A pod the kubelet just took.
    pub fn new(
        host_ip: &str,
        init: Vec<ContainerStatus>,
        containers: Vec<ContainerStatus>,
    ) -> Self {
        let start = now();
        PodStatus {
            phase: "Pending",
            reason: None,
            pod_ip: None,
            host_ip: host_ip.to_owned(),
            start_time: start.clone(),
            initialized: init.is_empty(),
            init,
            containers,
            transitions: [(false, start.clone()), (false, start.clone()), (false, start)],
        }
    }

    /// All containers are ready.
    pub fn ready(&self) -> bool {
        !self.containers.is_empty() && self.containers.iter().all(|c| c.ready)
    }

    /// The `status` object, with the conditions' transition times brought up to date.
    pub fn to_json(&mut self, pod_uid: &str) -> Value {
        let values = [self.initialized, self.ready(), self.ready()];
        for (slot, value) in self.transitions.iter_mut().zip(values) {
            if slot.0 != value {
                *slot = (value, now());
            }
        }
        let condition = |kind: &str, index: usize| {
            let (value, since) = &self.transitions[index];
            json!({
                "type": kind,
                "status": if *value { "True" } else { "False" },
                "lastProbeTime": null,
                "lastTransitionTime": since,
            })
        };
        let mut status = json!({
            "phase": self.phase,
            "hostIP": self.host_ip,
            "startTime": self.start_time,
            "conditions": [
                condition("Initialized", 0),
                condition("Ready", 2),
                condition("ContainersReady", 1),
                { "type": "PodScheduled", "status": "True", "lastProbeTime": null,
                  "lastTransitionTime": self.start_time },
            ],
            "initContainerStatuses": self.init.iter().map(|c| c.to_json(pod_uid)).collect::<Vec<_>>(),
            "containerStatuses": self.containers.iter().map(|c| c.to_json(pod_uid)).collect::<Vec<_>>(),
        });
        if let Some(ip) = &self.pod_ip {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{ "ip": ip }]);
        }
        if let Some(reason) = &self.reason {
            status["reason"] = json!(reason);
        }
        status
    }
}
