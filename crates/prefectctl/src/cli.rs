//! The command line: flags and subcommands, as clap types.
//!
//! Flags that shape the release (`--plugin`, `-f`, `--set`, `-n`, ...) are global: they work
//! before or after the subcommand, as Helm's and kubectl's do. The stack flags mean something
//! only to the commands that build a stack; `main` refuses them elsewhere
//! ([`ReleaseArgs::values_flags_given`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::{Shell, engine::ArgValueCompleter};

/// Deploy the Prefect workflow platform onto Kubernetes from composable plugins.
#[derive(Debug, Parser)]
#[command(name = "prefectctl", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Flags shared by every subcommand.
    #[command(flatten)]
    pub release: ReleaseArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the flags every command takes.
const GLOBAL_OPTIONS: &str = "Global options";
/// The help heading of the flags that say what the stack is made of.
const STACK_OPTIONS: &str = "Stack options (render, apply, diff; --plugin* also values, plugins)";

/// The flags that say what the release is made of.
#[derive(Debug, Args, Clone)]
pub struct ReleaseArgs {
    /// Add a plugin to the stack, by name or by library path (repeatable); the default stack
    /// is `server`
    #[arg(
        long = "plugin",
        value_name = "NAME|PATH",
        global = true,
        help_heading = STACK_OPTIONS,
        add = ArgValueCompleter::new(crate::complete::plugin)
    )]
    pub plugins: Vec<String>,
    /// Leave a default plugin out of the stack (`--without server` for a worker-only install)
    #[arg(
        long = "without",
        value_name = "NAME",
        global = true,
        help_heading = STACK_OPTIONS,
        add = ArgValueCompleter::new(crate::complete::without)
    )]
    pub without: Vec<String>,
    /// Refuse to load plugin NAME unless its file has this SHA-256 (repeatable; also
    /// global.pluginSha256 in values)
    #[arg(long = "plugin-sha256", value_name = "NAME=HEX", global = true, help_heading = STACK_OPTIONS)]
    pub plugin_sha256: Vec<String>,
    /// Look for plugins in DIR before $PREFECTCTL_PLUGIN_PATH and the installation's folders
    /// (repeatable)
    #[arg(long = "plugin-dir", value_name = "DIR", global = true, help_heading = STACK_OPTIONS)]
    pub plugin_dirs: Vec<PathBuf>,
    /// Values file, `-` for standard input (repeatable; later files win, mappings merge deeply;
    /// then the flags, in Helm's order whatever their place: --set-json, --set, --set-string,
    /// --set-file)
    #[arg(short = 'f', long = "values", value_name = "FILE", global = true, help_heading = STACK_OPTIONS)]
    pub values: Vec<PathBuf>,
    /// Set a value with Helm's syntax (repeatable, after -f).
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        global = true,
        help_heading = STACK_OPTIONS,
        help = "Set a value: a.b=c, a[0]=x, list={x,y}, escaped dots a\\.b=c (repeatable, after --set-json)"
    )]
    pub set: Vec<String>,
    /// Set a value as a string, whatever it looks like (repeatable, after --set)
    #[arg(long = "set-string", value_name = "KEY=VALUE", global = true, help_heading = STACK_OPTIONS)]
    pub set_string: Vec<String>,
    /// Set a value as JSON: `a.b={"c":1}`, `list=[1,2]`, or a whole `'{"server":{...}}'`
    /// (repeatable, after -f)
    #[arg(long = "set-json", value_name = "KEY=JSON", global = true, help_heading = STACK_OPTIONS)]
    pub set_json: Vec<String>,
    /// Set a value to the text of a file, `-` for standard input (repeatable, after
    /// --set-string: last)
    #[arg(long = "set-file", value_name = "KEY=PATH", global = true, help_heading = STACK_OPTIONS)]
    pub set_file: Vec<String>,
    /// Release name: the prefix of every resource's name
    #[arg(
        long,
        value_name = "NAME",
        default_value = "prefect",
        env = "PREFECTCTL_RELEASE",
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub release: String,
    /// Namespace of the release: default the kubeconfig context's, else `default`
    #[arg(
        short = 'n',
        long,
        value_name = "NAMESPACE",
        env = "PREFECTCTL_NAMESPACE",
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub namespace: Option<String>,
    /// Kubeconfig file: default $KUBECONFIG, else ~/.kube/config
    #[arg(long, value_name = "FILE", global = true, help_heading = GLOBAL_OPTIONS)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use: default the current context
    #[arg(
        long = "kube-context",
        visible_alias = "context",
        value_name = "NAME",
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub kube_context: Option<String>,
    /// How long one request to the API server may take (a duration, `0`: no limit), as
    /// kubectl's flag; a server that does not answer fails the command after it
    #[arg(
        long = "request-timeout",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = duration,
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub request_timeout: std::time::Duration,
    /// Where what API servers serve is kept between commands, as kubectl's flag: default
    /// $PREFECTCTL_CACHE_DIR, else $XDG_CACHE_HOME/prefectctl, else ~/.cache/prefectctl; `''`
    /// keeps nothing
    #[arg(
        long = "cache-dir",
        value_name = "DIR",
        // clap's path parser refuses an empty value, which here means "keep nothing".
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::OsStringValueParser::new(),
            PathBuf::from
        ),
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub cache_dir: Option<PathBuf>,
    /// Print what happens, step by step, to standard error
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub debug: bool,
}

impl ReleaseArgs {
    /// The flags given that choose plugins.
    pub fn plugin_flags_given(&self) -> Vec<&'static str> {
        given(&[("--plugin", !self.plugins.is_empty()), ("--without", !self.without.is_empty())])
    }

    /// The flags given that say where plugins are and what their files must be.
    pub fn plugin_file_flags_given(&self) -> Vec<&'static str> {
        given(&[
            ("--plugin-dir", !self.plugin_dirs.is_empty()),
            ("--plugin-sha256", !self.plugin_sha256.is_empty()),
        ])
    }

    /// The flags given that set values.
    pub fn values_flags_given(&self) -> Vec<&'static str> {
        given(&[
            ("-f/--values", !self.values.is_empty()),
            ("--set", !self.set.is_empty()),
            ("--set-string", !self.set_string.is_empty()),
            ("--set-json", !self.set_json.is_empty()),
            ("--set-file", !self.set_file.is_empty()),
        ])
    }
}

fn given(flags: &[(&'static str, bool)]) -> Vec<&'static str> {
    flags.iter().filter(|(_, given)| *given).map(|(flag, _)| *flag).collect()
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the release's manifests, without contacting a cluster
    Render(RenderArgs),
    /// List and describe plugins
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Print the default values, documented, or their JSON Schema; `values import --from-helm`
    /// converts prefect-helm values files
    Values(ValuesArgs),
    /// Install or upgrade the release on the cluster (server-side apply)
    Apply(ApplyArgs),
    /// Show what `apply` would change, as a unified diff (exit 1 when something would)
    Diff(DiffArgs),
    /// Show the release's current revision, whether each of its objects is ready, and what
    /// its Prefect server says (health, version, work pools, late and crashed flow runs)
    Status(StatusOutputArgs),
    /// Check that the release works as a Prefect deployment, and say what to fix (exit 1 when
    /// a check fails)
    Doctor(StatusArgs),
    /// List the releases of the namespace (or of every namespace)
    List {
        /// List the releases of every namespace
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Output format
        #[arg(short = 'o', long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
    /// List the release's revisions
    History {
        /// Output format
        #[arg(short = 'o', long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
    /// Print what a revision of the release recorded: its values or its objects
    #[command(subcommand)]
    Get(GetCommand),
    /// Apply an earlier revision's objects again, as a new revision
    Rollback(RollbackArgs),
    /// Delete the release's objects, keeping its data unless asked, and its records last
    Uninstall(UninstallArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: Shell,
    },
    /// Write the manual pages (one per subcommand) into DIR, for packagers
    #[command(hide = true)]
    Man {
        /// The folder to write `prefectctl.1`, `prefectctl-render.1`, ... into
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

/// How long to wait, as Go writes durations (`500ms`, `90s`, `1h30m`, `1.5h`) or seconds.
fn duration(text: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse(text)
}

/// What `apply` and `rollback` share: how to write and whether to wait.
#[derive(Debug, Args, Clone)]
pub struct WriteArgs {
    /// Take over fields that another field manager owns instead of failing on the conflict
    #[arg(long)]
    pub force_conflicts: bool,
    /// Wait until the Deployments, StatefulSets, Jobs and claims are ready
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits before the command fails
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration)]
    pub timeout: std::time::Duration,
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// How to write.
    #[command(flatten)]
    pub write: WriteArgs,
    /// Create the namespace when it does not exist
    #[arg(long)]
    pub create_namespace: bool,
    /// `server` (also bare `--dry-run`): the API server checks everything and stores nothing;
    /// show what would change
    #[arg(long, value_name = "MODE", value_enum, num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: Option<DryRun>,
    /// Forget the values recorded by the release's earlier revisions: only -f and --set count
    #[arg(long)]
    pub reset_values: bool,
    /// Take over objects of the same names that exist but are not the release's (made by Helm,
    /// kubectl or another release) instead of refusing them
    #[arg(long)]
    pub adopt: bool,
    /// Take over the prefect-helm release RELEASE (repeat for the server's and the worker's) in
    /// place: its values converted, its database kept, its objects replaced or taken over, and
    /// its Helm record marked superseded; data is never deleted
    #[arg(long, value_name = "RELEASE")]
    pub adopt_helm: Vec<String>,
}

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// The API server validates and computes every object, and stores nothing
    Server,
}

/// `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Forget the values recorded by the release's earlier revisions
    #[arg(long)]
    pub reset_values: bool,
    /// Show the result of taking over fields that another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// Colour the diff: `auto` on a terminal, unless NO_COLOR, CLICOLOR=0 or TERM=dumb say not
    /// to (CLICOLOR_FORCE colours even into a pipe)
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When writing to a terminal
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusOutputArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = StatusFormat::Text)]
    pub output: StatusFormat,
}

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// For people
    Text,
    /// The same as one JSON document, for programs
    Json,
    /// The same document as YAML
    Yaml,
}

/// Output formats of `history` and `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// A table, for people
    Table,
    /// A JSON list, with Helm's field names where they fit
    Json,
    /// The same list as YAML
    Yaml,
}

/// `get ...`.
#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Print the values a revision recorded (-f and --set merged), or with --all every value
    /// the plugins ran with; secrets are shown as ***
    ///
    /// Values the plugins' schemas mark secret (writeOnly: passwords, connection URLs), which
    /// the plugins keep in Secrets, are shown as *** and named on standard error. The revision's
    /// plugins are loaded (from the plugin folders, as for `apply`) for their schemas and
    /// defaults.
    Values(GetValuesArgs),
    /// Print the objects a revision applied, in apply order, as a YAML stream (the values of
    /// Secrets shown as ***)
    Manifest(GetManifestArgs),
}

/// `get values`.
#[derive(Debug, Args)]
pub struct GetValuesArgs {
    /// Every value the plugins ran with: each plugin's defaults under the recorded values
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The revision to read: default the latest
    #[arg(long, value_name = "N")]
    pub revision: Option<u32>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = ValuesFormat::Yaml)]
    pub output: ValuesFormat,
}

/// Output formats of `get values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValuesFormat {
    /// A values file, as `-f` reads it
    Yaml,
    /// The same values as JSON
    Json,
}

/// `get manifest`.
#[derive(Debug, Args)]
pub struct GetManifestArgs {
    /// The revision to read: default the latest
    #[arg(long, value_name = "N")]
    pub revision: Option<u32>,
}

/// `doctor`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

/// Output formats of `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For people
    Text,
    /// The same as one JSON document, for programs
    Json,
}

/// `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The revision to go back to: default the last good one before the latest (after a
    /// failed upgrade, the one still deployed)
    #[arg(add = ArgValueCompleter::new(crate::complete::revision))]
    pub revision: Option<u32>,
    /// Roll back even to a Prefect older than the one that migrated the database (its
    /// migration Job will then fail, leaving the running server as it is)
    #[arg(long)]
    pub force: bool,
    /// How to write.
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also delete the data: PersistentVolumeClaims and the Secrets that belong with them
    #[arg(long)]
    pub delete_data: bool,
}

/// `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Kubernetes version to render for (picks API versions), as MAJOR.MINOR[.PATCH]
    #[arg(long, value_name = "VERSION", default_value = crate::capabilities::DEFAULT_KUBE_VERSION)]
    pub kube_version: String,
    /// Also assume the cluster serves these API versions, such as monitoring.coreos.com/v1 for
    /// the Prometheus Operator's kinds (repeatable, comma-separated; `apply` and `diff` ask the
    /// cluster instead)
    #[arg(short = 'a', long = "api-versions", value_name = "GROUP/VERSION", value_delimiter = ',')]
    pub api_versions: Vec<String>,
}

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A multi-document YAML stream (`kubectl apply -f -` reads it)
    Yaml,
    /// One JSON `v1/List` of the resources
    Json,
}

/// `plugins ...`.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the plugins in the plugin folders and those given with --plugin
    List,
    /// Show what a plugin is, needs and accepts
    Describe {
        /// Plugin name or library path
        #[arg(add = ArgValueCompleter::new(crate::complete::plugin))]
        name: String,
        /// Output format
        #[arg(short = 'o', long, value_enum, default_value_t = DescribeFormat::Text)]
        output: DescribeFormat,
    },
    /// Create a plugin crate to start from: it builds, passes its tests and loads
    New {
        /// The plugin's name (lower-case letters, digits and '-')
        name: String,
        /// Where to create it: default ./prefectctl-plugin-NAME
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Take the SDK crates from this prefectctl checkout (or folder of crates) instead of
        /// those that came with prefectctl
        #[arg(long, value_name = "DIR")]
        sdk_from: Option<PathBuf>,
    },
}

/// Output formats of `plugins describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DescribeFormat {
    /// For people
    Text,
    /// The plugin's manifest as the host read it, with `path` and `sha256`, for programs
    Json,
}

/// `values`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ValuesArgs {
    /// Print the JSON Schema of the whole values file, for editors
    #[arg(long)]
    pub schema: bool,
    /// Convert values from elsewhere.
    #[command(subcommand)]
    pub command: Option<ValuesCommand>,
}

/// `values ...`.
#[derive(Debug, Subcommand)]
pub enum ValuesCommand {
    /// Convert prefect-helm values files into prefectctl values
    ///
    /// Reads values files of prefect-helm's prefect-server and prefect-worker charts and prints
    /// the same settings as prefectctl values (YAML) on standard output, to save and give to
    /// `render` or `apply` with -f. Several files merge in order, later ones winning, as -f
    /// files do; each file is for one chart, told by its keys (`worker:` for prefect-worker;
    /// `server:`, `postgresql:`, `service:`... for prefect-server) or by --chart.
    ///
    /// `worker.*` becomes `agent.*` (`worker.apiConfig: selfHostedServer` is `agent.apiConfig:
    /// server` with `agent.serverApiConfig`); the server chart's top-level `service`,
    /// `ingress`, `serviceAccount`, `sqlite`, `externalDatabase`, `migrations` and
    /// `backgroundServices` go under `server:`; `secret.*` becomes
    /// `server.externalDatabase.connectionUrl` (or `existingSecret`); the Bitnami `postgresql`
    /// and `redis` subcharts become the postgres and redis plugins' sections (add `--plugin
    /// postgres`, `--plugin redis`); `commonLabels` and `commonAnnotations` go under `global:`.
    ///
    /// Values equal to the chart's defaults are left out: the output is what you changed, over
    /// prefectctl's defaults, checked against the server, agent, postgres and redis plugins'
    /// schemas (found as `render` finds them). Standard error lists every value that was not converted, with
    /// its file, line, path and why (Helm templates `{{ ... }}`, settings prefectctl does not
    /// have, values the chart itself ignores), and the command that renders the output. Exit
    /// code 0 when the files were converted, 2 when one cannot be read or is not a values file.
    ///
    /// Example: prefectctl values import --from-helm server-values.yaml worker-values.yaml >
    /// values.yaml
    Import(ImportArgs),
}

/// `values import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// prefect-helm values files to convert, in order (repeatable; later files win); `-` for
    /// standard input, such as `helm get values RELEASE -o yaml | prefectctl values import
    /// --from-helm -`
    #[arg(long = "from-helm", value_name = "FILE", required = true, num_args = 1..)]
    pub from_helm: Vec<PathBuf>,
    /// The chart every file is for, when its keys do not tell (a file holding only
    /// `serviceAccount:`)
    #[arg(long, value_enum, value_name = "CHART")]
    pub chart: Option<HelmChart>,
}

/// prefect-helm's charts that `values import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HelmChart {
    /// prefect-server: the server, its database, ingress and background services
    Server = 0,
    /// prefect-worker: a worker (prefectctl's agent plugin)
    Worker = 1,
}
