//! OpenShift's `restricted-v2` SecurityContextConstraints, as their admission leaves a pod in
//! a project: every container without a `runAsUser` runs as the first uid of the project's
//! range (`openshift.io/sa.scc.uid-range`), and the pod without an `fsGroup` gets the first of
//! its supplemental groups (`openshift.io/sa.scc.supplemental-groups`). On OpenShift the
//! admission writes them into the pod when it is created; this API server has no such
//! admission, so the stand-in applies them to its copy of the pod of a namespace that carries
//! the annotations, before running it. Other namespaces are left alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSecurityContext, SecurityContext};

/// The annotation with the project's uid range, `<first>/<size>`.
pub const UID_RANGE: &str = "openshift.io/sa.scc.uid-range";
/// The annotation with the project's supplemental groups, `<first>/<size>`.
pub const GROUPS: &str = "openshift.io/sa.scc.supplemental-groups";

/// `pod` as restricted-v2 admits it in a namespace with `annotations`.
pub fn admit(mut pod: Pod, annotations: &BTreeMap<String, String>) -> Pod {
    let first =
        |key: &str| -> Option<i64> { annotations.get(key)?.split(['/', '-']).next()?.parse().ok() };
    let (Some(uid), group) = (first(UID_RANGE), first(GROUPS)) else { return pod };
    let Some(spec) = pod.spec.as_mut() else { return pod };
    let context = spec.security_context.get_or_insert_with(PodSecurityContext::default);
    if context.fs_group.is_none() {
        context.fs_group = group.or(Some(uid));
    }
    let containers = spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten());
    for container in containers {
        let context = container.security_context.get_or_insert_with(SecurityContext::default);
        if context.run_as_user.is_none() {
            context.run_as_user = Some(uid);
        }
    }
    pod
}
