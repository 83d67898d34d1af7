//! The glue [`export_plugin!`](crate::export_plugin) expands to: the root module's functions,
//! each of which catches panics so that none unwinds into the host.

use std::{
    cell::RefCell,
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

use abi_stable::{
    library::{CheckTypeLayout, LibHeader, RootModuleResult},
    prefix_type::PrefixTypeTrait,
    std_types::{RStr, RString},
};
use prefect_plugin_abi::{
    PROTOCOL_VERSION, PluginModule, PluginModuleRef,
    wire::{self, Diagnostic, PluginManifest, RunRequest, RunResponse, Severity},
};
use serde_json::{Value, json};

use crate::{Context, Plugin};

/// The header abi_stable looks for in a plugin library; what `export_plugin!` exports.
pub const fn lib_header<P: Plugin>() -> LibHeader {
    // SAFETY: `root_module::<P>` returns the `PluginModuleRef` the type parameter names, which
    // is what `from_constructor` requires.
    #[allow(unsafe_code)]
    unsafe {
        LibHeader::from_constructor::<PluginModuleRef>(root_module::<P>, CheckTypeLayout::Yes)
    }
}

extern "C" fn root_module<P: Plugin>() -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(module::<P>)
}

fn module<P: Plugin>() -> PluginModuleRef {
    PluginModule { protocol_version, manifest: manifest::<P>, run: run::<P> }.leak_into_prefix()
}

extern "C" fn protocol_version() -> u32 {
    PROTOCOL_VERSION
}

extern "C" fn manifest<P: Plugin>() -> RString {
    quiet_panics();
    let json = match guarded(manifest_text::<P>) {
        Ok(Ok(text)) => text,
        Ok(Err(message)) | Err(message) => json!({ "error": message }).to_string(),
    };
    RString::from(json)
}

/// The manifest the library hands the host: the prebuilt text when the plugin keeps one
/// (checked against the code in debug builds), else built now.
fn manifest_text<P: Plugin>() -> Result<String, String> {
    let Some(prebuilt) = P::prebuilt_manifest() else {
        return serde_json::to_string(&plugin_manifest::<P>()).map_err(|err| err.to_string());
    };
    if cfg!(debug_assertions) {
        let kept = serde_json::from_str::<Value>(prebuilt);
        let built = serde_json::to_value(plugin_manifest::<P>());
        if !matches!((kept, built), (Ok(kept), Ok(built)) if kept == built) {
            return Err(
                "its prebuilt manifest (`Plugin::prebuilt_manifest`) is not what its code \
                        builds: rewrite the file with `UPDATE_EXPECT=1 cargo test` in the plugin's \
                        crate (see `prefect_plugin_sdk::manifest_json`)"
                    .to_owned(),
            );
        }
    }
    Ok(prebuilt.to_owned())
}

/// The manifest of `P` as the JSON text a prebuilt manifest holds (see
/// [`Plugin::prebuilt_manifest`]): [`plugin_manifest`], indented, with a final newline.
pub fn manifest_json<P: Plugin>() -> String {
    let mut text = serde_json::to_string_pretty(&plugin_manifest::<P>())
        .expect("a manifest is plain JSON data");
    text.push('\n');
    text
}

extern "C" fn run<P: Plugin>(request: RStr<'_>) -> RString {
    quiet_panics();
    let response = match guarded(|| run_json::<P>(request.as_str())) {
        Ok(response) => response,
        Err(message) => error_response(message, None),
    };
    RString::from(serde_json::to_string(&response).unwrap_or_default())
}

/// The manifest of `P`, with its values schema and defaults: what the exported `manifest`
/// function returns, as a value.
pub fn plugin_manifest<P: Plugin>() -> PluginManifest {
    let manifest = P::manifest();
    PluginManifest {
        name: manifest.name,
        version: manifest.version,
        protocol_version: PROTOCOL_VERSION,
        description: manifest.description,
        requires: manifest.requires,
        after: manifest.after,
        kind: manifest.kind,
        values_schema: wire::values_schema_with_defaults::<P::Values>(),
        values_defaults: serde_json::to_value(P::Values::default()).unwrap_or(Value::Null),
        reads: manifest.reads,
    }
}

fn run_json<P: Plugin>(request: &str) -> RunResponse {
    match serde_json::from_str::<RunRequest>(request) {
        Ok(request) => run_plugin::<P>(request),
        Err(err) => {
            error_response(format!("the host sent a request this plugin cannot read: {err}"), None)
        }
    }
}

/// Runs `P` on a request, in process: what the exported `run` function does, without the FFI
/// boundary (but with panics caught, as there). Plugin tests call it.
pub fn run_plugin<P: Plugin>(request: RunRequest) -> RunResponse {
    let values = request.values.clone();
    let mut ctx = Context::new(request);
    let outcome = guarded(AssertUnwindSafe(|| {
        let values: P::Values = serde_path_to_error::deserialize(values).map_err(|err| {
            let path = err.path().to_string();
            crate::Error::at(path, err.into_inner().to_string())
        })?;
        P::run(&mut ctx, values)
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => ctx.record_error(error),
        Err(panic) => return error_response(panic, None),
    }
    if !ctx.pending.is_empty() {
        // The host reads these and runs the plugin again; what this round built is moot.
        return RunResponse {
            api_version: wire::API_VERSION.to_owned(),
            kind: wire::RESOURCE_LIST.to_owned(),
            lookups: std::mem::take(&mut ctx.pending),
            ..RunResponse::default()
        };
    }
    // A run that failed hands over no resources: half of a plugin's work never reaches the
    // graph.
    if ctx.failed() {
        ctx.added.clear();
        ctx.changed.clear();
        ctx.removed.clear();
    }
    // Warnings before errors, each in the order reported: the order plugins built with
    // earlier SDKs send (they reported a run's warnings, then its errors, at the end).
    let mut results = std::mem::take(&mut ctx.diagnostics.get_mut().list);
    results.sort_by_key(|result| result.severity == Severity::Error);
    RunResponse {
        api_version: wire::API_VERSION.to_owned(),
        kind: wire::RESOURCE_LIST.to_owned(),
        changed: ctx.changed_items(),
        items: std::mem::take(&mut ctx.added),
        removed: std::mem::take(&mut ctx.removed),
        results,
        lookups: Vec::new(),
    }
}

fn error_response(message: String, path: Option<String>) -> RunResponse {
    RunResponse {
        api_version: wire::API_VERSION.to_owned(),
        kind: wire::RESOURCE_LIST.to_owned(),
        results: vec![Diagnostic { severity: Severity::Error, message, path }],
        ..RunResponse::default()
    }
}

thread_local! {
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook of the plugin library's own copy of std (a cdylib links its own), so
/// that a panic is reported once, by the host, as an error naming the plugin, instead of also
/// being printed by the plugin. Only the exported functions call it: in-process callers such as
/// tests keep their hook.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
        }));
    });
}

/// Runs `f`, turning a panic into `Err("panicked at FILE:LINE: MESSAGE")`.
fn guarded<T>(f: impl FnOnce() -> T + panic::UnwindSafe) -> Result<T, String> {
    panic::catch_unwind(f).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        match PANIC_LOCATION.with(|slot| slot.borrow_mut().take()) {
            Some(location) => format!("panicked at {location}: {message}"),
            None => format!("panicked: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::{Error, Manifest};

    #[derive(Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct Values {
        /// How many.
        replicas: u32,
    }

    /// A plugin that keeps a prebuilt manifest: the current one, or a stale one (another name).
    struct Kept<const STALE: bool>;

    static CURRENT: OnceLock<String> = OnceLock::new();
    static STALE: OnceLock<String> = OnceLock::new();

    impl<const STALE_TEXT: bool> Plugin for Kept<STALE_TEXT> {
        type Values = Values;

        fn manifest() -> Manifest {
            Manifest::new("kept", "1.0.0")
        }

        fn run(_: &mut Context, _: Values) -> Result<(), Error> {
            Ok(())
        }

        fn prebuilt_manifest() -> Option<&'static str> {
            let current = || manifest_json::<Kept<false>>();
            Some(if STALE_TEXT {
                STALE.get_or_init(|| current().replace("\"kept\"", "\"renamed\""))
            } else {
                CURRENT.get_or_init(current)
            })
        }
    }

    fn loaded<P: Plugin>() -> Value {
        serde_json::from_str(manifest::<P>().as_str()).unwrap()
    }

    #[test]
    fn a_current_prebuilt_manifest_is_what_the_library_hands_over() {
        let text = manifest_json::<Kept<false>>();
        assert!(text.ends_with("}\n") && text.contains("\"replicas\""), "{text}");
        assert_eq!(
            loaded::<Kept<false>>(),
            serde_json::to_value(plugin_manifest::<Kept<false>>()).unwrap()
        );
    }

    #[test]
    fn a_stale_prebuilt_manifest_fails_to_load_in_a_debug_build() {
        let answer = loaded::<Kept<true>>();
        if cfg!(debug_assertions) {
            let error = answer["error"].as_str().unwrap();
            assert!(error.contains("UPDATE_EXPECT=1 cargo test"), "{error}");
        } else {
            assert_eq!(answer["name"], "renamed", "release builds trust the kept text");
        }
    }
}
