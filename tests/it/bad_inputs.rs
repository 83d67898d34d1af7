//! Hostile input (issue 12): values files and flags that used to exhaust memory, crash or say
//! too little, each refused at once with a message that names it; values the API server would
//! refuse are refused before anything is written, and a failed install does not poison the next
//! apply.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use expect_test::expect;
use serde_json::Value;

use crate::{
    cluster::Cluster,
    harness::{Run, TempDir, built_binary, prefectctl},
};

/// How long one bad input may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(20);

/// One bad input: the arguments, and whether standard input is `/dev/zero`.
struct Case {
    args: Vec<String>,
    zero_stdin: bool,
}

fn case(args: &[&str]) -> Case {
    Case { args: args.iter().map(|a| (*a).to_owned()).collect(), zero_stdin: false }
}

/// How a bad input ended.
enum Outcome {
    /// Exit code 2 and standard error.
    Refused(String),
    /// Any other exit: the code (`None` for a signal) and standard error.
    Other(Option<i32>, String),
    /// Still running after [`HANG`] (then killed).
    Hung,
}

/// Runs `prefectctl render ARGS` in `dir`, killing it after [`HANG`].
fn run(dir: &Path, case: &Case) -> Outcome {
    let stdin = if case.zero_stdin {
        Stdio::from(std::fs::File::open("/dev/zero").expect("/dev/zero"))
    } else {
        Stdio::null()
    };
    let stderr = dir.join("stderr.txt");
    let mut child = Command::new(built_binary())
        .current_dir(dir)
        .arg("render")
        .args(&case.args)
        .env_remove("PREFECTCTL_PLUGIN_PATH")
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("prefectctl runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return Outcome::Hung;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = String::from_utf8_lossy(&std::fs::read(&stderr).unwrap_or_default()).into_owned();
    match status.code() {
        Some(2) => Outcome::Refused(text),
        code => Outcome::Other(code, text),
    }
}

#[test]
fn hostile_values_are_refused_at_once_with_a_clear_message() {
    let dir = TempDir::new("bad-inputs");
    let file = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).expect("write a test file");
    };
    file("latin1.yaml", b"server:\n  podAnnotations:\n    team: caf\xE9\n");
    file("utf16.yaml", b"\xFF\xFEs\0e\0r\0v\0e\0r\0:\0\n\0");
    file("binary.yaml", &[0x1F, 0x8B, 0x08, 0x00, 0xFF, 0x00]);
    std::fs::create_dir(dir.path().join("folder")).expect("a folder");
    let deep_flow = format!("server: {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    file("deep-flow.yaml", deep_flow.as_bytes());
    let deep_block: String =
        (0..1000).map(|depth| format!("{}k{depth}:\n", "  ".repeat(depth))).collect();
    file("deep-block.yaml", deep_block.as_bytes());
    let mut aliases = String::from("a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n");
    for n in 1..200 {
        aliases.push_str(&format!("a{n}: &a{n} [[[[[[[[[[*a{}]]]]]]]]]]\n", n - 1));
    }
    file("alias-chain.yaml", aliases.as_bytes());
    let laughs: String =
        std::iter::once("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned())
            .chain((1..10).map(|n| {
                format!("l{n}: &l{n} [{}]\n", vec![format!("*l{}", n - 1); 10].join(", "))
            }))
            .collect();
    file("laughs.yaml", laughs.as_bytes());

    // 20,000 segments, as the issue reports (an argument holds at most 128 KiB).
    let long_key = format!("server{}=1", ".a".repeat(20_000));
    let long_segment = format!("server.{}=1", "k".repeat(10_000));
    let indexes = format!("server.env{}=1", "[65536]".repeat(40));
    let deep_json = format!("server.env={}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let cases = vec![
        case(&["-f", "missing.yaml"]),
        case(&["-f", "folder"]),
        case(&["-f", "latin1.yaml"]),
        case(&["-f", "utf16.yaml"]),
        case(&["-f", "binary.yaml"]),
        case(&["-f", "/dev/zero"]),
        Case { args: vec!["-f".into(), "-".into()], zero_stdin: true },
        case(&["-f", "deep-flow.yaml"]),
        case(&["-f", "deep-block.yaml"]),
        case(&["-f", "alias-chain.yaml"]),
        case(&["-f", "laughs.yaml"]),
        case(&["--set-file", "server.podAnnotations.a=/dev/zero"]),
        case(&["--set-file", "server.podAnnotations.a=latin1.yaml"]),
        case(&["--set-file", "server.podAnnotations.a=folder"]),
        Case {
            args: vec!["--set-file".into(), "server.podAnnotations.a=-".into()],
            zero_stdin: true,
        },
        case(&["--set", &long_key]),
        case(&["--set-string", &long_key]),
        case(&["--set-file", &long_key]),
        case(&["--set-json", &long_key]),
        case(&["--set", &long_segment]),
        case(&["--set", &indexes]),
        case(&["--set-json", &deep_json]),
        case(&["--set-json", &deep_object]),
        case(&["--set", "server.resources.limits.cpu=lots"]),
        case(&["--set", "server.sqlite.persistence.size=big"]),
        case(&["--set", "server.livenessProbe.config.periodSeconds=-5"]),
        case(&["--set-json", r#"server.extraVolumes=[{"name":"Scratch_Space","emptyDir":{}}]"#]),
        case(&["--set-json", r#"server.extraContainers=[{"name":"Side Car","image":"busybox"}]"#]),
    ];
    let (mut clear, mut crashes, mut hangs, mut shown) = (0, 0, 0, Vec::new());
    for case in &cases {
        let mut label = case.args.join(" ");
        if label.len() > 60 {
            label = format!("{}…", label.chars().take(60).collect::<String>());
        }
        let start = Instant::now();
        let outcome = run(dir.path(), case);
        eprintln!("{label}: {:?}", start.elapsed());
        match outcome {
            Outcome::Refused(stderr) => {
                clear += 1;
                // The first line, cut where a message repeats a long input.
                let first = stderr.lines().next().unwrap_or_default();
                shown.push(format!("{label}\n  {}", first.chars().take(400).collect::<String>()));
            }
            Outcome::Other(code, stderr) => {
                crashes += usize::from(code.is_none());
                shown.push(format!("{label}\n  UNCLEAR: exit {code:?}: {stderr}"));
            }
            Outcome::Hung => {
                hangs += 1;
                shown.push(format!("{label}\n  HUNG"));
            }
        }
    }
    eprintln!(
        "bad inputs tried: {}, clear errors: {clear}, crashes: {crashes}, hangs: {hangs}",
        cases.len()
    );
    expect![[r#"
        -f missing.yaml
          error: cannot read values file missing.yaml: No such file or directory (os error 2) (check the path given to -f/--values)
        -f folder
          error: cannot read values file folder: Is a directory (os error 21) (give a file, not a folder)
        -f latin1.yaml
          error: cannot read values file latin1.yaml: it is not UTF-8 text (byte 0xE9 at line 3, column 14): save it as UTF-8
        -f utf16.yaml
          error: cannot read values file utf16.yaml: it is UTF-16 text, not UTF-8: save it as UTF-8
        -f binary.yaml
          error: cannot read values file binary.yaml: it is not UTF-8 text (byte 0x8B at line 1, column 2): save it as UTF-8
        -f /dev/zero
          error: cannot read values file /dev/zero: it holds more than 16 MiB, the most prefectctl reads as values: is it the file you meant?
        -f -
          error: -f -: cannot read standard input: it holds more than 16 MiB, the most prefectctl reads as values: is it the file you meant?
        -f deep-flow.yaml
          error: deep-flow.yaml:1:264: invalid YAML: recursion limit exceeded
        -f deep-block.yaml
          error: deep-block.yaml:101: values nest more than 100 levels deep here, the most they may: is it the file you meant?
        -f alias-chain.yaml
          error: alias-chain.yaml:10: values nest more than 100 levels deep here, the most they may: is it the file you meant?
        -f laughs.yaml
          error: laughs.yaml:5: the file makes more than 100000 values (an alias counts every value it copies): use fewer aliases, or is it the file you meant?
        --set-file server.podAnnotations.a=/dev/zero
          error: --set-file server.podAnnotations.a: cannot read "/dev/zero": it holds more than 16 MiB, the most prefectctl reads as values: is it the file you meant?
        --set-file server.podAnnotations.a=latin1.yaml
          error: --set-file server.podAnnotations.a: cannot read "latin1.yaml": it is not UTF-8 text (byte 0xE9 at line 3, column 14): save it as UTF-8
        --set-file server.podAnnotations.a=folder
          error: --set-file server.podAnnotations.a: cannot read "folder": Is a directory (os error 21) (give a file, not a folder)
        --set-file server.podAnnotations.a=-
          error: --set-file server.podAnnotations.a: cannot read "-": cannot read standard input: it holds more than 16 MiB, the most prefectctl reads as values: is it the file you meant?
        --set server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…
          error: --set server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set KEY=VALUE)
        --set-string server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…
          error: --set-string server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set-string KEY=VALUE)
        --set-file server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…
          error: --set-file server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set-file KEY=PATH)
        --set-json server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…
          error: --set-json server.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…: the key has more than 100 levels (keys and list indexes), the most values may nest: check the key (use --set-json KEY=JSON)
        --set server.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…
          error: --set server.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…: the key is longer than 4096 characters: check the key (use --set KEY=VALUE)
        --set server.env[65536][65536][65536][65536][65536][65536][6…
          error: --set server.env[65536][65536][65536][65536][65536][65536]: the list indexes of this flag make too many items (each index makes the items before it too): use smaller indexes, or give long lists in a values file
        --set-json server.env=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[…
          error: --set-json server.env=…: invalid JSON after "=": recursion limit exceeded at line 1 column 128 (quote text as JSON does: KEY='"text"')
        --set-json {"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a"…
          error: --set-json {…}: invalid JSON object: recursion limit exceeded at line 1 column 636 (give one JSON object, or use --set-json KEY=JSON)
        --set server.resources.limits.cpu=lots
          error: Deployment/default/prefect-server: spec.template.spec.containers[0].resources.limits.cpu "lots" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
        --set server.sqlite.persistence.size=big
          error: PersistentVolumeClaim/default/prefect-server: spec.resources.requests.storage "big" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
        --set server.livenessProbe.config.periodSeconds=-5
          error: Deployment/default/prefect-server: spec.template.spec.containers[0].livenessProbe.periodSeconds -5 is negative: give 0 or more (set by plugin `server`)
        --set-json server.extraVolumes=[{"name":"Scratch_Space","emp…
          error: Deployment/default/prefect-server: spec.template.spec.volumes[4].name "Scratch_Space" is not a valid volume name: use lower-case letters, digits and '-' (set by plugin `server`)
        --set-json server.extraContainers=[{"name":"Side Car","image…
          error: Deployment/default/prefect-server: spec.template.spec.containers[1].name "Side Car" is not a valid container name: use lower-case letters, digits and '-' (set by plugin `server`)"#]].assert_eq(&shown.join("\n"));
    assert_eq!((clear, crashes, hangs), (cases.len(), 0, 0));
}

const NAMESPACE: &str = "prefect";

/// `prefectctl --kubeconfig CLUSTER -n prefect ARGS`.
fn ctl(cluster: &Cluster, args: &[&str]) -> Run {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str(), "-n", NAMESPACE];
    all.extend_from_slice(args);
    prefectctl(&all)
}

/// The objects in the release namespace that a release could have written (the namespace's
/// own service account, its token and its CA bundle left out).
fn objects(cluster: &Cluster) -> Vec<String> {
    let kinds = "deployments,statefulsets,jobs,services,serviceaccounts,roles,rolebindings,secrets,configmaps,persistentvolumeclaims";
    let out = cluster.kubectl(&["get", kinds, "-n", NAMESPACE, "-o", "json"], None).ok();
    let list: Value = serde_json::from_str(&out).expect("kubectl prints JSON");
    list["items"]
        .as_array()
        .expect("a List")
        .iter()
        .filter(|o| o["type"] != "kubernetes.io/service-account-token")
        .map(|o| {
            format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())
        })
        .filter(|o| o != "ConfigMap/kube-root-ca.crt" && o != "ServiceAccount/default")
        .collect()
}

#[test]
fn refused_values_write_nothing_and_a_failed_install_does_not_poison_the_next_apply() {
    if !crate::tier::runs(&[crate::tier::Tier::ApiServer]) {
        return;
    }
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", NAMESPACE], None).ok();

    // What the API server would refuse is refused before anything is written.
    let stderr = ctl(&cluster, &["apply", "--set", "server.resources.limits.cpu=lots"]).fails(2);
    expect![[r#"
        error: Deployment/prefect/prefect-server: spec.template.spec.containers[0].resources.limits.cpu "lots" is not a Kubernetes quantity: give a number with an optional suffix, such as 500m, 2, 1.5, 512Mi or 1Gi (set by plugin `server`)
        error: the API server would refuse the fields above: fix the values that set them; nothing was written
    "#]].assert_eq(&stderr);
    // Release records are Secrets: none either.
    assert_eq!(objects(&cluster), Vec::<String>::new(), "something was written");

    // A value only the API server refuses: the install fails and is recorded as failed...
    let stderr = ctl(
        &cluster,
        &["apply", "--set", "server.service.type=NodePort,server.service.nodePort=80"],
    )
    .fails(1);
    assert!(stderr.contains("provided port is not in the valid range"), "{stderr}");
    // ...and the next apply starts from what it is given now, not from the refused values.
    let next = ctl(&cluster, &["apply"]);
    assert_eq!(next.code, 0, "the apply after a failed install failed:\n{}", next.stderr);
    assert!(
        next.stderr.contains("warning: revision 1 failed and none was deployed: its values are not reused, only those given now"),
        "{}",
        next.stderr
    );
    let service = cluster
        .kubectl(&["get", "service", "prefect-server", "-n", NAMESPACE, "-o", "json"], None)
        .ok();
    let service: Value = serde_json::from_str(&service).expect("kubectl prints JSON");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let values = ctl(&cluster, &["get", "values"]).ok();
    assert!(!values.contains("nodePort"), "{values}");
}
