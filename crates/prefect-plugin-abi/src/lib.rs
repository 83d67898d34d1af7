//! The stable boundary between the `prefectctl` host and its plugins.
//!
//! The boundary is deliberately narrow: a plugin library exports one abi_stable root module,
//! [`PluginModule`], with three functions that exchange JSON text. Everything a plugin and the
//! host tell each other travels in the versioned documents of [`wire`], so new features are new
//! JSON fields and the root module's layout never has to grow (growing it is what breaks older
//! plugin builds).
//!
//! Two versions guard the boundary, and they are separate on purpose:
//! - abi_stable checks the *layout* of [`PluginModule`] and this crate's major version when a
//!   library is loaded, before any plugin code runs;
//! - [`PROTOCOL_VERSION`] versions the JSON documents; the host checks it right after loading and
//!   says which versions each side speaks when they differ.
//!
//! This crate does no I/O and holds no logic: only the shapes both sides agree on.
#![forbid(unsafe_code)]

pub mod wire;

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RStr, RString},
};

/// The version of the JSON documents in [`wire`] that this build of the crate speaks.
///
/// Additive changes (a new optional field) keep the number; anything a plugin built for an
/// older version could misread gets a new number, and the host keeps speaking the old ones.
pub const PROTOCOL_VERSION: u32 = 1;

/// The oldest protocol version a host built from this crate still speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// The root module every plugin library exports.
///
/// Each function is implemented by the plugin SDK, which catches panics inside the plugin: a
/// panic must never unwind across this boundary.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// The protocol version the plugin speaks; checked before anything else is called.
    pub protocol_version: extern "C" fn() -> u32,
    /// The plugin's [`wire::PluginManifest`], as JSON.
    pub manifest: extern "C" fn() -> RString,
    /// Runs the plugin on a [`wire::RunRequest`] (JSON) and returns a [`wire::RunResponse`]
    /// (JSON).
    #[sabi(last_prefix_field)]
    pub run: extern "C" fn(request: RStr<'_>) -> RString,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "prefectctl_plugin";
    const NAME: &'static str = "prefectctl plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The file name a plugin called `name` has in a plugin folder on this platform, e.g.
/// `libprefectctl_plugin_dask_rbac.so` for `dask-rbac` on Linux.
///
/// Plugin crates are named `prefectctl-plugin-<name>`, so Cargo builds exactly this file.
pub fn library_file_name(name: &str) -> String {
    let stem = format!("prefectctl_plugin_{}", name.replace('-', "_"));
    format!("{}{stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}
