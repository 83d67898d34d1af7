//! `plugins new NAME`: a plugin crate that builds, passes its tests and loads, to start from.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use crate::failure::Failure;

/// The SDK and test-support release the generated crate asks for.
const SDK_REQUIREMENT: &str = "0.1";

/// The files of a new plugin crate: where each goes and its template.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.in")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.in")),
    ("tests/plugin.rs", include_str!("scaffold/plugin.rs.in")),
    ("README.md", include_str!("scaffold/README.md.in")),
    (".gitignore", include_str!("scaffold/gitignore.in")),
];

/// What `plugins new` was asked for.
pub struct Request<'a> {
    /// The plugin's name, as users select it with `--plugin`.
    pub name: &'a str,
    /// Where to create the crate: default `./prefectctl-plugin-NAME`.
    pub path: Option<&'a Path>,
    /// A prefectctl source checkout to take the SDK crates from instead of crates.io.
    pub sdk_from: Option<&'a Path>,
}

/// Creates the crate and returns what to tell the user.
pub fn run(request: &Request) -> Result<String, Failure> {
    check_name(request.name).map_err(|reason| {
        Failure::input(vec![format!("`{}` cannot be a plugin name: {reason}", request.name)])
    })?;
    let dir = match request.path {
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(format!("prefectctl-plugin-{}", request.name)),
    };
    refuse_to_overwrite(&dir)?;
    let dependencies = Dependencies::new(request.sdk_from)?;
    let fill = |template: &str| fill(template, request.name, &dependencies);
    for (file, template) in FILES {
        let path = dir.join(file);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, fill(template)));
        written.map_err(|err| {
            Failure::runtime(vec![format!("cannot write {}: {err}", path.display())])
        })?;
    }
    Ok(next_steps(request.name, &dir))
}

/// A plugin name is what the host accepts, and also makes a Rust crate and type name: it
/// starts with a letter and has no empty parts.
fn check_name(name: &str) -> Result<(), &'static str> {
    if !prefect_plugin_host::is_plugin_name(name) {
        return Err("use lower-case letters, digits and '-', and not `global`");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("start it with a lower-case letter");
    }
    if name.split('-').any(str::is_empty) {
        return Err("put something between each '-'");
    }
    Ok(())
}

fn refuse_to_overwrite(dir: &Path) -> Result<(), Failure> {
    let occupied = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => dir.exists(),
    };
    if occupied {
        return Err(Failure::input(vec![format!(
            "{} already exists and is not empty: give another folder with --path, or remove it",
            dir.display()
        )]));
    }
    Ok(())
}

/// The generated crate's requirements on the SDK and on the test-support crate.
struct Dependencies {
    sdk: String,
    test: String,
}

impl Dependencies {
    fn new(sdk_from: Option<&Path>) -> Result<Dependencies, Failure> {
        let Some(checkout) = sdk_from else {
            let version = format!("\"{SDK_REQUIREMENT}\"");
            return Ok(Dependencies { sdk: version.clone(), test: version });
        };
        let crate_dir = |name: &str| -> Result<String, Failure> {
            let dir = checkout.join("crates").join(name);
            let dir = dir.canonicalize().ok().filter(|dir| dir.join("Cargo.toml").is_file());
            let dir = dir.ok_or_else(|| {
                Failure::input(vec![format!(
                    "--sdk-from {}: no crates/{name}/Cargo.toml there; give the root of a \
                     prefectctl source checkout",
                    checkout.display()
                )])
            })?;
            let dir = dir.to_str().ok_or_else(|| {
                Failure::input(vec![format!(
                    "--sdk-from {}: the path is not UTF-8",
                    checkout.display()
                )])
            })?;
            Ok(format!("{{ version = \"{SDK_REQUIREMENT}\", path = \"{}\" }}", toml_escape(dir)))
        };
        Ok(Dependencies {
            sdk: crate_dir("prefect-plugin-sdk")?,
            test: crate_dir("prefect-plugin-test")?,
        })
    }
}

/// `text` as the inside of a TOML basic string.
fn toml_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn fill(template: &str, name: &str, dependencies: &Dependencies) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{ident}}", &name.replace('-', "_"))
        .replace("{{type}}", &type_name(name))
        .replace("{{sdk}}", &dependencies.sdk)
        .replace("{{test}}", &dependencies.test)
}

/// `TeamLabels` for `team-labels`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect::<String>()
        })
        .collect()
}

fn next_steps(name: &str, dir: &Path) -> String {
    let ident = name.replace('-', "_");
    let mut text = format!("Created the plugin `{name}` in {}.\n\nNext:\n", dir.display());
    let _ = writeln!(text, "  cd {}", dir.display());
    let _ = writeln!(text, "  cargo test");
    let _ = writeln!(text, "  cargo build --release");
    let _ = writeln!(
        text,
        "  prefectctl --plugin ./target/release/libprefectctl_plugin_{ident}.so render"
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_host_would_refuse_or_rust_cannot_spell_are_refused() {
        assert_eq!(check_name("team-labels"), Ok(()));
        assert_eq!(check_name("s3"), Ok(()));
        assert!(check_name("Team").is_err());
        assert!(check_name("9lives").is_err());
        assert!(check_name("a--b").is_err());
        assert!(check_name("trailing-").is_err());
        assert!(check_name("global").is_err());
        assert!(check_name("with_underscore").is_err());
    }

    #[test]
    fn type_names_are_camel_case() {
        assert_eq!(type_name("team-labels"), "TeamLabels");
        assert_eq!(type_name("s3"), "S3");
    }

    #[test]
    fn the_requirement_matches_the_sdk_being_built() {
        let manifest = include_str!("../../prefect-plugin-sdk/Cargo.toml");
        let version = manifest.lines().find_map(|line| line.strip_prefix("version = \""));
        assert!(
            version.is_some_and(|v| v.starts_with(&format!("{SDK_REQUIREMENT}."))),
            "SDK_REQUIREMENT {SDK_REQUIREMENT} does not match the SDK's {version:?}"
        );
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dependencies = Dependencies { sdk: "\"0.1\"".into(), test: "\"0.1\"".into() };
        for (file, template) in FILES {
            let text = fill(template, "team-labels", &dependencies);
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
    }
}
