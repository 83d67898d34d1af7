//! `GET /containerLogs/<namespace>/<pod>/<container>`: what `kubectl logs` reads through the
//! API server. A container's runs are the files `pods/<ns>_<pod>_<uid>/logs/<container>/
//! <attempt>.log` ([`container`](crate::container)); which run is answered is decided from the
//! container's status, as the kubelet decides it: the current run, or the last one ended while
//! the container waits to be restarted; with `previous=true`, the run that `lastState` names
//! (so during a back-off, both are the run that crashed).
//!
//! `tailLines` and `limitBytes` are applied. Simpler than a kubelet, and said so: the files hold
//! no timestamps, so `timestamps`, `sinceSeconds` and `sinceTime` are ignored; `follow` is
//! answered as if absent (what is written so far, then the end).

use std::path::{Path, PathBuf};

use hyper::{Response, StatusCode};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::{
    kubelet_api::{Body, Refusal, find_pod, text},
    pod::Node,
};

/// The query parameters that change the answer.
#[derive(Debug, Default, PartialEq)]
struct Options {
    previous: bool,
    tail_lines: Option<usize>,
    limit_bytes: Option<usize>,
}

impl Options {
    fn parse(query: &[(String, String)]) -> Result<Options, Refusal> {
        let mut options = Options::default();
        for (name, value) in query {
            let number = || {
                value.parse::<i64>().map_err(|_| {
                    Refusal::bad_request(format!("{name}: {value:?} is not a whole number"))
                })
            };
            match name.as_str() {
                "previous" => options.previous = go_bool(value)?,
                "tailLines" => options.tail_lines = Some(number()?.max(0) as usize),
                "limitBytes" => match number()? {
                    bytes if bytes < 1 => {
                        return Err(Refusal::bad_request("limitBytes must be greater than zero"));
                    }
                    bytes => options.limit_bytes = Some(bytes as usize),
                },
                _ => {}
            }
        }
        Ok(options)
    }

    /// The part of a run's output the options ask for: the last lines, then at most so many
    /// bytes of them.
    fn cut(&self, mut output: Vec<u8>) -> Vec<u8> {
        if let Some(lines) = self.tail_lines {
            // Line ends from the last, not counting the one that ends the output.
            let body = output.strip_suffix(b"\n").unwrap_or(&output);
            let start = body
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, byte)| **byte == b'\n')
                .nth(lines.saturating_sub(1))
                .map_or(0, |(at, _)| at + 1);
            output = if lines == 0 { Vec::new() } else { output.split_off(start) };
        }
        if let Some(limit) = self.limit_bytes {
            output.truncate(limit);
        }
        output
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it, as the kubelet reads its query.
fn go_bool(value: &str) -> Result<bool, Refusal> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(Refusal::bad_request(format!("{value:?} is not a boolean"))),
    }
}

/// The output of one run of `container` in the pod `namespace/name`, or why there is none.
pub async fn get(
    node: &Node,
    namespace: &str,
    name: &str,
    container: &str,
    query: &[(String, String)],
) -> Result<Response<Body>, Refusal> {
    let options = Options::parse(query)?;
    let pod = find_pod(node, namespace, name).await?;
    let spec = pod.spec.clone().unwrap_or_default();
    let declared = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    if !declared.clone().any(|c| c.name == container) {
        return Err(Refusal::not_found(format!(
            "container \"{container}\" not found in pod \"{name}\""
        )));
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let folder = node
        .dir
        .join("pods")
        .join(format!("{namespace}_{name}_{uid}"))
        .join("logs")
        .join(container);
    let file = pick(&runs(&folder), status(&pod, container), options.previous, container, name)?;
    let output = tokio::fs::read(&file)
        .await
        .map_err(|err| Refusal::internal(format!("read {}: {err}", file.display())))?;
    Ok(text(StatusCode::OK, options.cut(output)))
}

/// The container's status in the pod's, if written yet.
fn status<'a>(pod: &'a Pod, container: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|s| s.name == container)
}

/// The log files of a container's runs, oldest first.
fn runs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut runs: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .filter_map(|path| {
            let attempt = path.file_stem()?.to_str()?.parse().ok()?;
            Some((attempt, path))
        })
        .collect();
    runs.sort();
    runs.into_iter().map(|(_, path)| path).collect()
}

/// Which run's file answers, as the kubelet's `validateContainerLogStatus` picks the container:
/// a run in progress or ended is the newest file; while the container waits for its restart,
/// no run is in progress and the last one ended is the newest file too.
fn pick(
    runs: &[PathBuf],
    status: Option<&ContainerStatus>,
    previous: bool,
    container: &str,
    pod: &str,
) -> Result<PathBuf, Refusal> {
    let state = status.and_then(|s| s.state.as_ref());
    let last_ended =
        status.and_then(|s| s.last_state.as_ref()).and_then(|s| s.terminated.as_ref()).is_some();
    let in_a_run = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
    let newest = |back: usize| runs.iter().rev().nth(back).cloned();
    if previous {
        let file = if !last_ended {
            None
        } else if in_a_run {
            newest(1)
        } else {
            newest(0)
        };
        return file.ok_or_else(|| {
            Refusal::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod}\" not found"
            ))
        });
    }
    if in_a_run || last_ended {
        return newest(0).ok_or_else(|| {
            Refusal::bad_request(format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start - no logs yet"
            ))
        });
    }
    let waiting = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.clone());
    Err(Refusal::bad_request(match waiting {
        Some(reason) => {
            format!("container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}")
        }
        None => {
            format!("container \"{container}\" in pod \"{pod}\" is waiting to start - no logs yet")
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(query: &[(&str, &str)]) -> Options {
        let query: Vec<(String, String)> =
            query.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Options::parse(&query).unwrap()
    }

    fn cut(query: &[(&str, &str)], output: &str) -> String {
        String::from_utf8(options(query).cut(output.as_bytes().to_vec())).unwrap()
    }

    #[test]
    fn tail_lines_and_limit_bytes_cut_the_output_as_a_kubelet_does() {
        assert_eq!(cut(&[], "a\nb\nc\n"), "a\nb\nc\n");
        assert_eq!(cut(&[("tailLines", "2")], "a\nb\nc\n"), "b\nc\n");
        assert_eq!(cut(&[("tailLines", "2")], "a\nb\nc"), "b\nc");
        assert_eq!(cut(&[("tailLines", "5")], "a\nb\n"), "a\nb\n");
        assert_eq!(cut(&[("tailLines", "0")], "a\nb\n"), "");
        assert_eq!(cut(&[("tailLines", "1"), ("limitBytes", "2")], "a\nbcd\n"), "bc");
        assert!(options(&[("previous", "true"), ("follow", "true")]).previous);
    }

    fn status(json: serde_json::Value) -> ContainerStatus {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_run_answered_is_the_one_the_status_names() {
        let runs: Vec<PathBuf> = ["0.log", "1.log"].iter().map(PathBuf::from).collect();
        let common = serde_json::json!({"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 1});
        let mut running = common.clone();
        running["state"] = serde_json::json!({"running": {}});
        running["lastState"] = serde_json::json!({"terminated": {"exitCode": 1}});
        let running = status(running);
        let mut backing_off = common.clone();
        backing_off["state"] = serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}});
        backing_off["lastState"] = serde_json::json!({"terminated": {"exitCode": 1}});
        let backing_off = status(backing_off);
        let mut creating = common;
        creating["state"] = serde_json::json!({"waiting": {"reason": "ContainerCreating"}});
        let creating = status(creating);

        let pick = |status: &ContainerStatus, previous: bool, runs: &[PathBuf]| {
            pick(runs, Some(status), previous, "c", "p").map_err(|r| r.message)
        };
        assert_eq!(pick(&running, false, &runs), Ok("1.log".into()));
        assert_eq!(pick(&running, true, &runs), Ok("0.log".into()));
        assert_eq!(pick(&backing_off, false, &runs[..1]), Ok("0.log".into()));
        assert_eq!(pick(&backing_off, true, &runs[..1]), Ok("0.log".into()));
        assert_eq!(
            pick(&creating, false, &[]),
            Err("container \"c\" in pod \"p\" is waiting to start: ContainerCreating".to_owned())
        );
        assert_eq!(
            pick(&creating, true, &[]),
            Err("previous terminated container \"c\" in pod \"p\" not found".to_owned())
        );
    }
}
