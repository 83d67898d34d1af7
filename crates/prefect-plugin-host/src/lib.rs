//! The host side of the plugin boundary: where plugin libraries are found ([`locate`]), how one
//! is loaded and checked ([`load`]) and how it is called ([`Plugin::run`]).
//!
//! This is the only crate that loads code into the process. Loading checks, in order, before
//! any plugin function runs: that the file is an abi_stable library, that its root module's
//! layout matches [`prefect_plugin_abi::PluginModule`], and then (calling the plugin's first
//! function) that it speaks a protocol version this host speaks.
#![deny(unsafe_code)]

mod error;
mod load;
pub mod locate;

pub use error::{Error, Result};
pub use load::{Plugin, load};
pub use locate::{Locator, PluginSpec};
