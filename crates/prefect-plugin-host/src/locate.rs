//! Where plugin libraries are looked for, and how a `--plugin` argument names one.
//!
//! A name resolves through, in order: each `--plugin-dir`, each folder of
//! `$PREFECTCTL_PLUGIN_PATH`, the folder of the `prefectctl` executable, and
//! `../lib/prefectctl/plugins` beside it (the layout of the release archive). The working
//! directory is never searched: a library is code, and only folders the user named or the
//! installation's own are trusted.

use std::{
    ffi::OsStr,
    fmt,
    path::{Path, PathBuf},
};

use prefect_plugin_abi::library_file_name;

use crate::{Error, Result};

/// What a `--plugin` argument names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PluginSpec {
    /// A plugin name, looked up in the plugin folders.
    Name(String),
    /// A library file given by its path.
    Path(PathBuf),
}

impl PluginSpec {
    /// Reads a `--plugin` argument: a path when it has a `/` or ends like a library file,
    /// otherwise a name.
    pub fn parse(arg: &str) -> PluginSpec {
        let looks_like_path = arg.contains(std::path::MAIN_SEPARATOR)
            || arg.contains('/')
            || arg.ends_with(std::env::consts::DLL_SUFFIX);
        if looks_like_path {
            PluginSpec::Path(PathBuf::from(arg))
        } else {
            PluginSpec::Name(arg.to_owned())
        }
    }
}

impl fmt::Display for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSpec::Name(name) => f.write_str(name),
            PluginSpec::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The ordered list of plugin folders.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    dirs: Vec<PathBuf>,
}

impl Locator {
    /// The folders in the documented order: `plugin_dirs` (from `--plugin-dir`), the entries of
    /// `env_path` (`$PREFECTCTL_PLUGIN_PATH`), then the executable's folder and
    /// `../lib/prefectctl/plugins` beside it.
    pub fn new(plugin_dirs: &[PathBuf], env_path: Option<&OsStr>, exe: Option<&Path>) -> Locator {
        let mut dirs: Vec<PathBuf> = plugin_dirs.to_vec();
        if let Some(env_path) = env_path {
            dirs.extend(std::env::split_paths(env_path).filter(|d| !d.as_os_str().is_empty()));
        }
        if let Some(exe_dir) = exe.and_then(Path::parent) {
            dirs.push(exe_dir.to_path_buf());
            dirs.push(exe_dir.join("../lib/prefectctl/plugins"));
        }
        Locator { dirs }
    }

    /// The folders, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The plugin called `name`: in the first folder that holds its library
    /// (`libprefectctl_plugin_NAME.so`) or its executable (`prefectctl-plugin-NAME`). A name
    /// that finds both, in any folders, is an error: an executable `prefectctl-plugin-server`
    /// in a plugin folder must not replace the first-party `server` library unnoticed.
    pub fn find(&self, name: &str) -> Result<PathBuf> {
        let file = library_file_name(name);
        let executable = executable_file_name(name);
        let in_folder =
            |file: &str| self.dirs.iter().map(|dir| dir.join(file)).find(|p| p.is_file());
        match (in_folder(&file), in_folder(&executable)) {
            (Some(library), Some(executable)) => {
                return Err(Error::Ambiguous { name: name.to_owned(), executable, library });
            }
            (Some(found), None) | (None, Some(found)) => return Ok(found),
            (None, None) => {}
        }
        Err(Error::NotFound {
            name: name.to_owned(),
            hint: self.hint(name),
            file: format!("{file} or {executable}"),
            searched: self
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// ` (did you mean `agent`?)` when `name` is the name of a prefect-helm chart or component
    /// a first-party plugin replaces, or close to an installed plugin's; else empty.
    fn hint(&self, name: &str) -> String {
        if let Some((plugin, why)) = helm_name(name) {
            return format!(" (did you mean `{plugin}`? {why})");
        }
        self.closest(name).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
    }

    /// The installed plugin whose name is closest to `name`, if one is close enough to be a typo.
    fn closest(&self, name: &str) -> Option<String> {
        self.discover()
            .into_iter()
            .map(|(candidate, _)| (strsim::damerau_levenshtein(name, &candidate), candidate))
            .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
            .min()
            .map(|(_, candidate)| candidate)
    }

    /// Every plugin library in the folders, by name; a name found in two folders is listed once,
    /// from the folder that wins.
    pub fn discover(&self) -> Vec<(String, PathBuf)> {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut here: Vec<(String, PathBuf)> = entries
                .filter_map(|entry| {
                    let path = entry.ok()?.path();
                    Some((name_of_file(&path)?, path))
                })
                .collect();
            here.sort();
            for (name, path) in here {
                if !found.iter().any(|(n, _)| *n == name) {
                    found.push((name, path));
                }
            }
        }
        found.sort();
        found
    }
}

/// The file name of the executable plugin called `name`: `prefectctl-plugin-NAME`.
pub fn executable_file_name(name: &str) -> String {
    format!("prefectctl-plugin-{name}")
}

/// The plugin name a file's name implies: `dask-rbac` for `libprefectctl_plugin_dask_rbac.so`
/// or `prefectctl-plugin-dask-rbac`; `None` for other files.
pub fn name_of_file(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let library_prefix = format!("{}prefectctl_plugin_", std::env::consts::DLL_PREFIX);
    if let Some(stem) = file
        .strip_prefix(&library_prefix)
        .and_then(|f| f.strip_suffix(std::env::consts::DLL_SUFFIX))
    {
        return Some(stem.replace('_', "-"));
    }
    let name = file.strip_prefix("prefectctl-plugin-")?;
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then(|| name.to_owned())
}

/// The first-party plugin that stands for a prefect-helm chart or component a user coming from
/// Helm would name, and how the two relate.
fn helm_name(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "worker" | "prefect-worker" => {
            ("agent", "prefect-helm's worker chart is the `agent` plugin")
        }
        "prefect-server" => ("server", "prefect-helm's server chart is the `server` plugin"),
        "postgresql" | "bitnami-postgresql" => {
            ("postgres", "the chart's bundled PostgreSQL is the `postgres` plugin")
        }
        "prometheus-prefect-exporter" | "exporter" => {
            ("metrics", "the exporter chart is the `metrics` plugin")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_with_a_slash_or_library_suffix_are_paths() {
        assert_eq!(PluginSpec::parse("dask-rbac"), PluginSpec::Name("dask-rbac".into()));
        assert_eq!(PluginSpec::parse("./libx.so"), PluginSpec::Path("./libx.so".into()));
        let file = library_file_name("x");
        assert_eq!(PluginSpec::parse(&file), PluginSpec::Path(file.clone().into()));
    }

    #[test]
    fn folders_come_in_the_documented_order() {
        let env = std::env::join_paths(["/env/a", "/env/b"]).unwrap();
        let locator =
            Locator::new(&["/flag".into()], Some(&env), Some(Path::new("/opt/p/bin/prefectctl")));
        let dirs: Vec<String> = locator.dirs().iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            dirs,
            ["/flag", "/env/a", "/env/b", "/opt/p/bin", "/opt/p/bin/../lib/prefectctl/plugins"]
        );
    }

    #[test]
    fn first_folder_wins_and_missing_names_list_the_folders() {
        let root = std::env::temp_dir().join(format!("prefectctl-locate-{}", std::process::id()));
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join(library_file_name("dask-rbac")), "").unwrap();
        std::fs::write(b.join(library_file_name("dask-rbac")), "").unwrap();
        std::fs::write(b.join("libunrelated.so"), "").unwrap();
        std::fs::write(b.join("prefectctl-plugin-labels"), "").unwrap();
        let locator = Locator::new(&[a.clone(), b.clone()], None, None);
        assert_eq!(locator.find("dask-rbac").unwrap(), a.join(library_file_name("dask-rbac")));
        assert_eq!(
            locator.discover(),
            [
                ("dask-rbac".to_owned(), a.join(library_file_name("dask-rbac"))),
                ("labels".to_owned(), b.join("prefectctl-plugin-labels")),
            ]
        );
        assert_eq!(locator.find("labels").unwrap(), b.join("prefectctl-plugin-labels"));
        let err = locator.find("agent").unwrap_err().to_string();
        assert!(err.starts_with("plugin `agent` not found: looked for"), "{err}");
        let err = locator.find("worker").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "plugin `worker` not found (did you mean `agent`? prefect-helm's worker chart is \
                 the `agent` plugin)"
            ),
            "{err}"
        );
        let err = locator.find("dask-rback").unwrap_err().to_string();
        assert!(
            err.starts_with("plugin `dask-rback` not found (did you mean `dask-rbac`?)"),
            "{err}"
        );
        assert!(
            err.contains(&a.display().to_string()) && err.contains(&b.display().to_string()),
            "{err}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_name_that_finds_an_executable_and_a_library_is_refused() {
        let root =
            std::env::temp_dir().join(format!("prefectctl-ambiguous-{}", std::process::id()));
        let (mine, installed) = (root.join("mine"), root.join("installed"));
        std::fs::create_dir_all(&mine).unwrap();
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::write(installed.join(library_file_name("server")), "").unwrap();
        std::fs::write(mine.join("prefectctl-plugin-server"), "").unwrap();
        let locator = Locator::new(&[mine.clone(), installed.clone()], None, None);
        let err = locator.find("server").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "plugin `server` is both the executable {} and the library {}: ",
                mine.join("prefectctl-plugin-server").display(),
                installed.join(library_file_name("server")).display()
            )),
            "{err}"
        );
        // Whichever folder comes first.
        let reversed = Locator::new(&[installed.clone(), mine.clone()], None, None);
        assert!(matches!(reversed.find("server"), Err(Error::Ambiguous { .. })));
        std::fs::remove_dir_all(root).unwrap();
    }
}
