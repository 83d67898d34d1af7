//! Tidy: the invariants of ARCHITECTURE.md that a machine can check, as ordinary tests
//! (`cargo test -p xtask`, part of `cargo xtask test` and of CI). They read `cargo metadata`
//! and the sources; each failure names the crate or file, the rule it breaks, and what to do.
//!
//! This file names what it looks for, so the source checks skip it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::workspace;

/// The crates that may contain `unsafe`, and the only files in each where it may appear
/// (ARCHITECTURE.md, Invariants). Every other crate says `#![forbid(unsafe_code)]` at each of
/// its roots.
const UNSAFE_ALLOWED: &[(&str, &[&str])] = &[
    // The root module's header, and the static `export_plugin!` exports under abi_stable's name.
    ("prefect-plugin-sdk", &["src/export.rs", "src/lib.rs"]),
    // The loader: an executable plugin's death signal, set in the child before exec.
    ("prefect-plugin-host", &["src/executable.rs"]),
    // Benches: a child's resource usage (wait4), and the page cache emptied for cold starts.
    ("xtask", &["src/bench_measure.rs"]),
    // Libraries written by hand to the C ABI, broken on purpose for the loader's tests.
    ("prefectctl-plugin-fixture-not-a-plugin", &["src/lib.rs"]),
    ("prefectctl-plugin-fixture-protocol-v1", &[]),
    ("prefectctl-plugin-fixture-wrong-layout", &[]),
    ("prefectctl-plugin-fixture-wrong-protocol", &[]),
];

/// Crates that are, or that bring in, a client of the API server or of HTTP.
const CLIENTS: &[&str] =
    &["kube", "kube-client", "kube-core", "kube-runtime", "hyper", "reqwest", "ureq"];

/// The crates that never see a client: the plugins (`plugins/*`, added below) and those
/// plugin authors depend on.
const NO_CLIENT: &[&str] = &[
    "prefect-plugin-abi",
    "prefect-plugin-sdk",
    "prefect-plugin-test",
    "prefect-plugin-host",
    "prefect-manifest",
    "prefect-values",
];

/// The crates that may link kube-rs: the cluster crate, and the test support that is the test
/// API server's client as a node and a user are (never shipped).
const KUBE_ALLOWED: &[&str] = &["prefect-cluster", "prefectctl-tests", "kubelet-stand-in"];

/// The crates plugins may depend on: the SDK, and the harness for their tests.
const PLUGIN_DEPENDENCIES: &[&str] = &["prefect-plugin-sdk"];
const PLUGIN_DEV_DEPENDENCIES: &[&str] = &["prefect-plugin-sdk", "prefect-plugin-test"];

#[test]
fn only_prefect_cluster_links_kube() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for package in ws.members() {
        for dep in &package.deps {
            let kube = dep.name == "kube" || dep.name.starts_with("kube-");
            if kube && !KUBE_ALLOWED.contains(&package.name.as_str()) {
                problems.push(format!(
                    "{} depends on `{}`: only prefect-cluster links kube-rs; say what the command \
                     needs from the API server in prefect-cluster and call it from there",
                    package.manifest, dep.name
                ));
            }
        }
    }
    let mut no_client: Vec<&Package> =
        ws.members().filter(|p| NO_CLIENT.contains(&p.name.as_str()) || p.is_plugin()).collect();
    no_client.sort_by(|a, b| a.name.cmp(&b.name));
    for package in no_client {
        for (client, through) in ws.reaches(package, |name| CLIENTS.contains(&name)) {
            problems.push(format!(
                "{} reaches the client `{client}` (through {through}): plugins, the SDK, the \
                 graph, the values crate and the host never see a Kubernetes or HTTP client; \
                 drop the dependency, or its feature that brings the client in",
                package.manifest
            ));
        }
    }
    report("only prefect-cluster links kube-rs", problems);
}

#[test]
fn plugins_depend_on_the_sdk_only() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for plugin in ws.members().filter(|p| p.is_plugin()) {
        for dep in plugin.deps.iter().filter(|dep| ws.is_member(&dep.name)) {
            let allowed = if dep.dev { PLUGIN_DEV_DEPENDENCIES } else { PLUGIN_DEPENDENCIES };
            if !allowed.contains(&dep.name.as_str()) {
                problems.push(format!(
                    "{} {}depends on `{}`: a plugin depends on prefect-plugin-sdk only (tests: \
                     and prefect-plugin-test), never on the host, graph or values crates nor on \
                     another plugin; what it needs of another plugin is the names in the graph",
                    plugin.manifest,
                    if dep.dev { "dev-" } else { "" },
                    dep.name
                ));
            }
        }
    }
    report("plugins depend on the SDK only", problems);
}

#[test]
fn the_graph_does_no_io_and_knows_no_yaml_kube_plugins_or_cli() {
    let ws = Metadata::read();
    let graph = ws.package("prefect-manifest");
    let mut problems = Vec::new();
    let foreign = |name: &str| {
        name.contains("yaml")
            || name.contains("saphyr")
            || name.starts_with("kube")
            || name.starts_with("clap")
            || name.starts_with("prefect")
    };
    for (found, through) in ws.reaches(graph, foreign) {
        problems.push(format!(
            "{} reaches `{found}` (through {through}): prefect-manifest knows nothing of YAML, \
             kube-rs, plugins or the CLI; keep that in the crate that uses it",
            graph.manifest
        ));
    }
    for file in rust_files(&graph.dir.join("src")) {
        for (line, text) in code_lines(&file) {
            for io in ["std::fs", "std::io", "std::net", "std::process", "std::env"] {
                if text.contains(io) {
                    problems.push(format!(
                        "{}:{line}: uses {io}: prefect-manifest does no I/O; read and write in \
                         the caller and hand the graph values",
                        relative(&file)
                    ));
                }
            }
        }
    }
    report("prefect-manifest does no I/O", problems);
}

#[test]
fn unsafe_only_where_listed() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for package in ws.members() {
        let allowed = UNSAFE_ALLOWED.iter().find(|(name, _)| *name == package.name);
        match allowed {
            Some((_, files)) => {
                for file in rust_files(&package.dir.join("src")) {
                    let inside = relative_to(&file, &package.dir);
                    if files.contains(&inside.as_str()) {
                        continue;
                    }
                    for (line, _) in code_lines(&file).filter(|(_, text)| has_unsafe(text)) {
                        problems.push(format!(
                            "{}:{line}: `unsafe` outside the files listed for {} in \
                             xtask/src/tidy.rs (UNSAFE_ALLOWED): move it next to the other \
                             unsafe code of the crate, or list the file and say why in \
                             ARCHITECTURE.md's invariants",
                            relative(&file),
                            package.name
                        ));
                    }
                }
            }
            None => {
                for root in &package.roots {
                    let forbids = std::fs::read_to_string(root)
                        .is_ok_and(|text| text.contains("#![forbid(unsafe_code)]"));
                    if !forbids {
                        problems.push(format!(
                            "{}: the crate root of {} lacks `#![forbid(unsafe_code)]`: every \
                             crate but those listed in ARCHITECTURE.md's invariants (and \
                             UNSAFE_ALLOWED in xtask/src/tidy.rs) forbids unsafe code; add it",
                            relative(root),
                            package.name
                        ));
                    }
                }
            }
        }
    }
    report("unsafe only where listed", problems);
}

#[test]
fn only_the_host_loads_libraries() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for package in ws.members().filter(|p| p.name != "prefect-plugin-host") {
        for file in rust_files(&package.dir.join("src")) {
            for (line, text) in code_lines(&file) {
                for loads in ["lib_header_from_path", "load_from_file", "libloading", "dlopen"] {
                    if text.contains(loads) {
                        problems.push(format!(
                            "{}:{line}: `{loads}` in {}: only prefect-plugin-host loads \
                             libraries (checksum, ELF headers and layout checked first); call \
                             its `load`",
                            relative(&file),
                            package.name
                        ));
                    }
                }
            }
        }
    }
    report("only the host loads libraries", problems);
}

#[test]
fn every_module_has_a_doc() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for package in ws.members() {
        let dirs: BTreeSet<PathBuf> = package
            .roots
            .iter()
            .filter_map(|root| root.parent().map(Path::to_path_buf))
            .chain([package.dir.join("src")])
            .collect();
        let files: BTreeSet<PathBuf> = dirs.iter().flat_map(|dir| rust_files(dir)).collect();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
            if !first.starts_with("//!") {
                problems.push(format!(
                    "{}: no `//!` doc at the top: say in a line or two what the module is for \
                     (its one job), as every module of the workspace does",
                    relative(&file)
                ));
            }
        }
    }
    report("every module has a doc", problems);
}

#[test]
fn published_crates_depend_on_published_crates() {
    let ws = Metadata::read();
    let mut problems = Vec::new();
    for package in ws.members().filter(|p| p.publish) {
        for dep in package.deps.iter().filter(|dep| !dep.dev && ws.is_member(&dep.name)) {
            if !ws.package(&dep.name).publish {
                problems.push(format!(
                    "{} is published and depends on `{}`, which is not (publish = false): \
                     plugin authors could not build it from a registry; move what it needs \
                     into a published crate",
                    package.manifest, dep.name
                ));
            } else if dep.req == "*" {
                problems.push(format!(
                    "{} depends on `{}` by path only: a published crate names its siblings' \
                     version too (`version = ...` in the root Cargo.toml's workspace \
                     dependencies)",
                    package.manifest, dep.name
                ));
            }
        }
    }
    report("published crates depend on published crates", problems);
}

#[test]
fn examples_depend_on_the_published_crates_only() {
    let mut problems = Vec::new();
    let examples = workspace().join("examples");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&examples)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("Cargo.toml"))
        .filter(|manifest| manifest.is_file())
        .collect();
    manifests.sort();
    for manifest in manifests {
        let metadata = cargo_metadata(&manifest, false);
        for package in metadata["packages"].as_array().into_iter().flatten() {
            for dep in package["dependencies"].as_array().into_iter().flatten() {
                let name = dep["name"].as_str().unwrap_or_default();
                let local = dep["path"].is_string();
                if local && !PLUGIN_DEV_DEPENDENCIES.contains(&name) {
                    problems.push(format!(
                        "{}: depends on `{name}` from this repository: an example uses what \
                         plugin authors get, prefect-plugin-sdk and prefect-plugin-test only",
                        relative(&manifest)
                    ));
                }
                if local && dep["req"].as_str() == Some("*") {
                    problems.push(format!(
                        "{}: `{name}` by path only: name the published version too, as an \
                         outside author's crate would",
                        relative(&manifest)
                    ));
                }
            }
        }
    }
    report("examples depend on the published crates only", problems);
}

/// A list in the tests that must name every first-party plugin: the line above it says
/// `// tidy: every plugin`, or `// tidy: every plugin but server, network-policy` for the
/// plugins it leaves out on purpose. In a list of flags, the plugins are what follows
/// `--plugin`.
const MARKER: &str = "// tidy: every plugin";

#[test]
fn marked_lists_name_every_plugin() {
    let plugins: BTreeSet<String> = crate::project::first_party_plugins()
        .expect("the first-party plugins")
        .into_iter()
        .map(|plugin| plugin.name)
        .collect();
    let mut problems = Vec::new();
    let mut marked = 0;
    let dirs = ["tests/it", "crates", "plugins", "xtask/src"].map(|dir| workspace().join(dir));
    for file in dirs.iter().flat_map(|dir| rust_files(dir)) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim().strip_prefix(MARKER) else { continue };
            marked += 1;
            let but: BTreeSet<String> = rest
                .trim()
                .strip_prefix("but")
                .unwrap_or("")
                .split(',')
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect();
            let listed = list_after(&lines[at + 1..]);
            let wanted: BTreeSet<String> = plugins.difference(&but).cloned().collect();
            let missing: Vec<&String> = wanted.difference(&listed).collect();
            let unknown: Vec<&String> =
                listed.iter().filter(|name| !plugins.contains(*name)).collect();
            let excluded_listed: Vec<&String> = but.intersection(&listed).collect();
            let place = format!("{}:{}", relative(&file), at + 1);
            if !missing.is_empty() {
                problems.push(format!(
                    "{place}: the list leaves out {missing:?}, in plugins/: add them, or name \
                     them after `{MARKER} but` if the list leaves them out on purpose"
                ));
            }
            if !unknown.is_empty() {
                problems.push(format!(
                    "{place}: the list names {unknown:?}, not in plugins/: remove them"
                ));
            }
            let unknown_but: Vec<&String> = but.difference(&plugins).collect();
            if !unknown_but.is_empty() || !excluded_listed.is_empty() {
                problems.push(format!(
                    "{place}: the marker leaves out {:?}, which the list names or plugins/ does \
                     not hold: correct the marker",
                    unknown_but.into_iter().chain(excluded_listed).collect::<Vec<_>>()
                ));
            }
        }
    }
    if marked == 0 {
        problems.push(format!("no list is marked `{MARKER}`: the check has lost its lists"));
    }
    report("marked lists name every plugin", problems);
}

#[test]
fn the_architecture_maps_every_crate() {
    let ws = Metadata::read();
    let text = std::fs::read_to_string(workspace().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the workspace root");
    let mut problems = Vec::new();
    for package in ws.members() {
        let folder = relative(&package.dir);
        let mapped = folder.starts_with("tests")
            || folder == "xtask"
            || text.contains(&format!("- `{folder}` — "));
        if !mapped {
            problems.push(format!(
                "{}: ARCHITECTURE.md's code map has no entry `- `{folder}` — ...`: say what \
                 the crate is for and where its main types are",
                package.manifest
            ));
        }
    }
    report("the architecture maps every crate", problems);
}

/// Fails with every problem, one a paragraph, under the rule's name.
fn report(rule: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "tidy: {rule} (ARCHITECTURE.md, Invariants):\n\n{}\n",
        problems.join("\n\n")
    );
}

/// The plugin names in the list that starts on the first of `lines`: quoted strings up to the
/// bracket that closes it; in a list of flags, the strings after `--plugin`.
fn list_after(lines: &[&str]) -> BTreeSet<String> {
    let mut depth = 0;
    let mut strings = Vec::new();
    'lines: for line in lines {
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '[' => depth += 1,
                // A bracket with no string in it is a type (`[&str; 6]`), not the list.
                ']' => {
                    depth -= 1;
                    if depth == 0 && !strings.is_empty() {
                        break 'lines;
                    }
                }
                '"' if depth > 0 => {
                    strings.push(chars.by_ref().take_while(|c| *c != '"').collect())
                }
                _ => {}
            }
        }
    }
    if strings.iter().any(|s: &String| s == "--plugin") {
        strings
            .windows(2)
            .filter(|pair| pair[0] == "--plugin")
            .map(|pair| pair[1].clone())
            .collect()
    } else {
        strings.into_iter().collect()
    }
}

/// Whether a line of code (comments removed) holds the `unsafe` keyword.
fn has_unsafe(code: &str) -> bool {
    code.match_indices("unsafe").any(|(at, word)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The lines of a Rust file with their numbers, line comments removed (doc comments too).
fn code_lines(file: &Path) -> impl Iterator<Item = (usize, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(at, line)| {
            let code = match line.find("//") {
                Some(comment) if !line[..comment].contains('"') => &line[..comment],
                _ => line,
            };
            (at + 1, code.to_owned())
        })
        .collect();
    lines.into_iter()
}

/// The `.rs` files under `dir`, this one left out, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") && path != this_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn this_file() -> PathBuf {
    workspace().join("xtask/src/tidy.rs")
}

/// `path` relative to the workspace, for messages.
fn relative(path: &Path) -> String {
    relative_to(path, &workspace())
}

fn relative_to(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

/// `cargo metadata` of `manifest`; with `deps`, the dependency graph resolved for this
/// machine's target (only that target's dependencies need to be downloaded).
fn cargo_metadata(manifest: &Path, deps: bool) -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version", "1", "--manifest-path"]).arg(manifest);
    if deps {
        command.args(["--filter-platform", &host_target()]);
    } else {
        command.arg("--no-deps");
    }
    let out = command.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo metadata of {} failed: {}",
        manifest.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// The target this machine builds for, as rustc says (`host: x86_64-unknown-linux-gnu`).
fn host_target() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc).arg("-vV").output().expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// The workspace as `cargo metadata` describes it.
struct Metadata {
    packages: BTreeMap<String, Package>,
    /// Package id → (dependency's package id) for normal dependencies, as resolved.
    normal: BTreeMap<String, Vec<String>>,
    /// Package id → name, for every package of the resolved graph.
    names: BTreeMap<String, String>,
}

/// A workspace member.
struct Package {
    id: String,
    name: String,
    /// Its folder.
    dir: PathBuf,
    /// Its Cargo.toml, relative to the workspace, for messages.
    manifest: String,
    /// Whether it may be published (no `publish = false`).
    publish: bool,
    deps: Vec<Dependency>,
    /// The source files of its library, binaries and tests (not build scripts).
    roots: Vec<PathBuf>,
}

/// A dependency as declared.
struct Dependency {
    name: String,
    dev: bool,
    /// The version requirement (`*` when none is given).
    req: String,
}

impl Package {
    fn is_plugin(&self) -> bool {
        self.dir.parent() == Some(&workspace().join("plugins"))
    }
}

impl Metadata {
    /// The workspace's metadata, read once for all the checks.
    fn read() -> &'static Metadata {
        static METADATA: std::sync::OnceLock<Metadata> = std::sync::OnceLock::new();
        METADATA.get_or_init(Metadata::load)
    }

    fn load() -> Metadata {
        let metadata = cargo_metadata(&workspace().join("Cargo.toml"), true);
        let members: BTreeSet<&str> = metadata["workspace_members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut packages = BTreeMap::new();
        let mut names = BTreeMap::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let id = package["id"].as_str().unwrap_or_default().to_owned();
            let name = package["name"].as_str().unwrap_or_default().to_owned();
            names.insert(id.clone(), name.clone());
            if !members.contains(id.as_str()) {
                continue;
            }
            let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
            let deps = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|dep| Dependency {
                    name: dep["name"].as_str().unwrap_or_default().to_owned(),
                    dev: dep["kind"] == "dev",
                    req: dep["req"].as_str().unwrap_or("*").to_owned(),
                })
                .collect();
            let roots = package["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|target| {
                    target["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().all(|k| k != "custom-build"))
                })
                .filter_map(|target| target["src_path"].as_str().map(PathBuf::from))
                .collect();
            packages.insert(
                name.clone(),
                Package {
                    id,
                    name,
                    dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
                    manifest: relative(&manifest),
                    publish: package["publish"].is_null(),
                    deps,
                    roots,
                },
            );
        }
        let mut normal = BTreeMap::new();
        for node in metadata["resolve"]["nodes"].as_array().into_iter().flatten() {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind["kind"].is_null()))
                })
                .filter_map(|dep| dep["pkg"].as_str().map(str::to_owned))
                .collect();
            normal.insert(node["id"].as_str().unwrap_or_default().to_owned(), deps);
        }
        Metadata { packages, normal, names }
    }

    fn members(&self) -> impl Iterator<Item = &Package> {
        self.packages.values()
    }

    fn is_member(&self, name: &str) -> bool {
        self.packages.contains_key(name)
    }

    fn package(&self, name: &str) -> &Package {
        self.packages.get(name).unwrap_or_else(|| panic!("no workspace member `{name}`"))
    }

    /// The crates matching `wanted` that `package` depends on, directly or not (normal
    /// dependencies), each with the shortest chain that brings it in.
    fn reaches(&self, package: &Package, wanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let name = |id: &str| self.names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut chain: BTreeMap<String, Vec<String>> = BTreeMap::new();
        chain.insert(package.id.clone(), vec![package.name.clone()]);
        let mut queue = std::collections::VecDeque::from([package.id.clone()]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            for dep in self.normal.get(&id).into_iter().flatten() {
                if chain.contains_key(dep) {
                    continue;
                }
                let mut path = chain[&id].clone();
                path.push(name(dep));
                if wanted(&name(dep)) {
                    found.push((name(dep), path.join(" → ")));
                }
                chain.insert(dep.clone(), path);
                queue.push_back(dep.clone());
            }
        }
        found
    }
}
