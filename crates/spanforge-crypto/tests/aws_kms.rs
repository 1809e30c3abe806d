//! AwsKms against a real KMS API emulator: the `moto` server from PyPI, started on a free
//! 127.0.0.1 port by this test and killed when it ends.
//!
//! Setup: `cargo xtask setup` installs `moto[server]` into `<workspace>/target/venv`
//! (or `$SPANFORGE_VENV`). Without it this test fails with a message saying so.
#![cfg(feature = "aws-kms")]
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::config::{Credentials, Region, SharedCredentialsProvider};
use spanforge_crypto::{
    AwsKms, CachePolicy, DekCache, EncryptionContext, Envelope, EnvelopeCipher, Error, KeyRef, Kms,
    ProviderId, WrappedDek,
};

const SECRET_KEY: &str = "moto-test-secret-key-do-not-print";
const ABSENT_KEY: &str =
    "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000";

/// A running `moto_server`; killed on drop, also when a test panics.
struct MotoServer {
    child: Child,
    endpoint: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    fn start() -> Self {
        let venv = std::env::var_os("SPANFORGE_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/venv"))
            });
        let bin = venv.join("bin").join("moto_server");
        assert!(
            bin.is_file(),
            "moto_server not found at {}.\nThe AWS KMS tests need the moto KMS emulator: run \
             `cargo xtask setup` (installs scripts/requirements-test.txt into \
             target/venv), or point SPANFORGE_VENV at a venv with `moto[server]` installed.",
            bin.display()
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: moto logs every request and a full pipe would stall it.
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "moto_server exited early ({status}):\n{}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// SDK configuration pointing at the emulator, built explicitly (no process environment).
    fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIAMOTOTESTKEY00001",
                SECRET_KEY,
                None,
                None,
                "spanforge-test",
            )))
            .http_client(AwsKms::https_client())
            .build()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn create_key(kms: &AwsKms) -> KeyRef {
    let out = kms.client().create_key().send().await.unwrap();
    let arn = out.key_metadata().unwrap().arn().unwrap().to_owned();
    KeyRef::new(ProviderId::Aws, arn).unwrap()
}

fn scope(tenant: &str) -> EncryptionContext {
    EncryptionContext::for_scope(tenant, "ai-call/v1").unwrap()
}

#[test]
fn aws_kms_against_moto() {
    let server = MotoServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kms = AwsKms::from_sdk_config(&server.sdk_config());
        generate_unwrap_and_context(&kms).await;
        rewrap_between_keys(&kms).await;
        error_mapping(&kms).await;
        cache_bounds_kms_calls(&kms).await;
        no_secrets_in_debug(&kms);
    });
}

#[test]
fn from_env_honours_standard_variables() {
    run_from_env_in_child();
}

async fn generate_unwrap_and_context(kms: &AwsKms) {
    let key = create_key(kms).await;
    let (dek, wrapped) = kms.generate_dek(&key, &scope("acme")).await.unwrap();
    assert_eq!(wrapped.provider(), ProviderId::Aws);
    assert_eq!(wrapped.key_id(), key.key_id(), "the wrap names the key ARN");
    let back = kms.unwrap_dek(&wrapped, &scope("acme")).await.unwrap();
    assert_eq!(back.expose_secret(), dek.expose_secret());

    // The encryption context is enforced by KMS.
    let err = kms
        .unwrap_dek(&wrapped, &scope("globex"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnwrapFailed { .. }), "{err:?}");
    let err = kms
        .unwrap_dek(&wrapped, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnwrapFailed { .. }), "{err:?}");
}

async fn rewrap_between_keys(kms: &AwsKms) {
    let old = create_key(kms).await;
    let new = create_key(kms).await;
    let cipher = EnvelopeCipher::new(
        Arc::new(kms.clone()),
        old.clone(),
        DekCache::new(CachePolicy::default()),
    );
    let ctx = scope("acme").with_event("evt-1").unwrap();
    let blob = cipher
        .seal(&ctx, b"rotated without touching the body")
        .await
        .unwrap();
    let rotated = cipher.rewrap(&blob, &new).await.unwrap();
    let (before, after) = (
        Envelope::parse(&blob).unwrap(),
        Envelope::parse(&rotated).unwrap(),
    );
    assert_eq!(after.edks()[0].key_id(), new.key_id());
    assert_eq!(after.authenticated_header(), before.authenticated_header());
    assert_eq!(after.body(), before.body());
    assert_eq!(
        &cipher.open(&rotated, &ctx).await.unwrap()[..],
        b"rotated without touching the body"
    );

    // A fresh reader (empty cache) opens both: AWS keeps the old key usable until it is
    // deleted, so rotation has no flag day.
    let fresh = EnvelopeCipher::new(
        Arc::new(kms.clone()),
        new.clone(),
        DekCache::new(CachePolicy::default()),
    );
    assert!(fresh.open(&rotated, &ctx).await.is_ok());
    assert!(fresh.open(&blob, &ctx).await.is_ok());
    // An EDK whose key id was changed to a key that does not exist reports an unavailable
    // key (Decrypt pins KeyId), not corruption.
    let edk = &before.edks()[0];
    let gone = WrappedDek::new(ProviderId::Aws, ABSENT_KEY, edk.blob().to_vec()).unwrap();
    let err = fresh
        .open(&before.with_edks(&[gone]).unwrap(), &ctx)
        .await
        .unwrap_err();
    assert!(err.is_key_unavailable(), "{err:?}");

    // Re-wrapping a stored (detached) key under the context it was made with.
    let (_, wrapped) = kms.generate_dek(&new, &scope("acme")).await.unwrap();
    let third = create_key(kms).await;
    let moved = kms.rewrap(&wrapped, &third, &scope("acme")).await.unwrap();
    assert_eq!(moved.key_id(), third.key_id());
    assert!(kms.unwrap_dek(&moved, &scope("acme")).await.is_ok());
    assert!(matches!(
        kms.rewrap(&wrapped, &third, &scope("globex")).await,
        Err(Error::UnwrapFailed { .. })
    ));
}

async fn error_mapping(kms: &AwsKms) {
    let absent = KeyRef::new(ProviderId::Aws, ABSENT_KEY).unwrap();
    let err = kms.generate_dek(&absent, &scope("acme")).await.unwrap_err();
    assert!(matches!(err, Error::KeyUnavailable { .. }), "{err:?}");

    let key = create_key(kms).await;
    let other = create_key(kms).await;
    let (_, wrapped) = kms.generate_dek(&key, &scope("acme")).await.unwrap();
    let mut blob = wrapped.blob().to_vec();
    let last = blob.len() - 1;
    blob[last] ^= 0x01;
    let tampered = WrappedDek::new(ProviderId::Aws, wrapped.key_id(), blob).unwrap();
    let err = kms.unwrap_dek(&tampered, &scope("acme")).await.unwrap_err();
    assert!(matches!(err, Error::UnwrapFailed { .. }), "{err:?}");

    // The wrapped key presented as another key's: Decrypt pins KeyId, so KMS refuses
    // (AWS answers IncorrectKeyException, moto AccessDeniedException).
    let redirected =
        WrappedDek::new(ProviderId::Aws, other.key_id(), wrapped.blob().to_vec()).unwrap();
    let err = kms
        .unwrap_dek(&redirected, &scope("acme"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnwrapFailed { .. } | Error::AccessDenied { .. }),
        "{err:?}"
    );
    let err = kms
        .rewrap(&wrapped, &absent, &scope("acme"))
        .await
        .unwrap_err();
    assert!(err.is_key_unavailable(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(SECRET_KEY));

    let local = KeyRef::parse("local:main").unwrap();
    assert!(matches!(
        kms.generate_dek(&local, &scope("acme")).await,
        Err(Error::InvalidInput { .. })
    ));
}

async fn cache_bounds_kms_calls(kms: &AwsKms) {
    let key = create_key(kms).await;
    let kms: Arc<dyn Kms> = Arc::new(kms.clone());
    let cipher = EnvelopeCipher::new(
        kms.clone(),
        key.clone(),
        DekCache::new(CachePolicy::default()),
    );
    // Concurrent first use: one GenerateDataKey.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let cipher = cipher.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = scope("acme").with_event(&format!("c-{i}")).unwrap();
            let blob = cipher.seal(&ctx, b"concurrent").await.unwrap();
            (ctx, blob)
        }));
    }
    let mut blobs = Vec::new();
    for t in tasks {
        blobs.push(t.await.unwrap());
    }
    for i in 0..24 {
        let ctx = scope("acme").with_event(&format!("s-{i}")).unwrap();
        blobs.push((ctx.clone(), cipher.seal(&ctx, b"sequential").await.unwrap()));
    }
    for (ctx, blob) in &blobs {
        cipher.open(blob, ctx).await.unwrap();
    }
    let stats = cipher.cache().stats();
    assert_eq!(
        stats.encrypt_misses, 1,
        "40 seals, one GenerateDataKey: {stats:?}"
    );
    assert_eq!(stats.decrypt_misses, 1, "40 opens, one Decrypt: {stats:?}");

    // Bounded reuse: at most 4 messages per data key.
    let bounded = EnvelopeCipher::new(
        kms,
        key,
        DekCache::new(CachePolicy {
            max_messages: 4,
            ..CachePolicy::default()
        }),
    );
    for i in 0..10 {
        let ctx = scope("acme").with_event(&i.to_string()).unwrap();
        bounded.seal(&ctx, b"x").await.unwrap();
    }
    assert_eq!(bounded.cache().stats().encrypt_misses, 3);
}

fn no_secrets_in_debug(kms: &AwsKms) {
    let text = format!("{kms:?}");
    assert!(text.contains("eu-west-1"), "{text}");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

/// Starts an emulator and runs [`from_env_child`] in a child process whose environment points
/// the SDK at it through the standard variables. Edition 2024 makes `set_var` unsafe (and this
/// workspace forbids unsafe), so the variables are set on the child instead of this process.
fn run_from_env_in_child() {
    let server = MotoServer::start();
    let exe = std::env::current_exe().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(exe)
        .args(["--exact", "from_env_child", "--ignored", "--nocapture"])
        .env("SPANFORGE_FROM_ENV_CHILD", "1")
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_REGION", "ap-southeast-2")
        .env("AWS_ACCESS_KEY_ID", "AKIAMOTOTESTKEY00002")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", empty.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            empty.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
}

/// Child half of [`from_env_honours_standard_variables`]. Run directly (for example with
/// `--include-ignored`), it does what the parent does: start an emulator and re-run itself as a
/// child with the variables set.
#[test]
#[ignore = "runs as a child process of from_env_honours_standard_variables"]
fn from_env_child() {
    if std::env::var_os("SPANFORGE_FROM_ENV_CHILD").is_none() {
        run_from_env_in_child();
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kms = AwsKms::from_env().await;
        assert_eq!(
            kms.client()
                .config()
                .region()
                .map(|r| r.as_ref().to_owned()),
            Some("ap-southeast-2".to_owned()),
            "AWS_REGION is honoured"
        );
        // Reaching the emulator at all shows AWS_ENDPOINT_URL and the static credentials
        // from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY were used.
        let key = create_key(&kms).await;
        assert!(key.key_id().contains(":ap-southeast-2:"), "{key:?}");
        let (dek, wrapped) = kms.generate_dek(&key, &scope("env")).await.unwrap();
        let back = kms.unwrap_dek(&wrapped, &scope("env")).await.unwrap();
        assert_eq!(dek.expose_secret(), back.expose_secret());
    });
}
