//! `cargo xtask ci`: the whole check, in the order that fails fastest.

use crate::sh;

pub fn run() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    sh(&cargo, &["fmt", "--all", "--", "--check"])?;
    sh(&cargo, &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // The integration tests load the plugin libraries: build them before the tests run.
    sh(&cargo, &["build", "--workspace"])?;
    // The cluster tests start a real kube-apiserver; building it the first time takes about ten
    // minutes, better spent here than hidden inside one test.
    let k8s = crate::workspace().join("../shared/k8s/build.sh");
    sh("bash", &[k8s.to_str().ok_or("the workspace path is not UTF-8")?])?;
    sh(&cargo, &["test", "--workspace"])
}
