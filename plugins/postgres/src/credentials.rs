//! Where the database user's password comes from, and the Secret that holds it.
//!
//! In order: `auth.existingSecret` (the user's own Secret); `auth.password` (a constant, put in
//! the release's Secret); otherwise a password generated once and kept: while applying, the
//! live Secret is read back through a lookup and its password reused, so that no upgrade ever
//! changes it (the "password authentication failed" trap of redeploys). Offline `render` cannot
//! read the cluster, so it leaves the Secret out and says so. The SDK's [`secrets::password`]
//! does all that; this module names the plugin's values.

use prefect_plugin_sdk::{
    Context, Error,
    secrets::{self, KeptPassword, PasswordValues},
};

use crate::{COMPONENT, values::Auth};

/// The password of `auth`, in the Secret `<release>-postgresql` unless the user has their own.
pub fn password(ctx: &mut Context, auth: &Auth) -> Result<KeptPassword, Error> {
    let values = PasswordValues {
        password: &auth.password,
        existing_secret: &auth.existing_secret,
        key: &auth.secret_keys.user_password_key,
        key_path: "auth.secretKeys.userPasswordKey",
        lost_key: "so the password the database was created with is unknown: put it back under \
                   that key, or set auth.existingSecret to the Secret that holds it",
        ..PasswordValues::default()
    };
    secrets::password(ctx, COMPONENT, &values)
}
