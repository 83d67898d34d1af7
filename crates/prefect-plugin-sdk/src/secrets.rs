//! Credentials a plugin makes itself, such as a database password: generated from the
//! operating system's cryptographic random source, and read back from the live Secret on later
//! applies (see [`Context::lookup`](crate::Context::lookup)) so that they never change.
//!
//! [`password`] decides where a component's password comes from, in the order users of Helm
//! charts expect: the user's own Secret (`auth.existingSecret`), a fixed password
//! (`auth.password`, put in the release's Secret), or else one generated on the first apply
//! and kept on every later one. [`KeptPassword::secret`] is the Secret the plugin adds:
//!
//! ```
//! use prefect_plugin_sdk::{Context, Error, secrets::{self, PasswordValues}};
//!
//! /// Adds the Secret of component `cache`; its pods read the password from `password.secret`,
//! /// key `password.key`.
//! fn credentials(ctx: &mut Context, fixed: &str, existing: &str) -> Result<(), Error> {
//!     let values = PasswordValues {
//!         password: fixed,
//!         existing_secret: existing,
//!         key: "password",
//!         ..PasswordValues::default()
//!     };
//!     let password = secrets::password(ctx, "cache", &values)?;
//!     if ctx.failed() {
//!         return Ok(());
//!     }
//!     if let Some(secret) = password.secret(ctx, "cache") {
//!         ctx.add(secret)?;
//!     }
//!     Ok(())
//! }
//! ```

use std::collections::BTreeMap;

use k8s_openapi::{ByteString, api::core::v1::Secret};

use crate::{Context, Error, Lookup, labels::DATA_ANNOTATION};

/// Length of the passwords [`password`] generates (letters and digits: about 190 bits).
pub const GENERATED_LENGTH: usize = 32;

/// What users set about a component's password, and where in the plugin's values they set it,
/// so that messages name the right values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordValues<'a> {
    /// A fixed password; empty for none.
    pub password: &'a str,
    /// The user's own Secret that holds the password; empty for none (the plugin makes one).
    pub existing_secret: &'a str,
    /// The key of the password in the Secret, the user's or the plugin's.
    pub key: &'a str,
    /// Where `password` is in the plugin's values: `auth.password` by default.
    pub password_path: &'a str,
    /// Where `existing_secret` is: `auth.existingSecret` by default.
    pub existing_secret_path: &'a str,
    /// Where `key` is, such as `auth.existingSecretPasswordKey` (the default) or
    /// `auth.secretKeys.userPasswordKey`.
    pub key_path: &'a str,
    /// What it means that the live Secret has lost the key, and what to do, which follows
    /// "the Secret NAME in the cluster has no key `KEY`, " in the error; such as "so the
    /// password the database was created with is unknown: put it back under that key, or set
    /// auth.existingSecret to the Secret that holds it".
    pub lost_key: &'a str,
}

impl Default for PasswordValues<'_> {
    fn default() -> Self {
        PasswordValues {
            password: "",
            existing_secret: "",
            key: "",
            password_path: "auth.password",
            existing_secret_path: "auth.existingSecret",
            key_path: "auth.existingSecretPasswordKey",
            lost_key: "so the password is unknown: put it back under that key",
        }
    }
}

/// A component's password: the Secret and key its pods read it from, and whether the plugin
/// makes that Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPassword {
    /// The Secret's name: the user's (`existingSecret`) or `<release>-<component>`.
    pub secret: String,
    /// The key that holds the password.
    pub key: String,
    /// Where the password comes from.
    pub source: PasswordSource,
}

/// Where a [`KeptPassword`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The user's own Secret: the plugin makes none.
    Existing,
    /// The fixed password of the values, which the plugin puts in its Secret.
    Fixed(Vec<u8>),
    /// The password an earlier apply generated, read back from the live Secret.
    Kept(Vec<u8>),
    /// A password generated now, for a first install.
    Generated(Vec<u8>),
    /// Not known in this run: while applying, the host reads the live Secret and runs the
    /// plugin again; `render` leaves the Secret out (and [`password`] warns so).
    Deferred,
}

impl KeptPassword {
    /// The password the plugin puts in its Secret, when it makes one in this run.
    pub fn value(&self) -> Option<&[u8]> {
        match &self.source {
            PasswordSource::Fixed(value)
            | PasswordSource::Kept(value)
            | PasswordSource::Generated(value) => Some(value),
            PasswordSource::Existing | PasswordSource::Deferred => None,
        }
    }

    /// The Secret to add, if the plugin makes one in this run: `<release>-<component>`, with
    /// the password under the key, annotated [`DATA_ANNOTATION`]: `uninstall` keeps it with
    /// the data, so that a reinstall on kept claims finds the password that matches them.
    pub fn secret(&self, ctx: &Context, component: &str) -> Option<Secret> {
        let value = self.value()?;
        let mut metadata = ctx.metadata(&self.secret, component);
        metadata.annotations =
            Some(BTreeMap::from([(DATA_ANNOTATION.to_owned(), "true".to_owned())]));
        Some(Secret {
            metadata,
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(self.key.clone(), ByteString(value.to_vec()))])),
            ..Secret::default()
        })
    }
}

/// The password of `component`, from `values`: the user's Secret, else the fixed password,
/// else one generated once and kept. For the last, the plugin's own Secret
/// (`<release>-<component>`) is looked up with [`Context::lookup`]: found, its password is
/// kept (an error when the key is missing: a new password would lock the clients out of the
/// data); absent, a new one is generated; while rendering, the Secret is left out, with a
/// warning that says how to deploy the output without prefectctl.
///
/// Problems with the values are reported to `ctx`, with their paths; the password itself is
/// never in a message.
pub fn password(
    ctx: &mut Context,
    component: &str,
    values: &PasswordValues,
) -> Result<KeptPassword, Error> {
    let key = values.key.to_owned();
    if key.is_empty() {
        ctx.error(values.key_path, "name the key that holds the password");
    }
    if !values.existing_secret.is_empty() {
        if !values.password.is_empty() {
            let password = last_name(values.password_path);
            let existing = last_name(values.existing_secret_path);
            ctx.error(
                values.password_path,
                format!(
                    "set either {password} or {existing}, not both: keep {existing} so that \
                     the password stays out of your values"
                ),
            );
        }
        return Ok(KeptPassword {
            secret: values.existing_secret.to_owned(),
            key,
            source: PasswordSource::Existing,
        });
    }
    let secret = ctx.full_name(component);
    if !values.password.is_empty() {
        let source = PasswordSource::Fixed(values.password.as_bytes().to_vec());
        return Ok(KeptPassword { secret, key, source });
    }
    let source = match ctx.lookup::<Secret>(&secret)? {
        Lookup::Found(live) => PasswordSource::Kept(kept(&live, &secret, &key, values)?),
        Lookup::Absent => {
            PasswordSource::Generated(generate_password(GENERATED_LENGTH)?.into_bytes())
        }
        Lookup::Pending => PasswordSource::Deferred,
        Lookup::Unavailable => {
            ctx.warn(
                values.password_path,
                format!(
                    "the Secret {secret} is left out of this output: `prefectctl apply` generates \
                     its password once and keeps it on every upgrade, which `render` cannot do \
                     without reading the cluster; to deploy this output with another tool, set \
                     {} (or {})",
                    values.existing_secret_path, values.password_path
                ),
            );
            PasswordSource::Deferred
        }
    };
    Ok(KeptPassword { secret, key, source })
}

/// The password in the live Secret `live`, which an earlier apply generated.
fn kept(live: &Secret, secret: &str, key: &str, values: &PasswordValues) -> Result<Vec<u8>, Error> {
    let password = live.data.as_ref().and_then(|data| data.get(key)).map(|bytes| &bytes.0);
    match password {
        Some(password) if !password.is_empty() => Ok(password.clone()),
        _ => Err(Error::at(
            values.key_path,
            format!("the Secret {secret} in the cluster has no key `{key}`, {}", values.lost_key),
        )),
    }
}

/// The last name of a value path: `password` of `auth.password`.
fn last_name(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The characters of generated passwords: letters and digits, which need no quoting in URLs,
/// shells or YAML.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A password of `length` letters and digits from the OS's random source (about 5.95 bits of
/// entropy a character: 32 characters give 190 bits).
pub fn generate_password(length: usize) -> Result<String, Error> {
    // Rejection sampling: only bytes below the largest multiple of the alphabet's size are
    // used, so that every character is equally likely.
    let limit = u8::MAX - (u8::MAX % ALPHABET.len() as u8);
    let mut password = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while password.len() < length {
        getrandom::fill(&mut buffer).map_err(|err| {
            Error::new(format!("the operating system's random source failed: {err}"))
        })?;
        for &byte in &buffer {
            if byte < limit && password.len() < length {
                password.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        PROTOCOL_VERSION,
        wire::{
            self, GlobalValues, LookupResult, Lookups, ObjectRef, Release, RunRequest, Severity,
        },
    };

    /// A run of release `prefect` with `lookups` (`None`: rendering, nothing is read).
    fn context(lookups: Option<Vec<LookupResult>>) -> Context {
        Context::new(RunRequest {
            api_version: wire::API_VERSION.to_owned(),
            kind: wire::RESOURCE_LIST.to_owned(),
            protocol_version: PROTOCOL_VERSION,
            release: Release { name: "prefect".to_owned(), namespace: "prefect".to_owned() },
            values: serde_json::Value::Null,
            global: GlobalValues::default(),
            plugins: vec!["cache".to_owned()],
            capabilities: wire::Capabilities {
                kube_version: "1.33.0".to_owned(),
                api_versions: vec!["v1".to_owned()],
            },
            items: Vec::new(),
            lookups: Lookups { available: lookups.is_some(), results: lookups.unwrap_or_default() },
        })
    }

    /// A plugin whose values are laid out differently from the defaults' `auth.*`.
    fn values<'a>(password: &'a str, existing_secret: &'a str) -> PasswordValues<'a> {
        PasswordValues {
            password,
            existing_secret,
            key: "pw",
            password_path: "credentials.fixed",
            existing_secret_path: "credentials.secretName",
            key_path: "credentials.key",
            lost_key: "so nobody knows it",
        }
    }

    fn live_secret(data: serde_json::Value) -> Vec<LookupResult> {
        let reference = ObjectRef {
            api_version: "v1".to_owned(),
            kind: "Secret".to_owned(),
            namespace: Some("prefect".to_owned()),
            name: "prefect-cache".to_owned(),
        };
        vec![LookupResult { reference, object: Some(json!({ "data": data })) }]
    }

    #[test]
    fn messages_name_the_plugins_own_values() {
        let mut ctx = context(None);
        let both = password(&mut ctx, "cache", &values("x", "mine"));
        assert_eq!(both.unwrap().source, PasswordSource::Existing);
        let diagnostics = &ctx.diagnostics.borrow().list;
        assert_eq!(diagnostics[0].severity, Severity::Error);
        assert_eq!(diagnostics[0].path.as_deref(), Some("credentials.fixed"));
        assert_eq!(
            diagnostics[0].message,
            "set either fixed or secretName, not both: keep secretName so that the password \
             stays out of your values"
        );

        let mut ctx = context(None);
        let render = password(&mut ctx, "cache", &values("", ""));
        assert_eq!(render.unwrap().source, PasswordSource::Deferred);
        let diagnostics = &ctx.diagnostics.borrow().list;
        assert_eq!(diagnostics[0].severity, Severity::Warning);
        assert_eq!(diagnostics[0].path.as_deref(), Some("credentials.fixed"));
        let message = &diagnostics[0].message;
        assert!(message.starts_with("the Secret prefect-cache is left out"), "{message}");
        assert!(
            message.ends_with("set credentials.secretName (or credentials.fixed)"),
            "{message}"
        );

        let lost = password(&mut context(Some(live_secret(json!({})))), "cache", &values("", ""))
            .unwrap_err();
        assert_eq!(lost.path.as_deref(), Some("credentials.key"));
        assert_eq!(
            lost.message,
            "the Secret prefect-cache in the cluster has no key `pw`, so nobody knows it"
        );
    }

    #[test]
    fn a_live_password_is_kept_and_put_back_in_the_secret() {
        let mut ctx = context(Some(live_secret(json!({ "pw": "a2VwdA==" }))));
        let kept = password(&mut ctx, "cache", &values("", "")).unwrap();
        assert_eq!(kept.source, PasswordSource::Kept(b"kept".to_vec()));
        let secret = kept.secret(&ctx, "cache").unwrap();
        assert_eq!(secret.metadata.name.as_deref(), Some("prefect-cache"));
        assert_eq!(secret.data.unwrap()["pw"].0, b"kept");
        assert_eq!(ctx.diagnostics.borrow().list, []);
    }

    #[test]
    fn passwords_are_long_alphanumeric_and_different() {
        let a = generate_password(32).unwrap();
        let b = generate_password(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
        // Over many characters, every one of the 62 shows up.
        let many = generate_password(62 * 200).unwrap();
        for c in ALPHABET {
            assert!(many.as_bytes().contains(c), "{} never drawn", *c as char);
        }
    }
}
