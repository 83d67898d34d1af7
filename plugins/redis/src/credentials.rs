//! Where the Redis password comes from, and the Secret that holds it.
//!
//! In order: `auth.existingSecret` (the user's own Secret); `auth.password` (a constant, put in
//! the release's Secret); otherwise a password generated once and kept: while applying, the
//! live Secret is read back through a lookup and its password reused, so that no upgrade
//! changes it under the clients that are connected. Offline `render` cannot read the cluster,
//! so it leaves the Secret out and says so.
//!
//! The password also goes into Docket's URL (`redis://:PASSWORD@host:port/1`) through
//! Kubernetes' `$(VAR)` expansion of the variable that holds it, which copies it as it is.
//! Percent-encoding it would need a second, encoded copy of the password in the Secret, kept
//! in step with the first (and impossible with an existing Secret), so instead a password
//! the plugin knows must be URL-safe: letters, digits and `-._~` ([`url_safe`]). Generated
//! passwords are letters and digits.

use std::collections::BTreeMap;

use prefect_plugin_sdk::{
    Context, Error, Lookup, Problems,
    k8s_openapi::{ByteString, api::core::v1::Secret},
    labels::DATA_ANNOTATION,
    secrets::generate_password,
    serde_json,
    wire::ObjectRef,
};

use crate::{COMPONENT, values::Auth};

/// Length of generated passwords (letters and digits: about 190 bits).
pub const GENERATED_LENGTH: usize = 32;

/// The Secret key the password is read from, and what to do about the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Password {
    /// The Secret's name.
    pub secret: String,
    /// The key that holds the password.
    pub key: String,
    /// What the plugin does with the Secret.
    pub source: Source,
}

/// Who provides the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The user's own Secret (`auth.existingSecret`).
    Existing,
    /// The plugin creates the Secret with this password.
    Create(Vec<u8>),
    /// `apply` creates it, with a generated password; `render` leaves it out.
    Deferred,
}

/// Whether `password` can stand in a URL's user information as it is: RFC 3986's unreserved
/// characters only.
pub fn url_safe(password: &[u8]) -> bool {
    password.iter().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b))
}

/// The password of `auth`.
pub fn password(
    ctx: &mut Context,
    auth: &Auth,
    problems: &mut Problems,
) -> Result<Password, Error> {
    let key = auth.existing_secret_password_key.clone();
    if key.is_empty() {
        problems.error("auth.existingSecretPasswordKey", "name the key that holds the password");
    }
    if !auth.existing_secret.is_empty() {
        if !auth.password.is_empty() {
            problems.error(
                "auth.password",
                "set either password or existingSecret, not both: keep existingSecret so that \
                 the password stays out of your values",
            );
        }
        return Ok(Password {
            secret: auth.existing_secret.clone(),
            key,
            source: Source::Existing,
        });
    }
    let secret = secret_name(ctx);
    if !auth.password.is_empty() {
        if !url_safe(auth.password.as_bytes()) {
            problems.error(
                "auth.password",
                "may hold only letters, digits and `-._~`: the server puts it into Docket's \
                 URL as it is; leave it empty to have a strong one generated and kept",
            );
        }
        let value = auth.password.as_bytes().to_vec();
        return Ok(Password { secret, key, source: Source::Create(value) });
    }
    let reference = ObjectRef {
        api_version: "v1".to_owned(),
        kind: "Secret".to_owned(),
        namespace: Some(ctx.namespace().to_owned()),
        name: secret.clone(),
    };
    let source = match ctx.lookup(&reference) {
        Lookup::Found(live) => Source::Create(kept(&live, &secret, &key)?),
        Lookup::Absent => Source::Create(generate_password(GENERATED_LENGTH)?.into_bytes()),
        Lookup::Pending => Source::Deferred,
        Lookup::Unavailable => {
            problems.warn(
                "auth.password",
                format!(
                    "the Secret {secret} is left out of this output: `prefectctl apply` generates \
                     its password once and keeps it on every upgrade, which `render` cannot do \
                     without reading the cluster; to deploy this output with another tool, set \
                     auth.existingSecret (or auth.password)"
                ),
            );
            Source::Deferred
        }
    };
    Ok(Password { secret, key, source })
}

/// The name of the Secret the plugin creates: `<release>-redis`.
pub fn secret_name(ctx: &Context) -> String {
    ctx.full_name(COMPONENT)
}

/// The password in the live Secret `live`, which an earlier apply generated.
fn kept(live: &serde_json::Value, secret: &str, key: &str) -> Result<Vec<u8>, Error> {
    let missing = || {
        Error::at(
            "auth.existingSecretPasswordKey",
            format!(
                "the Secret {secret} in the cluster has no key `{key}`, so the password Redis and \
                 its clients share is unknown: put it back under that key, or delete the Secret \
                 to have a new one generated"
            ),
        )
    };
    let encoded = live.get("data").and_then(|data| data.get(key)).ok_or_else(missing)?;
    let bytes: ByteString = serde_json::from_value(encoded.clone()).map_err(|_| missing())?;
    if bytes.0.is_empty() {
        return Err(missing());
    }
    if !url_safe(&bytes.0) {
        return Err(Error::at(
            "auth.password",
            format!(
                "the password in the Secret {secret} (key `{key}`) holds characters other than \
                 letters, digits and `-._~`, which Docket's URL cannot take as they are: delete \
                 the Secret to have a new one generated, or set auth.password"
            ),
        ));
    }
    Ok(bytes.0)
}

/// The Secret to add, if the plugin creates one now.
pub fn secret(ctx: &Context, password: &Password) -> Option<Secret> {
    let Source::Create(value) = &password.source else { return None };
    let mut metadata = ctx.metadata(&password.secret, COMPONENT);
    metadata.annotations = Some(BTreeMap::from([(DATA_ANNOTATION.to_owned(), "true".to_owned())]));
    Some(Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(password.key.clone(), ByteString(value.clone()))])),
        ..Secret::default()
    })
}
