//! The Secrets the plugin creates: the basic-auth string and the database connection URL,
//! when the user gives them inline rather than naming Secrets of their own (and the Redis
//! password and Docket URL, in [`crate::messaging`]).
//!
//! The container reads both through `secretKeyRef`, so neither ever appears in the Deployment.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context,
    k8s_openapi::{ByteString, api::core::v1::Secret},
};

use crate::{
    COMPONENT,
    database::{self, Database},
    values::BasicAuth,
};

/// The key that holds the basic-auth string, in the plugin's Secret and in `existingSecret`
/// (as in the prefect-server chart).
pub const AUTH_STRING_KEY: &str = "auth-string";

/// A key of a Secret that an environment variable reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    /// The Secret's name.
    pub name: String,
    /// The key.
    pub key: String,
}

/// Where the basic-auth string comes from, and the Secret to create for an inline one.
pub fn basic_auth(ctx: &Context, values: &BasicAuth) -> (Option<SecretKey>, Option<Secret>) {
    if !values.enabled {
        return (None, None);
    }
    let inline = !values.auth_string.is_empty();
    let existing = !values.existing_secret.is_empty();
    match (inline, existing) {
        (false, false) => ctx.error(
            "basicAuth",
            "basic auth is enabled without credentials: set existingSecret (a Secret with the key \
             `auth-string`) or authString",
        ),
        (true, true) => ctx.error(
            "basicAuth.existingSecret",
            "set either authString or existingSecret, not both: keep existingSecret so that the \
             password stays out of your values",
        ),
        (true, false) if !values.auth_string.contains(':') => {
            ctx.error("basicAuth.authString", "write the credentials as USER:PASSWORD")
        }
        _ => {}
    }
    if existing {
        let key =
            SecretKey { name: values.existing_secret.clone(), key: AUTH_STRING_KEY.to_owned() };
        return (Some(key), None);
    }
    let name = format!("{}-basic-auth", ctx.full_name(COMPONENT));
    let secret = opaque(ctx, &name, &[(AUTH_STRING_KEY, &values.auth_string)]);
    (Some(SecretKey { name, key: AUTH_STRING_KEY.to_owned() }), Some(secret))
}

/// The Secret that holds an inline database connection URL or password, if the database
/// needs one.
pub fn database_url(ctx: &Context, database: &Database) -> Option<Secret> {
    match database {
        Database::External { secret, create: Some(url), .. } => {
            Some(opaque(ctx, secret, &[(database::URL_KEY, url)]))
        }
        Database::Parts { create: Some((secret, password)), .. } => {
            Some(opaque(ctx, secret, &[(database::PASSWORD_KEY, password)]))
        }
        _ => None,
    }
}

/// An Opaque Secret of the server called `name` with `data` (key, value).
pub fn opaque(ctx: &Context, name: &str, data: &[(&str, &str)]) -> Secret {
    let data: BTreeMap<String, ByteString> = data
        .iter()
        .map(|(key, value)| ((*key).to_owned(), ByteString(value.as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: ctx.metadata(name, COMPONENT),
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}
