//! A release before it runs: the user's values read from every layer, the stack loaded, and the
//! values validated against every plugin's schema — all before any plugin runs.

use std::{collections::BTreeMap, path::PathBuf};

use prefect_plugin_abi::wire::GlobalValues;
use prefect_plugin_host::{Locator, Plugin};
use prefect_values::{Layer, Section, SetKind, Severity, Values};
use serde_json::Value;

use crate::{
    cli::ReleaseArgs,
    failure::Failure,
    stack::{self, Base},
};

pub use prefect_plugin_host::turn::GLOBAL;

/// A release whose values and plugins are ready to run.
pub struct Release {
    /// Release name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// The plugins in run order.
    pub plugins: Vec<Plugin>,
    /// The user's values, all layers merged.
    pub values: Values,
}

/// Reads values, loads the default stack and validates, reporting every problem of a step at
/// once: a release as `render` sees it, in `-n` or `default`.
pub fn prepare(args: &ReleaseArgs) -> Result<Release, Failure> {
    let namespace = args.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    prepare_on(args, &namespace, &Base::default_stack(), None)
}

/// [`prepare`] on top of `base` and, when an upgrade reuses them, a release's recorded values.
pub fn prepare_on(
    args: &ReleaseArgs,
    namespace: &str,
    base: &Base,
    recorded: Option<Layer>,
) -> Result<Release, Failure> {
    check_names(&args.release, namespace)?;
    let mut values = read_values(args, recorded)?;
    let plugins = load_stack(args, base, &pins(args, Some(&values))?)?;
    validate(&mut values, &plugins)?;
    Ok(Release { name: args.release.clone(), namespace: namespace.to_owned(), plugins, values })
}

/// The namespace of commands that do not contact a cluster, when `-n` is not given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The plugin folders, in search order.
pub fn locator(args: &ReleaseArgs) -> Locator {
    let exe: Option<PathBuf> = std::env::current_exe().ok();
    Locator::new(
        &args.plugin_dirs,
        std::env::var_os("PREFECTCTL_PLUGIN_PATH").as_deref(),
        exe.as_deref(),
    )
}

/// The SHA-256 each plugin's file must have: `global.pluginSha256` of the values, and
/// `--plugin-sha256 NAME=HEX`, which wins.
pub fn pins(
    args: &ReleaseArgs,
    values: Option<&Values>,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut pins = BTreeMap::new();
    let mut errors = Vec::new();
    let recorded = values.and_then(|v| v.section(GLOBAL)).and_then(|g| g.get("pluginSha256"));
    if let Some(Value::Object(map)) = recorded {
        for (name, hex) in map {
            match hex.as_str().filter(|h| is_sha256(h)) {
                Some(hex) => {
                    pins.insert(name.clone(), hex.to_ascii_lowercase());
                }
                // The values' schema reports it as a string already.
                None => errors.push(format!(
                    "global.pluginSha256.{name}: give 64 hex digits, as sha256sum prints them"
                )),
            }
        }
    }
    for arg in &args.plugin_sha256 {
        match arg.split_once('=') {
            Some((name, hex)) if !name.is_empty() && is_sha256(hex) => {
                pins.insert(name.to_owned(), hex.to_ascii_lowercase());
            }
            _ => errors.push(format!(
                "--plugin-sha256 {arg}: write it as NAME=HEX, with the 64 hex digits sha256sum prints"
            )),
        }
    }
    if errors.is_empty() { Ok(pins) } else { Err(Failure::input(errors)) }
}

fn is_sha256(hex: &str) -> bool {
    hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Loads the stack the flags select on top of `base`, checking `pins` before loading.
pub fn load_stack(
    args: &ReleaseArgs,
    base: &Base,
    pins: &BTreeMap<String, String>,
) -> Result<Vec<Plugin>, Failure> {
    let flag_errors = stack::check_flags(base, &args.plugins, &args.without);
    if !flag_errors.is_empty() {
        return Err(Failure::input(flag_errors));
    }
    for warning in stack::left_out_before(base, &args.without) {
        eprintln!("warning: {warning}");
    }
    let locator = locator(args);
    if args.debug {
        let dirs: Vec<String> = locator.dirs().iter().map(|d| d.display().to_string()).collect();
        eprintln!("debug: plugin folders, in search order: {}", dirs.join(", "));
    }
    let plugins = stack::resolve(base, &args.plugins, &args.without, &locator, pins, args.debug)
        .map_err(|errors| {
            let failure = Failure::runtime(errors.messages);
            if errors.flag_rejected { failure.with_code(2) } else { failure }
        })?;
    if args.debug {
        let names: Vec<&str> = plugins.iter().map(Plugin::name).collect();
        eprintln!("debug: run order: {}", names.join(", "));
    }
    for name in pins.keys().filter(|name| !plugins.iter().any(|p| p.name() == name.as_str())) {
        eprintln!("warning: a SHA-256 is pinned for plugin `{name}`, which is not in the stack");
    }
    if plugins.is_empty() {
        eprintln!(
            "warning: the stack is empty (--without {}): add plugins with --plugin NAME",
            args.without.join(" --without ")
        );
    }
    Ok(plugins)
}

/// Reads `-f` files in command line order, then the flags in Helm's order whatever their
/// place on the command line: `--set-json`, `--set`, `--set-string`, `--set-file`; over the
/// values a release recorded, if any. `-f -` and `--set-file KEY=-` read standard input, once.
pub fn read_values(args: &ReleaseArgs, recorded: Option<Layer>) -> Result<Values, Failure> {
    let mut read: Vec<Result<Layer, String>> = Vec::new();
    let mut stdin = Stdin::default();
    for file in &args.values {
        read.push(if file.as_os_str() == "-" {
            let text = stdin.read("-f -").map_err(|message| format!("-f -: {message}"));
            text.and_then(|text| Layer::from_yaml_str(&text, STDIN).map_err(|e| e.to_string()))
        } else {
            Layer::from_yaml_file(file).map_err(|err| err.to_string())
        });
    }
    let flags = (args.set_json.iter().map(|arg| Layer::from_set_json(arg)))
        .chain(args.set.iter().map(|arg| Layer::from_set(arg, SetKind::Typed)))
        .chain(args.set_string.iter().map(|arg| Layer::from_set(arg, SetKind::String)))
        .chain(args.set_file.iter().map(|arg| {
            Layer::from_set_file(arg, |path| match path {
                "-" => stdin.read(&format!("--set-file {arg}")).map_err(std::io::Error::other),
                path => prefect_values::read_text_file(path),
            })
        }));
    read.extend(flags.map(|layer| layer.map_err(|err| err.to_string())));
    let mut layers: Vec<Layer> = recorded.into_iter().collect();
    let mut errors = Vec::new();
    for layer in read {
        match layer {
            Ok(layer) => layers.push(layer),
            Err(message) => errors.push(message),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::input(errors));
    }
    if args.debug {
        eprintln!(
            "debug: values from {} file(s), then {} --set-json, {} --set, {} --set-string and {} --set-file flag(s), later ones winning",
            args.values.len(),
            args.set_json.len(),
            args.set.len(),
            args.set_string.len(),
            args.set_file.len()
        );
    }
    Ok(prefect_values::merge(&layers))
}

/// How messages name standard input read as a values file.
const STDIN: &str = "<stdin>";

/// Standard input, which one flag may read.
#[derive(Default)]
struct Stdin {
    /// The flag that read it.
    read_by: Option<String>,
}

impl Stdin {
    /// The text of standard input, for `flag`; an error if another flag read it already.
    fn read(&mut self, flag: &str) -> Result<String, String> {
        if let Some(first) = &self.read_by {
            return Err(format!(
                "standard input can be read once, and {first} read it: save one of them to a file"
            ));
        }
        self.read_by = Some(flag.to_owned());
        prefect_values::read_text(std::io::stdin().lock())
            .map_err(|err| format!("cannot read standard input: {err}"))
    }
}

/// The schema sections of a stack: `global` and one per plugin.
pub fn sections(plugins: &[Plugin]) -> Vec<Section> {
    let global = prefect_plugin_abi::wire::global_values_schema();
    std::iter::once(Section { name: GLOBAL.to_owned(), schema: global })
        .chain(plugins.iter().map(|p| Section {
            name: p.manifest.name.clone(),
            schema: p.manifest.values_schema.clone(),
        }))
        .collect()
}

/// Reads a values file's `yes`, `off`... where a plugin expects a boolean, as Helm does (with a
/// warning), then checks every value against its section's schema.
fn validate(values: &mut Values, plugins: &[Plugin]) -> Result<(), Failure> {
    let sections = sections(plugins);
    let booleans = prefect_values::read_yaml11_booleans(values, &sections);
    let problems = prefect_values::validate(values, &sections);
    let mut errors = Vec::new();
    for problem in booleans.into_iter().chain(problems) {
        match problem.severity {
            Severity::Error => errors.push(problem.to_string()),
            Severity::Warning => eprintln!("warning: {problem}"),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Failure::input(errors)) }
}

/// Refuses (exit 2) the fields of `graph` that the API server would refuse
/// ([`prefect_manifest::check`]): a bad quantity, name or period in the values is said before
/// anything is written, not by a failed revision.
pub fn check_graph(graph: &prefect_manifest::Graph) -> Result<(), Failure> {
    let refusals = prefect_manifest::check::check(graph);
    if refusals.is_empty() {
        return Ok(());
    }
    let mut messages: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    messages.push(
        "the API server would refuse the fields above: fix the values that set them; nothing \
         was written"
            .to_owned(),
    );
    Err(Failure::input(messages))
}

/// The `global:` section with its defaults, typed.
pub fn global_values(values: &Values) -> Result<GlobalValues, Failure> {
    prefect_plugin_host::turn::global_values(values)
        .map_err(|err| Failure::input(vec![prefect_plugin_host::with_causes(&err)]))
}

/// Release and namespace names must be DNS labels. The release also starts the names of
/// Services, which must begin with a letter (DNS-1035), and leaves room for a suffix.
fn check_names(release: &str, namespace: &str) -> Result<(), Failure> {
    let mut errors = Vec::new();
    if !is_dns_label(release, 53) || !release.starts_with(|c: char| c.is_ascii_lowercase()) {
        errors.push(format!(
            "--release {release:?} is not a valid release name: use at most 53 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
        ));
    }
    if !is_dns_label(namespace, 63) {
        errors.push(format!(
            "--namespace {namespace:?} is not a valid namespace: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
        ));
    }
    if errors.is_empty() { Ok(()) } else { Err(Failure::input(errors)) }
}

fn is_dns_label(name: &str, max: usize) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(alphanumeric)
        && name.ends_with(alphanumeric)
        && name.chars().all(|c| alphanumeric(c) || c == '-')
}
