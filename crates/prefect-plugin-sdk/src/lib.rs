//! Write plugins for `prefectctl`.
//!
//! A plugin is a Rust library that `prefectctl` loads at run time. It reads its own section of
//! the user's values and adds Kubernetes resources to the release's manifest graph, or changes
//! resources other plugins put there. This page walks through a complete plugin.
//!
//! # 1. The crate
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
//! # cdylib is what prefectctl loads; rlib lets `cargo test` run the plugin's own tests.
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! prefect-plugin-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
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
//! use prefect_plugin_sdk::schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// Values of the `hello` plugin.
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! #[serde(rename_all = "camelCase", default, deny_unknown_fields)]
//! #[schemars(crate = "prefect_plugin_sdk::schemars")]
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
//! `deny_unknown_fields` makes a misspelt key an error with a "did you mean" suggestion;
//! `default` lets users set only what they change. Mark a value that holds a secret (a
//! password, a token, a URL with credentials) with `#[schemars(extend("writeOnly" = true))]`:
//! prefectctl then never shows it in a message, and your own errors about it should not either.
//!
//! # 3. The plugin
//!
//! ```
//! # use prefect_plugin_sdk::schemars::JsonSchema;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Deserialize, Serialize, JsonSchema, Default)]
//! # #[schemars(crate = "prefect_plugin_sdk::schemars")]
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
//! [`Context::update_each`] and [`Context::update`] change resources others added, and the host
//! records which fields each plugin changed. [`Context::error`] reports an error and goes on, so
//! that a user sees every problem at once.
//!
//! # 4. Build and load it
//!
//! ```text
//! cargo build --release
//! prefectctl --plugin ./target/release/libprefectctl_plugin_hello.so render
//! ```
//!
//! or copy the library into a folder on `$PREFECTCTL_PLUGIN_PATH` (or `--plugin-dir`) and select
//! it by name: `prefectctl --plugin hello render`.
//!
//! # 5. Test it
//!
//! [`run_plugin`] runs a plugin in process on a [`wire::RunRequest`], exactly as the exported
//! function does minus the FFI boundary; assert on the items it returns.
//!
//! # Compatibility
//!
//! The library boundary is one abi_stable root module whose three functions exchange the JSON
//! documents of [`wire`]. The host checks the library's layout before it runs any of its code,
//! then the protocol version ([`PROTOCOL_VERSION`]); a host keeps speaking older protocol
//! versions, so a plugin keeps loading in later hosts.
#![deny(unsafe_code)]

mod context;
mod export;
pub mod labels;
mod plugin;
mod problems;
pub mod secrets;
pub mod security;
pub mod testing;
pub mod workload;

pub use context::{Context, Lookup};
pub use export::{plugin_manifest, run_plugin};
pub use plugin::{Error, Manifest, Plugin};
pub use prefect_plugin_abi::{PROTOCOL_VERSION, wire};
pub use problems::{Problems, join};

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
