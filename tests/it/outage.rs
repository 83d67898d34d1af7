//! When the API server is not there, stopped, slow or not who it claims to be: every command
//! ends within its request timeout with a message naming the server and the cause (refused,
//! DNS, TLS, no answer), `--wait` stops polling a frozen server, and answers of 503 are retried.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, built_binary, prefectctl_in},
};

/// A kubeconfig in `dir` for `server`, with the contexts `first` (current) and `second`.
fn kubeconfig(dir: &TempDir, server: &str) -> String {
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    \
         insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n\
         - name: first\n  context: {{cluster: c, user: u}}\n- name: second\n  context: \
         {{cluster: c, user: u}}\ncurrent-context: first\n"
    );
    dir.write("kubeconfig", &config).display().to_string()
}

/// `prefectctl --kubeconfig CONFIG ARGS` in `dir`, and how long it took.
fn ctl(dir: &TempDir, config: &str, args: &[&str]) -> (Run, Duration) {
    let mut all = vec!["--kubeconfig", config, "-n", "prefect"];
    all.extend_from_slice(args);
    built_binary(); // the first call builds the workspace: not part of the time measured
    let started = Instant::now();
    let run = prefectctl_in(dir.path(), &all);
    (run, started.elapsed())
}

/// A listener that accepts every connection and never says a word (a frozen server, or a
/// firewall that swallows packets after the handshake).
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!("https://127.0.0.1:{port}")
}

#[test]
fn a_server_that_never_answers_fails_status_and_apply_within_the_request_timeout() {
    let dir = TempDir::new("outage");
    let server = silent_server();
    let config = kubeconfig(&dir, &server);
    for command in [&["status"][..], &["apply"], &["history"]] {
        let mut args = command.to_vec();
        args.extend(["--request-timeout", "2s"]);
        let (run, took) = ctl(&dir, &config, &args);
        let err = run.fails(1);
        assert!(
            err.contains(&format!("the API server at {server} did not answer within 2s")),
            "{err}"
        );
        assert!(err.contains("--request-timeout (0: no limit)"), "{err}");
        // A request or two after one another, each given 2 s: never the minutes of a hang.
        assert!(took < Duration::from_secs(8), "{command:?} took {took:?}");
        eprintln!("{command:?} against a silent server: a clear error after {took:.1?}");
    }

    let (run, _) = ctl(&dir, &config, &["status", "--request-timeout", "soon"]);
    let err = run.fails(2);
    assert!(err.contains("\"soon\" is not a duration"), "{err}");
}

#[test]
fn connection_failures_name_the_server_and_the_cause() {
    let dir = TempDir::new("outage");

    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let config = kubeconfig(&dir, &closed);
    let err = ctl(&dir, &config, &["history"]).0.fails(1);
    assert!(
        err.contains(&format!(
            "cannot connect to the API server at {closed}: the connection was refused"
        )),
        "{err}"
    );
    assert!(err.contains("is the API server running"), "{err}");
    assert!(err.contains("(tcp connect error: "), "{err}");
    assert!(!err.contains("client error (Connect)"), "{err}");

    // `.invalid` never resolves (RFC 2606).
    let config = kubeconfig(&dir, "https://prefectctl-outage.invalid:6443");
    let err = ctl(&dir, &config, &["history"]).0.fails(1);
    assert!(
        err.contains("cannot connect to the API server at https://prefectctl-outage.invalid:6443: the host name prefectctl-outage.invalid does not resolve (DNS"),
        "{err}"
    );

    // https:// to a server that speaks plain HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let plain = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let config = kubeconfig(&dir, &plain);
    let err = ctl(&dir, &config, &["history"]).0.fails(1);
    assert!(
        err.contains(&format!(
            "cannot connect to the API server at {plain}: TLS: the server does not speak TLS there"
        )),
        "{err}"
    );
    assert!(err.contains("its URL starts with http://"), "{err}");
}

#[test]
fn an_unknown_kube_context_lists_the_contexts() {
    let dir = TempDir::new("outage");
    let config = kubeconfig(&dir, "https://127.0.0.1:1");
    let err = ctl(&dir, &config, &["--kube-context", "nope", "status"]).0.fails(1);
    assert!(
        err.contains(&format!(
            "the kubeconfig {config} has no context `nope`; pass one of its contexts to \
             --kube-context: first (current), second"
        )),
        "{err}"
    );
}

/// A plain HTTP server that answers each request with the next of `answers` (the last one
/// again when they run out), and records the request lines.
fn answering_server(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let length = head
                .iter()
                .find_map(|h| {
                    h.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut seen = record.lock().unwrap();
            let (code, body) = answers[seen.len().min(answers.len() - 1)];
            seen.push(head.first().cloned().unwrap_or_default().trim().to_owned());
            drop(seen);
            let reason = if code == 200 { "OK" } else { "Service Unavailable" };
            let mut stream: TcpStream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: \
                 {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

const BUSY: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is busy: etcd leader changed","reason":"ServiceUnavailable","code":503}"#;
const NO_SECRETS: &str =
    r#"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#;

#[test]
fn answers_of_503_are_retried_a_few_times() {
    let dir = TempDir::new("outage");
    let (url, seen) = answering_server(vec![(503, BUSY), (503, BUSY), (200, NO_SECRETS)]);
    let config = kubeconfig(&dir, &url);
    let (run, _) = ctl(&dir, &config, &["history"]);
    // The release does not exist: what `history` says about that, not the server's 503.
    let err = run.fails(1);
    assert!(err.contains("release prefect in namespace prefect is not installed"), "{err}");
    assert!(!err.contains("busy"), "{err}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests.iter().all(|r| r == &requests[0]), "one request sent again: {requests:?}");

    // A server that stays busy: four attempts, then its own message.
    let (url, seen) = answering_server(vec![(503, BUSY)]);
    let config = kubeconfig(&dir, &url);
    let err = ctl(&dir, &config, &["history"]).0.fails(1);
    assert!(err.contains("the server is busy: etcd leader changed"), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 4);
}

/// The real API server, with a kubeconfig whose certificate authority did not sign its
/// certificate, then frozen (`kill -STOP`) while `apply --wait` polls it, then thawed.
#[test]
fn a_frozen_api_server_is_reported_and_survived() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "prefect"], None).ok();
    let dir = TempDir::new("outage");
    let admin = cluster.kubeconfig().display().to_string();

    // Another CA than the cluster's: TLS must fail, and say why.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other-ca",
        ])
        .args(["-keyout", "other.key", "-out", "other.crt"])
        .current_dir(dir.path())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let other = std::fs::read(dir.path().join("other.crt")).unwrap();
    let original = std::fs::read_to_string(cluster.kubeconfig()).unwrap();
    let wrong: String = original
        .lines()
        .map(|line| match line.split_once("certificate-authority-data:") {
            Some((indent, _)) => format!("{indent}certificate-authority-data: {}", base64(&other)),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let wrong = dir.write("wrong-ca", &wrong).display().to_string();
    let (failed, _) = ctl(&dir, &wrong, &["status"]);
    let err = failed.fails(1);
    let server = cluster
        .kubectl(&["config", "view", "-o", "jsonpath={.clusters[0].cluster.server}"], None)
        .ok();
    assert!(
        err.contains(&format!("cannot connect to the API server at {}", server.trim())),
        "{err}"
    );
    assert!(
        err.contains(
            "TLS: its certificate is not signed by the certificate authority the kubeconfig names"
        ),
        "{err}"
    );

    // apply --wait: pods stay Pending here, so it would wait its whole --timeout.
    let pid = std::fs::read_to_string(cluster.dir().join("kube-apiserver.pid")).unwrap();
    let pid = pid.trim().to_owned();
    let mut child = Command::new(built_binary())
        .args(["--kubeconfig", &admin, "-n", "prefect", "apply", "--wait", "--timeout", "5m"])
        .args(["--request-timeout", "8s"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prefectctl runs");
    let stderr = child.stderr.take().unwrap();
    let (lines, waiting) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("waiting  Deployment/") {
                let _ = lines.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    waiting.recv_timeout(Duration::from_secs(60)).expect("apply --wait starts waiting");
    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill {name} {pid}");
    };
    signal("-STOP");
    let frozen = Instant::now();
    let status = child.wait().expect("prefectctl ends");
    let took = frozen.elapsed();
    signal("-CONT");
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("waiting  Deployment/prefect/prefect-server: the API server does not answer"),
        "{err}"
    );
    assert!(err.contains("stopped waiting: the API server has not answered for"), "{err}");
    // After the first request that ran out its 8 s, the next get 5 s until one is answered.
    assert!(
        err.contains(
            "did not answer within 5s, nor an earlier request within 8s (--request-timeout)"
        ),
        "{err}"
    );
    assert!(err.contains("`prefectctl -n prefect status` shows whether it got ready"), "{err}");
    // 15 s without an answer (a poll of 8 s, one of 5 s), then the failed record and the lock
    // (5 s at most each): far from the 5 minutes of --timeout, and from 8 s for each request.
    assert!(took < Duration::from_secs(40), "the frozen server was reported after {took:?}");
    eprintln!("apply --wait against a frozen API server: a clear error after {took:.1?}");

    // Thawed, the server takes the next apply.
    let kubeconfig_args = ["--kubeconfig", admin.as_str(), "-n", "prefect"];
    let mut again = kubeconfig_args.to_vec();
    again.push("apply");
    let out = prefectctl_in(dir.path(), &again);
    assert_eq!(out.code, 0, "after kill -CONT, apply failed:\n{}", out.stderr);
    let mut history = kubeconfig_args.to_vec();
    history.push("history");
    let listed = prefectctl_in(dir.path(), &history).ok();
    assert!(listed.contains("deployed"), "{listed}");
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
