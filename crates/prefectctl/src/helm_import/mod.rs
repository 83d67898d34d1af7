//! `values import --from-helm`: prefect-helm values files (the `prefect-server` and
//! `prefect-worker` charts) as prefectctl values.
//!
//! Each file is told to belong to one chart by its keys (`worker:` → `prefect-worker`;
//! `server:`, `postgresql:`, `service:`... → `prefect-server`), the files of one chart merge in
//! order as `-f` files do, and each chart's table ([`server::RULES`], [`worker::RULES`], walked
//! by [`table::walk`]) says where each value goes. A value equal to the chart's default is
//! left out: the output is what the user chose. Every value that cannot be converted is said
//! on standard error with its file, line, path and reason; so is every converted value that
//! the plugins' schemas refuse (the schemas have the last word over the tables).

mod server;
mod table;
mod worker;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use prefect_plugin_abi::wire::GlobalValues;
use prefect_values::{Layer, Origin, Section, Severity, ValuePath, Values};
use serde_json::{Map, Value};

use crate::{
    cli::{HelmChart, ImportArgs, ReleaseArgs},
    failure::Failure,
    release,
};
use table::{Converted, NotConverted, dotted, segments};

/// A value emitted by a chart's own code rather than its table.
type Emit = Converted;

impl Converted {
    /// `value` at prefectctl's `ours`: prefect-helm's value at `helm`, which a value the user
    /// set relies on.
    pub fn default_of(helm: &str, ours: &str, value: Value) -> Converted {
        Converted { ours: segments(ours), value, helm: segments(helm), relied_on: true }
    }
}

/// What converting one chart's values made.
#[derive(Debug, Default)]
pub struct Conversion {
    /// Values from the chart's own code that say what the rest means (`agent.apiConfig`),
    /// written before the user's.
    leading: Vec<Converted>,
    /// Values from the chart's own code (defaults the user relied on, derived values).
    emitted: Vec<Converted>,
    /// Values not converted.
    not_converted: Vec<NotConverted>,
    /// What the user needs to know to use the output.
    notes: Vec<String>,
    /// The plugins the output needs in the stack beyond those its sections name (`postgres`
    /// for a server that ran on the chart's PostgreSQL subchart, with no value changed).
    plugins: Vec<&'static str>,
}

impl Conversion {
    fn emit(&mut self, converted: Converted) {
        self.emitted.push(converted);
    }

    fn emit_first(&mut self, converted: Converted) {
        self.leading.push(converted);
    }

    fn not_converted(&mut self, helm: &str, reason: String) {
        self.not_converted.push(NotConverted { helm: segments(helm), reason });
    }

    fn note(&mut self, note: &str) {
        self.notes.push(note.to_owned());
    }

    fn needs(&mut self, plugin: &'static str) {
        self.plugins.push(plugin);
    }
}

/// Converts one chart's merged values: its table over every value set, and its code for what
/// depends on several values (the chart's defaults those values rely on), which only ever
/// emits the values prefect-helm used, so the two never disagree.
pub fn convert(chart: HelmChart, user: &Value) -> (Vec<Converted>, Conversion) {
    let mut conversion = Conversion::default();
    let (defaults, mut rules) = match chart {
        HelmChart::Server => (server::defaults(), server::RULES.to_vec()),
        HelmChart::Worker => (worker::defaults(), worker::RULES.to_vec()),
    };
    let mut user = user.clone();
    table::read_helm_booleans(&mut user, &defaults);
    let user = &user;
    match chart {
        HelmChart::Server => {
            rules.extend(server::database_rules(user, &defaults, &mut conversion));
            rules.extend(server::redis_rules(user, &defaults, &mut conversion));
            server::relied_on_defaults(user, &defaults, &mut conversion);
        }
        HelmChart::Worker => {
            rules.extend(worker::api_rules(user, &defaults, &mut conversion));
            worker::disruption_budget(user, &mut conversion);
        }
    }
    let walked = table::walk(user, &defaults, &rules);
    conversion.not_converted.extend(walked.not_converted);
    // What says what the rest means first, then the user's values in the order of their file,
    // then the defaults they rely on.
    let mut converted = std::mem::take(&mut conversion.leading);
    converted.extend(walked.converted);
    converted.extend(std::mem::take(&mut conversion.emitted));
    (converted, conversion)
}

/// The top-level keys only the `prefect-worker` chart has.
const WORKER_KEYS: &[&str] = &["worker", "role", "rolebinding"];
/// The top-level keys only the `prefect-server` chart has.
const SERVER_KEYS: &[&str] = &[
    "server",
    "global",
    "migrations",
    "backgroundServices",
    "service",
    "ingress",
    "gateway",
    "httproute",
    "externalDatabase",
    "secret",
    "sqlite",
    "postgresql",
    "redis",
];

/// The chart whose values `tree` holds: by its keys, else `given`.
fn chart_of(file: &Path, tree: &Value, given: Option<HelmChart>) -> Result<HelmChart, String> {
    let keys: Vec<&str> =
        tree.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    let worker = keys.iter().find(|k| WORKER_KEYS.contains(k));
    let server = keys.iter().find(|k| SERVER_KEYS.contains(k));
    match (worker, server, given) {
        (Some(w), Some(s), _) => Err(format!(
            "{}: holds values of both prefect-helm charts (`{w}` of prefect-worker, `{s}` of \
             prefect-server): split it into one file per chart",
            file.display()
        )),
        (Some(_), None, _) => Ok(HelmChart::Worker),
        (None, Some(_), _) => Ok(HelmChart::Server),
        (None, None, Some(chart)) => Ok(chart),
        (None, None, None) if keys.is_empty() => Ok(HelmChart::Server),
        (None, None, None) => Err(format!(
            "{}: none of its keys ({}) tells which prefect-helm chart it is for: give \
             `--chart server` or `--chart worker`",
            file.display(),
            keys.join(", ")
        )),
    }
}

/// `prefectctl values import --from-helm FILE...`: the converted values as YAML; what was not
/// converted, and notes, on standard error.
pub fn run(args: &ReleaseArgs, import: &ImportArgs) -> Result<String, Failure> {
    let mut layers: [Vec<Layer>; 2] = [Vec::new(), Vec::new()];
    let mut errors = Vec::new();
    let mut stdin_read = false;
    for file in &import.from_helm {
        let layer = read(file, &mut stdin_read);
        match layer.and_then(|layer| Ok((chart_of(file, layer.tree(), import.chart)?, layer))) {
            Ok((chart, layer)) => layers[chart as usize].push(layer),
            Err(message) => errors.push(message),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::input(errors));
    }
    let stack = Stack::load(args);
    let charts: Vec<(HelmChart, Values)> = [HelmChart::Server, HelmChart::Worker]
        .into_iter()
        .filter(|chart| !layers[*chart as usize].is_empty())
        .map(|chart| (chart, prefect_values::merge(&layers[chart as usize])))
        .collect();
    let imported = self::import(&charts, stack.as_ref(), &import.from_helm);
    for text in &imported.not_converted {
        eprintln!("not converted: {text}");
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let names: Vec<HelmChart> = charts.iter().map(|(chart, _)| *chart).collect();
    eprintln!("note: {}", how_to_use(&names, &imported.needed, &imported.values));
    written(&import.from_helm, &imported.values)
}

/// What [`import`] made of prefect-helm values.
pub struct Imported {
    /// The prefectctl values, sections in the order a reader expects.
    pub values: Map<String, Value>,
    /// Each value not converted: where it was set, its prefect-helm path and why; in the order
    /// of the files and their lines.
    pub not_converted: Vec<String>,
    /// What the user needs to know to use the values.
    pub notes: Vec<String>,
    /// The plugins the values need beyond those their sections name.
    pub needed: Vec<&'static str>,
}

/// Converts each chart's merged values, checked against `stack`'s schemas when it could be
/// loaded; `files` are the values files given, to sort what was not converted by.
pub fn import(
    charts: &[(HelmChart, Values)],
    stack: Option<&Stack>,
    files: &[PathBuf],
) -> Imported {
    let mut out = Map::new();
    let mut imported = Imported {
        values: Map::new(),
        not_converted: Vec::new(),
        notes: Vec::new(),
        needed: Vec::new(),
    };
    for (chart, values) in charts {
        let (converted, conversion) = convert(*chart, values.tree());
        let mut not_converted = conversion.not_converted;
        for item in converted {
            if item.relied_on && stack.is_some_and(|stack| stack.defaults_to(&item)) {
                continue;
            }
            match stack.and_then(|stack| stack.refuses(&item)) {
                Some(reason) => not_converted.push(NotConverted { helm: item.helm, reason }),
                None => table::insert(&mut out, &item.ours, item.value),
            }
        }
        let mut described: Vec<_> =
            not_converted.iter().map(|item| described(values, item, files)).collect();
        described.sort_by_key(|(place, _)| *place);
        imported.not_converted.extend(described.into_iter().map(|(_, text)| text));
        imported.needed.extend(conversion.plugins);
        imported.notes.extend(conversion.notes);
    }
    imported.values = in_section_order(out);
    imported
}

/// The values file the command prints: a heading that says where it came from, then `out`.
fn written(files: &[PathBuf], out: &Map<String, Value>) -> Result<String, Failure> {
    let files: Vec<String> = files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" { "standard input".to_owned() } else { f.display().to_string() }
        })
        .collect();
    let mut text = format!(
        "# prefectctl values, from prefect-helm's {} by `prefectctl values import --from-helm`\n",
        files.join(", ")
    );
    if out.is_empty() {
        text.push_str("{}\n");
        return Ok(text);
    }
    text.push_str(
        &serde_saphyr::to_string_with_options(out, prefect_plugin_host::yaml_options())
            .map_err(anyhow::Error::from)?,
    );
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The values file `file` (`-`: standard input, once), its errors named by the file and the
/// flag that gave it.
fn read(file: &Path, stdin_read: &mut bool) -> Result<Layer, String> {
    let (name, text) = if file.as_os_str() == "-" {
        if std::mem::replace(stdin_read, true) {
            return Err("--from-helm -: standard input can be read once".to_owned());
        }
        let text = prefect_values::read_text(std::io::stdin().lock())
            .map_err(|err| format!("--from-helm -: cannot read standard input: {err}"))?;
        ("<stdin>".to_owned(), text)
    } else {
        let name = file.display().to_string();
        let text = prefect_values::read_text_file(file).map_err(|err| {
            format!(
                "cannot read prefect-helm values file {name}: {err} (check the path given to \
                 --from-helm)"
            )
        })?;
        (name, text)
    };
    // `helm get values RELEASE` prints this heading above the values (`-o yaml` does not).
    let text = match text.strip_prefix("USER-SUPPLIED VALUES:") {
        Some(rest) if rest.starts_with('\n') || rest.starts_with("\r\n") => rest.to_owned(),
        _ => text,
    };
    Layer::from_yaml_str(&text, &name).map_err(|err| err.to_string())
}

/// `helm path: reason`, after the file and line it was set at; and where that is (the
/// file's place on the command line and the line), to sort by.
fn described(values: &Values, item: &NotConverted, files: &[PathBuf]) -> ((usize, usize), String) {
    let path = item.helm.iter().fold(ValuePath::root(), |path, key| path.key(key));
    let helm = dotted(&item.helm);
    match values.origin(&path) {
        Some(origin @ Origin::File { path, line }) => {
            let file = files.iter().position(|f| match f.to_str() {
                Some("-") => path == "<stdin>",
                _ => f.display().to_string() == *path,
            });
            ((file.unwrap_or(usize::MAX), *line), format!("{origin}: {helm}: {}", item.reason))
        }
        Some(origin) => ((usize::MAX, 0), format!("{origin}: {helm}: {}", item.reason)),
        None => ((usize::MAX, 0), format!("{helm}: {}", item.reason)),
    }
}

/// The plugins the output can name (server, agent, postgres, redis and the user's
/// `--plugin`s): their schemas and defaults.
pub struct Stack {
    sections: Vec<Section>,
    /// Every section's defaults, `global` too.
    defaults: Value,
}

impl Stack {
    /// The stack, or none when its plugins cannot be loaded (then nothing is checked).
    pub fn load(args: &ReleaseArgs) -> Option<Stack> {
        let mut args = args.clone();
        for name in ["agent", "postgres", "redis"] {
            if !args.plugins.iter().any(|p| p == name) {
                args.plugins.push(name.to_owned());
            }
        }
        args.without.clear();
        let pins = release::pins(&args, None).ok()?;
        let plugins = match release::load_stack(&args, &crate::stack::Base::default_stack(), &pins)
        {
            Ok(plugins) => plugins,
            Err(_) => {
                eprintln!(
                    "warning: the server, agent, postgres and redis plugins could not be loaded: \
                     the converted values are not checked against their schemas"
                );
                return None;
            }
        };
        let mut defaults = Map::new();
        let global = serde_json::to_value(GlobalValues::default()).unwrap_or(Value::Null);
        defaults.insert(release::GLOBAL.to_owned(), global);
        for plugin in &plugins {
            let manifest = &plugin.manifest;
            defaults.insert(manifest.name.clone(), manifest.values_defaults.clone());
        }
        Some(Stack { sections: release::sections(&plugins), defaults: Value::Object(defaults) })
    }

    /// Whether prefectctl's default at `item`'s path is its value already.
    fn defaults_to(&self, item: &Converted) -> bool {
        let default = item.ours.iter().try_fold(&self.defaults, |value, key| value.get(key));
        default == Some(&item.value)
    }

    /// Why the plugin that would read `item` refuses it, if it does.
    fn refuses(&self, item: &Converted) -> Option<String> {
        let section = self.sections.iter().find(|s| Some(&s.name) == item.ours.first())?;
        let mut tree = Map::new();
        table::insert(&mut tree, &item.ours, item.value.clone());
        let values = prefect_values::merge(&[Layer::recorded(Value::Object(tree), "import")]);
        let problems = prefect_values::validate(&values, std::slice::from_ref(section));
        let problem = problems.into_iter().find(|p| p.severity == Severity::Error)?;
        // The list of the keys a section has would change with every plugin release; a close
        // name is worth saying.
        if let Some(rest) = problem.message.strip_prefix("unknown key") {
            let close = if rest.contains("did you mean") { rest } else { "" };
            return Some(format!("prefectctl has no `{}`{close}", problem.path));
        }
        Some(format!("prefectctl takes `{}` otherwise: {}", problem.path, problem.message))
    }
}

/// The sections in the order a reader expects: `global`, then the plugins in stack order.
fn in_section_order(mut out: Map<String, Value>) -> Map<String, Value> {
    let mut ordered = Map::new();
    for name in ["global", "server", "agent", "postgres", "redis"] {
        if let Some(section) = out.remove(name) {
            ordered.insert(name.to_owned(), section);
        }
    }
    ordered.extend(out);
    ordered
}

/// The command that renders the output.
fn how_to_use(charts: &[HelmChart], needed: &[&str], out: &Map<String, Value>) -> String {
    let mut flags = Vec::new();
    if !charts.contains(&HelmChart::Server) {
        flags.push("--without server".to_owned());
    }
    for plugin in ["agent", "postgres", "redis"] {
        if out.contains_key(plugin) || needed.contains(&plugin) {
            flags.push(format!("--plugin {plugin}"));
        }
    }
    flags.push("-f VALUES".to_owned());
    format!(
        "save the values above (VALUES) and render them with `prefectctl {} render`",
        flags.join(" ")
    )
}
