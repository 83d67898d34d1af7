//! The command line: flags and subcommands, as clap types.
//!
//! Flags that shape the release (`--plugin`, `-f`, `--set`, `-n`, ...) are global: they work
//! before or after the subcommand, as Helm's and kubectl's do.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

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

/// The flags that say what the release is made of.
#[derive(Debug, Args, Clone)]
pub struct ReleaseArgs {
    /// Add a plugin to the stack, by name or by library path (repeatable); the default stack
    /// is `server`
    #[arg(long = "plugin", value_name = "NAME|PATH", global = true)]
    pub plugins: Vec<String>,
    /// Leave a default plugin out of the stack (`--without server` for a worker-only install)
    #[arg(long = "without", value_name = "NAME", global = true)]
    pub without: Vec<String>,
    /// Look for plugins in DIR before $PREFECTCTL_PLUGIN_PATH and the installation's folders
    /// (repeatable)
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,
    /// Values file (repeatable; later files win, mappings merge deeply)
    #[arg(short = 'f', long = "values", value_name = "FILE", global = true)]
    pub values: Vec<PathBuf>,
    /// Set a value with Helm's syntax (repeatable, after -f).
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        global = true,
        help = "Set a value: a.b=c, a[0]=x, list={x,y}, escaped dots a\\.b=c (repeatable, after -f)"
    )]
    pub set: Vec<String>,
    /// Set a value as a string, whatever it looks like (repeatable, after --set)
    #[arg(long = "set-string", value_name = "KEY=VALUE", global = true)]
    pub set_string: Vec<String>,
    /// Release name: the prefix of every resource's name
    #[arg(long, value_name = "NAME", default_value = "prefect", global = true)]
    pub release: String,
    /// Namespace to install into
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "default", global = true)]
    pub namespace: String,
    /// Print what happens, step by step, to standard error
    #[arg(long, global = true)]
    pub debug: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the release's manifests, without contacting a cluster
    Render(RenderArgs),
    /// List and describe plugins
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Print the default values, documented, or their JSON Schema
    Values(ValuesArgs),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: Shell,
    },
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
        name: String,
    },
}

/// `values`.
#[derive(Debug, Args)]
pub struct ValuesArgs {
    /// Print the JSON Schema of the whole values file, for editors
    #[arg(long)]
    pub schema: bool,
}
