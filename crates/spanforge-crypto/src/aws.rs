//! [`AwsKms`]: the AWS KMS provider (feature `aws-kms`), built on the official AWS SDK for Rust.
//!
//! * `generate_dek` calls `GenerateDataKey` (`KeySpec = AES_256`) and keeps the key ARN the
//!   service returns as the wrapped key's id;
//! * `unwrap_dek` calls `Decrypt` with `KeyId` pinned to that ARN, so a ciphertext cannot be
//!   redirected to another key;
//! * `rewrap` calls `ReEncrypt`, so the plaintext data key never leaves KMS during rotation.
//!
//! Every call passes the data-key scope as KMS `EncryptionContext`, which KMS authenticates and
//! logs (in plaintext) to CloudTrail. Service errors are mapped to the crate's error type:
//! throttling to [`Error::Throttled`], permissions and bad credentials to
//! [`Error::AccessDenied`], missing, disabled or pending-deletion keys to
//! [`Error::KeyUnavailable`], and invalid ciphertext or context to [`Error::UnwrapFailed`].
//! Messages never include credentials.
//!
//! The HTTP client is hyper with rustls on the *ring* crypto provider, which builds with only a
//! C compiler (no cmake, unlike aws-lc).

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::keys::{Dek, KeyRef, ProviderId, WrappedDek};
use crate::kms::Kms;

/// A [`Kms`] backed by AWS KMS symmetric keys.
///
/// Build it from an [`aws_config::SdkConfig`] ([`AwsKms::from_sdk_config`]) or from the standard
/// environment ([`AwsKms::from_env`]: `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KMS`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE`, web
/// identity and instance credentials). Pair it with a [`DekCache`](crate::DekCache) so that the
/// number of KMS requests grows with the number of scopes, not of messages.
#[derive(Clone)]
pub struct AwsKms {
    client: Client,
}

impl AwsKms {
    /// Wraps an existing KMS client.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Builds a client from a shared SDK configuration. If the configuration has no HTTP client,
    /// set one with [`AwsKms::https_client`].
    #[must_use]
    pub fn from_sdk_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Loads the SDK configuration from the environment and profile files, as every AWS SDK
    /// does, using this crate's HTTP client. Runs on the caller's tokio runtime.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(Self::https_client())
            .load()
            .await;
        Self::from_sdk_config(&config)
    }

    /// The HTTP client this crate uses for AWS: hyper 1 with rustls on the ring provider and the
    /// platform's trust roots. Plain `http://` endpoints (a local emulator) work too.
    #[must_use]
    pub fn https_client() -> aws_sdk_kms::config::SharedHttpClient {
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https()
    }

    /// The underlying SDK client, for administrative calls (creating keys, enabling rotation).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credentials live inside the client's config; print only where requests go.
        let config = self.client.config();
        f.debug_struct("AwsKms")
            .field("region", &config.region().map(|r| r.as_ref().to_owned()))
            .finish_non_exhaustive()
    }
}

fn aws_context(ctx: &EncryptionContext) -> Option<HashMap<String, String>> {
    if ctx.is_empty() {
        None
    } else {
        Some(
            ctx.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

fn require_aws(key: &KeyRef) -> Result<()> {
    if key.provider() == ProviderId::Aws {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "key reference",
            reason: format!("AWS KMS cannot use a {} key", key.provider()),
        })
    }
}

/// Replaces anything shaped like an AWS access key id (`AKIA…`/`ASIA…` + 16 characters) so
/// that no credential fragment can reach an error message.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let candidate = bytes.get(i..i + 20);
        let looks_like_key = candidate.is_some_and(|c| {
            (c.starts_with(b"AKIA") || c.starts_with(b"ASIA"))
                && c.iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
        if looks_like_key {
            out.push_str("<redacted>");
            i += 20;
        } else {
            let ch = message
                .get(i..)
                .and_then(|s| s.chars().next())
                .unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out.chars().take(600).collect()
}

fn map_error<E, R>(operation: &'static str, key_id: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    let message = redact(err.message().unwrap_or_default());
    let key_id = key_id.to_owned();
    match code.as_deref() {
        Some("ThrottlingException" | "LimitExceededException" | "RequestLimitExceeded") => {
            Error::Throttled {
                provider: ProviderId::Aws,
                retry_after: None,
            }
        }
        Some(
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "InvalidGrantTokenException",
        ) => Error::AccessDenied {
            provider: ProviderId::Aws,
            key_id,
            message,
        },
        Some(
            c @ ("NotFoundException"
            | "DisabledException"
            | "KMSInvalidStateException"
            | "KeyUnavailableException"),
        ) => Error::KeyUnavailable {
            key_id,
            reason: format!("AWS KMS {c}: {message}"),
        },
        Some("InvalidCiphertextException" | "IncorrectKeyException") => {
            Error::UnwrapFailed { key_id }
        }
        Some(c) => Error::Kms {
            provider: ProviderId::Aws,
            operation,
            retryable: matches!(c, "DependencyTimeoutException" | "KMSInternalException"),
            message: format!("{c}: {message}"),
        },
        None => {
            let retryable = matches!(
                err,
                SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
            );
            let what = match &err {
                SdkError::ConstructionFailure(_) => "the request could not be built",
                SdkError::TimeoutError(_) => "the request timed out",
                SdkError::DispatchFailure(_) => "the request could not be sent",
                SdkError::ResponseError(_) => "the response could not be read",
                _ => "the service returned an error without a code",
            };
            let detail = redact(&aws_sdk_kms::error::DisplayErrorContext(&err).to_string());
            Error::Kms {
                provider: ProviderId::Aws,
                operation,
                retryable,
                message: format!("{what}: {detail}"),
            }
        }
    }
}

fn missing(operation: &'static str, field: &str) -> Error {
    Error::Kms {
        provider: ProviderId::Aws,
        operation,
        retryable: false,
        message: format!("the response has no {field}"),
    }
}

#[async_trait]
impl Kms for AwsKms {
    fn provider(&self) -> ProviderId {
        ProviderId::Aws
    }

    async fn generate_dek(
        &self,
        key: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<(Dek, WrappedDek)> {
        const OP: &str = "GenerateDataKey";
        require_aws(key)?;
        let out = self
            .client
            .generate_data_key()
            .key_id(key.key_id())
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(aws_context(ctx))
            .send()
            .await
            .map_err(|e| map_error(OP, key.key_id(), e))?;
        let arn = out.key_id().ok_or_else(|| missing(OP, "KeyId"))?.to_owned();
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| missing(OP, "CiphertextBlob"))?
            .as_ref()
            .to_vec();
        let plaintext = Zeroizing::new(
            out.plaintext
                .ok_or_else(|| missing(OP, "Plaintext"))?
                .into_inner(),
        );
        Ok((
            Dek::from_slice(&plaintext)?,
            WrappedDek::new(ProviderId::Aws, arn, blob)?,
        ))
    }

    async fn unwrap_dek(&self, wrapped: &WrappedDek, ctx: &EncryptionContext) -> Result<Dek> {
        const OP: &str = "Decrypt";
        if wrapped.provider() != ProviderId::Aws {
            return Err(Error::InvalidInput {
                what: "wrapped data key",
                reason: format!("AWS KMS cannot unwrap a {} key", wrapped.provider()),
            });
        }
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(wrapped.blob()))
            .key_id(wrapped.key_id())
            .set_encryption_context(aws_context(ctx))
            .send()
            .await
            .map_err(|e| map_error(OP, wrapped.key_id(), e))?;
        let plaintext = Zeroizing::new(
            out.plaintext
                .ok_or_else(|| missing(OP, "Plaintext"))?
                .into_inner(),
        );
        Dek::from_slice(&plaintext)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedDek,
        to: &KeyRef,
        ctx: &EncryptionContext,
    ) -> Result<WrappedDek> {
        const OP: &str = "ReEncrypt";
        require_aws(to)?;
        if wrapped.provider() != ProviderId::Aws {
            return Err(Error::InvalidInput {
                what: "wrapped data key",
                reason: format!("AWS KMS cannot re-wrap a {} key", wrapped.provider()),
            });
        }
        let out = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.blob()))
            .source_key_id(wrapped.key_id())
            .destination_key_id(to.key_id())
            .set_source_encryption_context(aws_context(ctx))
            .set_destination_encryption_context(aws_context(ctx))
            .send()
            .await
            .map_err(|e| map_error(OP, wrapped.key_id(), e))?;
        let arn = out.key_id().ok_or_else(|| missing(OP, "KeyId"))?.to_owned();
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| missing(OP, "CiphertextBlob"))?
            .as_ref()
            .to_vec();
        WrappedDek::new(ProviderId::Aws, arn, blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_ids_are_redacted() {
        let msg = "The security token AKIAIOSFODNN7EXAMPLE is invalid; ASIAXXXXXXXXXXXXXXXX too";
        let out = redact(msg);
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
        assert!(!out.contains("ASIAXXXXXXXXXXXXXXXX"), "{out}");
        assert_eq!(redact("no secrets — ünïcode"), "no secrets — ünïcode");
        assert_eq!(redact(&"x".repeat(1000)).len(), 600);
    }

    #[test]
    fn empty_context_is_sent_as_none() {
        assert!(aws_context(&EncryptionContext::new()).is_none());
        let ctx = EncryptionContext::for_scope("t", "p").unwrap();
        let map = aws_context(&ctx).unwrap();
        assert_eq!(map.get("tenant").map(String::as_str), Some("t"));
    }

    #[test]
    fn non_aws_keys_are_refused() {
        let local = KeyRef::parse("local:main").unwrap();
        assert!(matches!(
            require_aws(&local),
            Err(Error::InvalidInput { .. })
        ));
    }
}
