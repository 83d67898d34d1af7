//! Write plugins for `prefectctl`.
//!
//! A plugin is a Rust library that `prefectctl` loads at run time. It reads its own section of
//! the user's values and adds Kubernetes resources to the release's manifest graph, or changes
//! resources other plugins put there. This page goes from an empty folder to a plugin that
//! `prefectctl` loads; `examples/network-policy` in the prefectctl repository is a complete one,
//! written the same way.
//!
//! # 1. Start the crate
//!
//! ```text
//! prefectctl plugins new hello
//! cd prefectctl-plugin-hello
//! cargo test
//! ```
//!
//! `plugins new` writes a crate that builds, passes its tests and loads: a plugin that adds a
//! ConfigMap and annotates the pods of other plugins' Deployments, to change into yours. The
//! rest of this page explains what is in it, so you can also write it by hand.
//!
//! The SDK's crates come with prefectctl, as sources: `share/prefectctl/crates` of an
//! installation (`cargo xtask install`) or of the release archive, `crates/` of a checkout.
//! `plugins new` finds them beside the `prefectctl` it runs, or where `--sdk-from DIR` says,
//! and names them in a `[patch.crates-io]` table of the new `Cargo.toml`; `cargo test` then
//! needs no registry to hold them.
//!
//! Plugins are named `prefectctl-plugin-<name>`; the host finds `--plugin <name>` as the library
//! file Cargo builds from that crate (`libprefectctl_plugin_<name>.so` on Linux).
//!
//! ```toml
//! [package]
//! name = "prefectctl-plugin-hello"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! # cdylib is what prefectctl loads; rlib lets the tests run the plugin in process.
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! prefect-plugin-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//!
//! [dev-dependencies]
//! prefect-plugin-test = "0.1"
//! ```
//!
//! Do not set `panic = "abort"` in the profile that builds plugins: the SDK turns a panic into
//! an error the host reports, which needs unwinding.
//!
//! # 2. Values
//!
//! The plugin's values are a struct. Its JSON Schema, generated from the type, is what the host
//! validates the user's `hello:` section against before any plugin runs; its doc comments are
//! what `prefectctl values --plugin hello` prints; its `Default` is the documented defaults.
//!
//! ```
//! use prefect_plugin_sdk::schemars::{self, JsonSchema};
//! use serde::{Deserialize, Serialize};
//!
//! /// Values of the `hello` plugin.
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! #[serde(rename_all = "camelCase", default, deny_unknown_fields)]
//! pub struct Values {
//!     /// The greeting stored in the ConfigMap.
//!     pub greeting: String,
//! }
//!
//! impl Default for Values {
//!     fn default() -> Self {
//!         Values { greeting: "hello".to_owned() }
//!     }
//! }
//! ```
//!
//! `JsonSchema`'s derive finds the SDK's schemars by the name `schemars` in the module that
//! uses it, which the `self` in the import puts there: the plugin needs no schemars of its own
//! (one of another version would not fit the SDK's `Plugin::Values` bound), and no
//! `#[schemars(crate = ...)]` on each type.
//!
//! `deny_unknown_fields` makes a misspelt key an error with a "did you mean" suggestion;
//! `default` lets users set only what they change. Mark a value that holds a secret (a
//! password, a token, a URL with credentials) with `#[schemars(extend("writeOnly" = true))]`:
//! prefectctl then never shows it in a message, and your own errors about it should not either.
//!
//! # 3. The plugin
//!
//! ```
//! # use prefect_plugin_sdk::schemars::{self, JsonSchema};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Deserialize, Serialize, JsonSchema, Default)]
//! # pub struct Values { pub greeting: String }
//! use std::collections::BTreeMap;
//!
//! use prefect_plugin_sdk::{
//!     Context, Error, Manifest, Plugin, export_plugin,
//!     k8s_openapi::api::core::v1::ConfigMap,
//! };
//!
//! pub struct Hello;
//!
//! impl Plugin for Hello {
//!     type Values = Values;
//!
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION"))
//!             .description("a ConfigMap with a greeting")
//!             .requires(&["server"])
//!     }
//!
//!     fn run(ctx: &mut Context, values: Values) -> Result<(), Error> {
//!         if values.greeting.is_empty() {
//!             return Err(Error::at("greeting", "must not be empty: set a greeting"));
//!         }
//!         let name = ctx.full_name("hello");
//!         ctx.add(ConfigMap {
//!             metadata: ctx.metadata(&name, "hello"),
//!             data: Some(BTreeMap::from([("greeting".to_owned(), values.greeting)])),
//!             ..ConfigMap::default()
//!         })
//!     }
//! }
//!
//! export_plugin!(Hello);
//! # fn main() {}
//! ```
//!
//! [`Context`] is the plugin's view of the run: the release name and namespace, the `global:`
//! values, which other plugins are in the stack, the cluster's capabilities, and the resources
//! that plugins which ran before put in the graph. [`Context::add`] adds a resource; adding one
//! that another plugin added is a conflict the host reports naming both plugins.
//! [`Context::add_as`] adds it in another version of its API group, for a cluster that does
//! not serve the one k8s-openapi writes (`policy/v1beta1` where `ctx.capabilities()` lacks
//! `policy/v1`).
//! [`Context::update_each`] and [`Context::update`] change resources others added
//! ([`Context::update_pod_templates`] the pods of every workload, wherever its kind keeps
//! them: [`pods`]), and the host
//! records which fields each plugin changed (`render` shows it: `# Source: added by server;
//! changed by hello (spec.replicas)`). [`Context::update`] writes back only what the closure
//! changed: fields its type does not model (a newer Kubernetes' fields) are kept, and a field
//! the closure clears (`None`) is removed. [`Context::remove`] takes a resource out of the
//! release (`render` ends with `# Removed: ConfigMap/prefect/x (added by server; removed by
//! hello)`).
//!
//! The context also holds what the run reports. [`Context::error`] and [`Context::warn`]
//! report a problem with the value at a path and go on, so that a user sees every problem at
//! once; any function given the context can report, so builders take `ctx` and nothing more.
//! [`Context::convert`] (and [`Context::list`], [`Context::map`]) turns what users write as a
//! Kubernetes object (`affinity`, `env`...) into its k8s-openapi type, and reports a wrong type,
//! a missing field and a misspelt key at their paths. [`Context::within`] reports paths relative
//! to a part of the values, for helpers that build a whole section's pods from a part of it.
//! A run that reports an error hands the host no resources: check [`Context::failed`] before
//! adding what depends on the values. Returning an `Err` from `run` reports it too.
//!
//! ```
//! use prefect_plugin_sdk::{
//!     Context, Error,
//!     k8s_openapi::api::core::v1::{Pod, PodSpec, Toleration},
//!     serde_json::Value,
//! };
//!
//! /// A Pod with the user's `tolerations` (Kubernetes objects, as JSON).
//! fn add_pod(ctx: &mut Context, tolerations: &[Value]) -> Result<(), Error> {
//!     // A misspelt key (`tolerations[1].efect`) is a warning, a wrong type
//!     // (`tolerations[0].tolerationSeconds`) an error; both name their path.
//!     let tolerations: Vec<Toleration> = ctx.list(tolerations, "tolerations");
//!     if ctx.failed() {
//!         return Ok(());
//!     }
//!     let name = ctx.full_name("hello");
//!     ctx.add(Pod {
//!         metadata: ctx.metadata(&name, "hello"),
//!         spec: Some(PodSpec { tolerations: Some(tolerations), ..PodSpec::default() }),
//!         ..Pod::default()
//!     })
//! }
//! ```
//!
//! A plugin that wires itself to the Prefect server (its database, a proxy, a policy) finds
//! the server's Deployment, container, port and settings by the names in [`contract`], which
//! the server plugin's own tests check its output against.
//!
//! [`Manifest::requires`] names plugins that must be in the stack (selecting yours selects
//! them); [`Manifest::after`] names plugins whose resources you want to see when they are in
//! the stack; [`Manifest::transformer`] runs your plugin after every plugin that adds
//! resources, for plugins that rewrite the whole release.
//!
//! A plugin that must read a live object (a password it generated on an earlier `apply`) asks
//! with [`Context::lookup`], typed (`ctx.lookup::<Secret>(&name)?`; [`Context::lookup_object`]
//! for kinds without a type): `render` answers [`Lookup::Unavailable`] (it never contacts a
//! cluster), `apply` and `diff` read the object and run the plugin again with it.
//!
//! # 4. Test it
//!
//! The `prefect-plugin-test` crate runs your plugin in process exactly as the host does: it
//! validates a values file against your schema (reporting problems as users see them, with
//! line numbers), sends the request and reads the response through JSON, and merges the result
//! into a manifest graph that checks every object. In `tests/plugin.rs`:
//!
//! ```text
//! use prefect_plugin_test::Host;
//! use prefectctl_plugin_hello::Hello;
//!
//! #[test]
//! fn the_greeting_is_stored() {
//!     let rendered = Host::new().values("hello:\n  greeting: hi\n").run::<Hello>().unwrap();
//!     assert_eq!(rendered.get("ConfigMap", "prefect-hello").unwrap()["data"]["greeting"], "hi");
//! }
//!
//! #[test]
//! fn a_misspelt_key_says_what_was_meant() {
//!     let failure = Host::new().values("hello:\n  greting: hi\n").run::<Hello>().unwrap_err();
//!     assert_eq!(
//!         failure.to_string(),
//!         "values.yaml:2: hello.greting: unknown key (did you mean `greeting`?)"
//!     );
//! }
//! ```
//!
//! `Host::with_resources` seeds the graph with what other plugins would have added, for a
//! plugin that changes them; `Host::live` answers lookups as a cluster would;
//! `Rendered::yaml` writes the output as `prefectctl render` does, for snapshot tests (with
//! `expect-test` or `insta`); `Rendered::added` and `Rendered::changed` are what the plugin
//! did to the graph.
//!
//! # 5. Build and load it
//!
//! ```text
//! cargo build --release
//! prefectctl --plugin ./target/release/libprefectctl_plugin_hello.so render
//! ```
//!
//! or copy the library into a plugin folder (`--plugin-dir DIR`, or one of
//! `$PREFECTCTL_PLUGIN_PATH`) and select it by name: `prefectctl --plugin hello render`. The
//! working directory is never searched. `prefectctl plugins list` shows every plugin found with
//! its path and the SHA-256 of its file; users can pin that checksum
//! (`--plugin-sha256 hello=HEX`, or `global.pluginSha256.hello` in their values), and prefectctl
//! then refuses any other file under that name.
//!
//! # Compatibility
//!
//! What the host promises a plugin built with this SDK:
//!
//! - The library boundary is one abi_stable root module of three functions that exchange the
//!   JSON documents of [`wire`]; it never grows. The host checks the library's layout before
//!   it runs any of the library's code, and refuses a library of another layout saying so.
//! - The documents carry a protocol version ([`PROTOCOL_VERSION`]). A plugin built for
//!   protocol N keeps loading in every later host that speaks N, and hosts keep speaking old
//!   versions (the prefectctl repository keeps a plugin written against protocol 1 as a test
//!   fixture, built and loaded in CI).
//! - Additive changes — a new optional field in a request, a new capability — keep the
//!   protocol version: a plugin ignores fields it does not know, and the host fills in the
//!   defaults of fields an older plugin does not send.
//! - A plugin built for a protocol the host does not speak fails to load with a message that
//!   says which versions each side speaks.
//!
//! # Plugins in other languages
//!
//! A plugin can also be an executable named `prefectctl-plugin-<name>`, in any language, that
//! speaks the same JSON documents: `prefectctl-plugin-<name> manifest` prints its
//! [`wire::PluginManifest`]; `prefectctl-plugin-<name> run` reads a [`wire::RunRequest`] on
//! standard input and prints a [`wire::RunResponse`]. `docs/plugins.md` in the prefectctl
//! repository describes the documents, and `examples/team-labels` is such a plugin in Python.
#![deny(unsafe_code)]

mod context;
pub mod contract;
mod export;
pub mod labels;
mod plugin;
pub mod pods;
pub mod secrets;
pub mod security;
pub mod workload;

pub use context::{Context, Lookup, join};
pub use export::{manifest_json, plugin_manifest, run_plugin};
pub use plugin::{Error, Manifest, Plugin};
pub use prefect_plugin_abi::{PROTOCOL_VERSION, wire};

pub use k8s_openapi;
pub use schemars;
pub use serde_json;

#[doc(hidden)]
pub mod __private {
    pub use crate::export::lib_header;
    pub use abi_stable::library::LibHeader;
}

/// Exports a [`Plugin`] as the library's root module, which is what `prefectctl` loads.
///
/// Use it once per plugin crate, at the crate root: `export_plugin!(MyPlugin);`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // The symbol abi_stable looks up in a library (`abi_stable::library::ROOT_MODULE_LOADER_NAME`).
        #[doc(hidden)]
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static __PREFECTCTL_PLUGIN_ROOT_MODULE: $crate::__private::LibHeader =
            $crate::__private::lib_header::<$plugin>();
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_macro_uses_the_symbol_abi_stable_loads() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
