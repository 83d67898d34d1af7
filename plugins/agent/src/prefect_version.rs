//! Which Prefect release the worker runs, and whether the API it is wired to can serve it.
//!
//! `prefect agent start` exists in Prefect 2 only, and a Prefect 2 client cannot use a Prefect 3
//! server (creating a deployment fails with 422): the server plugin of this stack runs
//! Prefect 3 only, so a Prefect 2 agent or worker is refused there. Against a server elsewhere
//! or Prefect Cloud the release is the user's to match.

use prefect_plugin_sdk::Context;

use crate::values::{Mode, Values};

/// Where the worker's image tag comes from.
pub enum Tag<'a> {
    /// `agent.image.prefectTag`.
    Own(&'a str),
    /// Derived from `global.prefect.image.prefectTag`.
    Global(&'a str),
}

/// Where a Prefect 2 `client` can go instead of the stack's server.
fn elsewhere(client: &str) -> String {
    format!(
        "point the {client} at a Prefect 2 server (serverApiConfig.apiUrl, with --without \
         server) or at Prefect Cloud (apiConfig: cloud)"
    )
}

/// Reports a Prefect release that cannot work: an agent without a Prefect 2 image, and a
/// Prefect 2 agent or worker wired to the stack's server.
pub fn check(ctx: &Context, values: &Values, tag: Tag, stack_server: bool) {
    match values.mode {
        Mode::Agent => {
            let prefect_2_named = matches!(tag, Tag::Own(own) if !own.starts_with('3'));
            if !prefect_2_named {
                ctx.error(
                    "image.prefectTag",
                    "agent mode runs Prefect 2's `prefect agent start`, which Prefect 3 removed: \
                     set a Prefect 2 image tag, such as 2.20.27-python3.11-kubernetes, or use \
                     mode: worker",
                );
            }
            if stack_server {
                ctx.error(
                    "mode",
                    format!(
                        "a Prefect 2 agent cannot talk to the Prefect 3 server of this stack (the \
                         server plugin runs Prefect 3 only): use mode: worker with a Prefect 3 \
                         image, or {}",
                        elsewhere("agent")
                    ),
                );
            }
        }
        Mode::Worker if stack_server => {
            let (tag, origin, instead) = match tag {
                Tag::Own(tag) => {
                    (tag, "", "in agent.image.prefectTag, or leave it empty for the global one")
                }
                Tag::Global(tag) => (
                    tag,
                    " (from global.prefect.image.prefectTag)",
                    "in global.prefect.image.prefectTag or agent.image.prefectTag",
                ),
            };
            if is_prefect_2(tag) {
                ctx.error(
                    "image.prefectTag",
                    format!(
                        "the worker's image tag {tag}{origin} is Prefect 2, which cannot talk to \
                         the Prefect 3 server of this stack (the server plugin runs Prefect 3 \
                         only): set a Prefect 3 tag {instead}; or {}",
                        elsewhere("worker")
                    ),
                );
            }
        }
        Mode::Worker => {}
    }
}

/// Whether an image tag names a Prefect 2 release (`2`, `2.20.27-python3.11`, `2-python3.11`).
fn is_prefect_2(tag: &str) -> bool {
    tag == "2" || tag.starts_with("2.") || tag.starts_with("2-")
}
