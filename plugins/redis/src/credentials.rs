//! Where the Redis password comes from, and the Secret that holds it.
//!
//! In order: `auth.existingSecret` (the user's own Secret); `auth.password` (a constant, put in
//! the release's Secret); otherwise a password generated once and kept: while applying, the
//! live Secret is read back through a lookup and its password reused, so that no upgrade
//! changes it under the clients that are connected. Offline `render` cannot read the cluster,
//! so it leaves the Secret out and says so. The SDK's [`secrets::password`] does all that;
//! this module names the plugin's values and adds the rule below.
//!
//! The password also goes into Docket's URL (`redis://:PASSWORD@host:port/1`) through
//! Kubernetes' `$(VAR)` expansion of the variable that holds it, which copies it as it is.
//! Percent-encoding it would need a second, encoded copy of the password in the Secret, kept
//! in step with the first (and impossible with an existing Secret), so instead a password
//! the plugin knows must be URL-safe: letters, digits and `-._~` ([`url_safe`]). Generated
//! passwords are letters and digits.

use prefect_plugin_sdk::{
    Context, Error,
    secrets::{self, KeptPassword, PasswordSource, PasswordValues},
};

use crate::{COMPONENT, values::Auth};

/// Whether `password` can stand in a URL's user information as it is: RFC 3986's unreserved
/// characters only.
pub fn url_safe(password: &[u8]) -> bool {
    password.iter().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b))
}

/// The password of `auth`, in the Secret `<release>-redis` unless the user has their own.
pub fn password(ctx: &mut Context, auth: &Auth) -> Result<KeptPassword, Error> {
    let values = PasswordValues {
        password: &auth.password,
        existing_secret: &auth.existing_secret,
        key: &auth.existing_secret_password_key,
        key_path: "auth.existingSecretPasswordKey",
        lost_key: "so the password Redis and its clients share is unknown: put it back under \
                   that key, or delete the Secret to have a new one generated",
        ..PasswordValues::default()
    };
    let password = secrets::password(ctx, COMPONENT, &values)?;
    match &password.source {
        PasswordSource::Fixed(value) if !url_safe(value) => ctx.error(
            "auth.password",
            "may hold only letters, digits and `-._~`: the server puts it into Docket's URL as \
             it is; leave it empty to have a strong one generated and kept",
        ),
        PasswordSource::Kept(value) if !url_safe(value) => {
            let (secret, key) = (&password.secret, &password.key);
            return Err(Error::at(
                "auth.password",
                format!(
                    "the password in the Secret {secret} (key `{key}`) holds characters other \
                     than letters, digits and `-._~`, which Docket's URL cannot take as they \
                     are: delete the Secret to have a new one generated, or set auth.password"
                ),
            ));
        }
        _ => {}
    }
    Ok(password)
}
