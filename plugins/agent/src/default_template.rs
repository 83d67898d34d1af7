//! The base job template a new work pool gets when the values give none: Prefect's default
//! for Kubernetes, with the release's namespace as the flow runs' namespace.
//!
//! Prefect's own default sends flow runs to namespace `default`, where the worker's Role (in
//! the release's namespace) allows nothing: every flow run of a release installed anywhere
//! else would fail to start. The template belongs to the prefect-kubernetes version in the
//! image, so it is not written here: an init container asks the image for it
//! (`prefect work-pool get-default-base-job-template`, which needs no API) and sets the
//! namespace's default, and the worker creates a missing pool with it
//! (`--base-job-template`). A pool that exists keeps its template, as Prefect would do.

/// The init container's name.
pub const NAME: &str = "default-base-job-template";

/// Where the template is written: the pod's `/tmp` emptyDir, which the worker mounts too.
pub const FILE: &str = "/tmp/prefectctl-base-job-template.json";

/// The namespace and the file are the arguments `$1` and `$2`, never part of the script.
const SCRIPT: &str = r#"prefect work-pool get-default-base-job-template --type kubernetes --file "$2" &&
python -c '
import json, sys
path, namespace = sys.argv[1], sys.argv[2]
with open(path) as f:
    template = json.load(f)
template["variables"]["properties"]["namespace"]["default"] = namespace
with open(path, "w") as f:
    json.dump(template, f)
' "$2" "$1" &&
echo "a new work pool runs its flows in namespace $1 (Prefect default template, $2)""#;

/// The init container's command: the script, with the namespace and the file as its
/// arguments.
pub fn command(namespace: &str) -> Vec<String> {
    ["/bin/sh", "-c", SCRIPT, NAME, namespace, FILE].map(str::to_owned).to_vec()
}
