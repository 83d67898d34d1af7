//! `plugins new NAME`: a plugin crate that builds, passes its tests and loads, to start from.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use crate::failure::Failure;

mod sdk;

use sdk::SdkSources;

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
    /// Where to take the SDK crates from (a prefectctl checkout or a folder of crates) instead
    /// of the sources installed with prefectctl.
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
    let exe = std::env::current_exe().ok();
    let sources = SdkSources::find(request.sdk_from, exe.as_deref())?;
    let patch = sources.as_ref().map(SdkSources::patch_table).transpose()?.unwrap_or_default();
    let fill = |template: &str| fill(template, request.name, &patch);
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
    Ok(next_steps(request.name, &dir, sources.as_ref()))
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

/// `template` for the plugin `name`; `patch` is the manifest's `[patch.crates-io]` table, or
/// empty.
fn fill(template: &str, name: &str, patch: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{ident}}", &name.replace('-', "_"))
        .replace("{{type}}", &type_name(name))
        .replace("{{sdk}}", SDK_REQUIREMENT)
        .replace("{{patch}}", patch)
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

fn next_steps(name: &str, dir: &Path, sources: Option<&SdkSources>) -> String {
    let ident = name.replace('-', "_");
    let mut text = format!("Created the plugin `{name}` in {}.\n", dir.display());
    match sources {
        Some(sources) => {
            let _ = writeln!(text, "It takes the SDK from {}.", sources.dir.display());
        }
        None => {
            let _ = writeln!(
                text,
                "It asks crates.io for the SDK: no SDK sources were found beside prefectctl; \
                 give a prefectctl checkout with --sdk-from DIR to use its crates instead."
            );
        }
    }
    text.push_str("\nNext:\n");
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
        for (file, template) in FILES {
            let text = fill(template, "team-labels", "");
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
    }
}
