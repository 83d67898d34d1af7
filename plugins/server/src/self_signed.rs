//! The TLS Secret of `ingress.selfSigned`: a self-signed certificate of the Ingress' host,
//! made once and kept, as the SDK's [`secrets`](prefect_plugin_sdk::secrets) keeps a generated
//! password. The first `apply` generates it; later ones read it back from the live Secret
//! (a new one at every upgrade would make every client that pinned it fail); `render` leaves
//! the Secret out, so that a private key is never printed to a terminal or a CI log.

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use prefect_plugin_sdk::{
    Context, Error, Lookup,
    k8s_openapi::{ByteString, api::core::v1::Secret},
};

use crate::{COMPONENT, ingress, values};

/// The host the kept certificate was made for: a changed `host.hostname` makes a new one.
pub const HOST_ANNOTATION: &str = "prefectctl.io/self-signed-host";

/// Years the certificate is valid: it is never renewed, and nobody trusts it anyway.
const VALID_YEARS: i32 = 10;

/// The Secret to add, if the Ingress serves its host over TLS with `selfSigned` and this run
/// knows the certificate (not while rendering; not in the first round of an apply, before the
/// host has read the live Secret).
pub fn build(ctx: &mut Context, values: &values::Ingress) -> Result<Option<Secret>, Error> {
    let host = &values.host.hostname;
    if !values.enabled || !values.tls || !values.self_signed || host.is_empty() {
        return Ok(None);
    }
    let name = ingress::tls_secret_name(values);
    let (certificate, key) = match ctx.lookup::<Secret>(&name)? {
        Lookup::Found(live) => match kept(&live, host) {
            Some(pair) => pair,
            None => generate(host)?,
        },
        Lookup::Absent => generate(host)?,
        Lookup::Pending => return Ok(None),
        Lookup::Unavailable => {
            ctx.warn(
                "ingress.selfSigned",
                format!(
                    "the Secret {name} is left out of this output, since it holds a private key: \
                     `prefectctl apply` generates the self-signed certificate once and keeps it \
                     on every upgrade; to deploy this output with another tool, create the \
                     Secret yourself (kubectl create secret tls {name} --cert=... --key=...) \
                     and turn ingress.selfSigned off"
                ),
            );
            return Ok(None);
        }
    };
    let mut metadata = ctx.metadata(&name, COMPONENT);
    metadata.annotations = Some(BTreeMap::from([(HOST_ANNOTATION.to_owned(), host.clone())]));
    Ok(Some(Secret {
        metadata,
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(certificate)),
            ("tls.key".to_owned(), ByteString(key)),
        ])),
        ..Secret::default()
    }))
}

/// The certificate and key of the live Secret, if an earlier apply made them for `host`.
fn kept(live: &Secret, host: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let annotations = live.metadata.annotations.as_ref()?;
    if annotations.get(HOST_ANNOTATION).map(String::as_str) != Some(host) {
        return None;
    }
    let data = live.data.as_ref()?;
    let read = |key: &str| data.get(key).filter(|bytes| !bytes.0.is_empty()).map(|b| b.0.clone());
    Some((read("tls.crt")?, read("tls.key")?))
}

/// A new certificate of `host` and its private key (ECDSA P-256), both PEM.
fn generate(host: &str) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let failed = |err: rcgen::Error| {
        Error::at(
            "ingress.selfSigned",
            format!("could not make the self-signed certificate: {err}"),
        )
    };
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).map_err(|err| {
        Error::at(
            "ingress.host.hostname",
            format!("no certificate can name {host:?}: {err}; use a DNS name"),
        )
    })?;
    params.distinguished_name.push(rcgen::DnType::CommonName, host);
    let year = this_year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let certificate = params.self_signed(&key).map_err(failed)?;
    Ok((certificate.pem().into_bytes(), key.serialize_pem().into_bytes()))
}

/// The current year, near enough: the certificate starts a year before it.
fn this_year() -> i32 {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    1970 + i32::try_from(seconds / 31_556_952).unwrap_or(0)
}
