//! The host side of the plugin boundary: where plugins are found ([`locate`]), how one is
//! loaded and checked ([`load`]), how it is called ([`Plugin::run`]), and what its file's
//! checksum is ([`checksum`]), and a plugin's turn in a release: request, lookups,
//! diagnostics and the graph ([`turn`]), and the graph written as `render` writes it
//! ([`yaml_stream`], [`write_yaml`]).
//!
//! This is the only crate that loads code into the process. A plugin is a library (an
//! abi_stable root module) or an executable that speaks the same JSON documents over standard
//! input and output. Loading a library checks, in order, before any plugin function runs: that
//! its ELF headers lie within the file (a file cut short would crash the dynamic loader), that
//! the file is an abi_stable library, that its root module's layout matches
//! [`prefect_plugin_abi::PluginModule`], and then (calling the plugin's first function) that it
//! speaks a protocol version this host speaks. A pinned checksum is checked before the file is
//! opened at all.
#![deny(unsafe_code)]

mod checksum;
mod elf;
mod error;
mod executable;
mod library;
mod load;
pub mod locate;
pub mod turn;
mod yaml;

pub use checksum::{checksum, stamp};

pub use error::{Error, Result, with_causes};
pub use load::{Plugin, is_plugin_name, load};
pub use locate::{Locator, PluginSpec, name_of_file};
pub use yaml::{WriteError, write_yaml, yaml_options, yaml_stream};
