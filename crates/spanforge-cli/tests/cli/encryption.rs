//! `spanforge ingest --encrypt`, `erase` and `keys rotate --kek`: encryption at rest and
//! crypto-shredding end to end, through the binary, against the reference SDK's verifier.

#![allow(clippy::unwrap_used)]

use std::fs;

use crate::ledger::{Workspace, reference_verify};

/// Event `n`: actor `user-{n % 3}`, session `sess-{n % 4}`, org `acme` for even `n`, and a
/// prompt that names the event and its actor.
fn event_line(n: u64) -> String {
    let ms = 1_767_434_400_000u64 + n * 1000;
    let id =
        spanforge_event::EventId::from_parts(ms, 0x5EED_0000_0000_0000_0000u128 + u128::from(n))
            .unwrap();
    let ts = spanforge_event::Timestamp::from_unix_micros(ms as i64 * 1000).unwrap();
    let org = if n.is_multiple_of(2) {
        r#""org_id":"acme","#
    } else {
        ""
    };
    format!(
        concat!(
            r#"{{"actor_id":"user-{a}","event_id":"{id}","event_type":"llm.trace.span.completed",{org}"#,
            r#""payload":{{"prompt":"PROMPT-{n:03}-FOR-user-{a}","span_name":"chat","status":"ok"}},"#,
            r#""schema_version":"2.0","session_id":"sess-{s}","source":"bot@1.0.0","timestamp":"{ts}"}}"#
        ),
        a = n % 3,
        id = id,
        org = org,
        n = n,
        s = n % 4,
        ts = ts.as_str(),
    )
}

fn write_events(ws: &Workspace, name: &str, range: std::ops::Range<u64>) {
    let text: String = range.map(|n| event_line(n) + "\n").collect();
    fs::write(ws.path(name), text).unwrap();
}

/// The database and WAL bytes.
fn disk(ws: &Workspace) -> Vec<u8> {
    let mut bytes = fs::read(ws.path("spanforge.db")).unwrap();
    if let Ok(w) = fs::read(ws.path("spanforge.db-wal")) {
        bytes.extend(w);
    }
    bytes
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn encrypted_ingest_export_erase_and_kek_rotation_end_to_end() {
    let ws = Workspace::new();
    write_events(&ws, "events.jsonl", 0..30);
    let r = ws.run(&["ingest", "--encrypt", "events.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("created the KMS keyring"), "{}", r.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(ws.path("spanforge-kms.keyring"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The setting persists: a plain ingest afterwards encrypts too.
    write_events(&ws, "more.jsonl", 30..40);
    let r = ws.run(&["ingest", "more.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let bytes = disk(&ws);
    assert!(
        !contains(&bytes, "PROMPT-"),
        "a payload is readable on disk"
    );

    // A decrypted export verifies with the reference SDK's own verify_chain.
    let r = ws.run(&["audit", "export", "--org", "acme", "--out", "acme.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let exported = fs::read_to_string(ws.path("acme.jsonl")).unwrap();
    assert!(exported.contains("PROMPT-002-FOR-user-2"));
    let verdict = reference_verify(&ws.path("acme.jsonl"), &ws.secret(), "{}");
    assert!(verdict.contains(r#""valid": true"#), "{verdict}");

    // Without the KMS keyring: verification still works, reading does not.
    fs::rename(ws.path("spanforge-kms.keyring"), ws.path("away.keyring")).unwrap();
    let r = ws.run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = ws.run(&["audit", "export", "--org", "acme", "--out", "x.jsonl"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no KMS is configured"), "{}", r.stderr);
    assert!(!ws.path("x.jsonl").exists());
    fs::rename(ws.path("away.keyring"), ws.path("spanforge-kms.keyring")).unwrap();

    // Erase user-1.
    let r = ws.run(&[
        "erase",
        "--subject",
        "user-1",
        "--by",
        "dpo",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let receipt: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(receipt["erasures"].as_array().unwrap().len(), 2);
    assert!(
        !r.stdout.contains("user-1"),
        "the receipt names the subject only by hash"
    );
    let bytes = disk(&ws);
    assert!(!contains(&bytes, "FOR-user-1"));

    // Verify: intact, with the erased events reported as erased.
    let r = ws.run(&["audit", "verify", "--format", "json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let erased: u64 = report["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["erased_count"].as_u64().unwrap())
        .sum();
    let user1 = (0..40).filter(|n| n % 3 == 1).count() as u64;
    assert_eq!(erased, user1);
    let r = ws.run(&["audit", "verify"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("erased (crypto-shredded, not tampered)"),
        "{}",
        r.stdout
    );

    // Exports after erasure: no trace of the subject's text; the reference sees the erased
    // events as checksum failures (their payload is the stored ciphertext) but no gap.
    for org in ["acme", ""] {
        let mut args = vec!["audit", "export", "--out", "after.jsonl"];
        if !org.is_empty() {
            args.extend(["--org", org]);
        }
        assert_eq!(ws.run(&args).code, 0);
        let text = fs::read_to_string(ws.path("after.jsonl")).unwrap();
        assert!(!text.contains("FOR-user-1"));
        assert!(text.contains("FOR-user-0"));
        let verdict = reference_verify(&ws.path("after.jsonl"), &ws.secret(), "{}");
        let v: serde_json::Value = serde_json::from_str(&verdict).unwrap();
        assert_eq!(v["gaps"].as_array().unwrap().len(), 0, "{org}: {verdict}");
        let in_tenant = (0..40u64)
            .filter(|n| n % 3 == 1 && n.is_multiple_of(2) != org.is_empty())
            .count();
        assert_eq!(
            v["tampered"].as_u64().unwrap() as usize,
            in_tenant,
            "{org}: {verdict}"
        );
        // Our own chain verifier checks the erased events' signatures and finds the erasure
        // record that accounts for them: intact, with the erased events named.
        let r = ws.run(&[
            "audit",
            "verify",
            "after.jsonl",
            "--keyring",
            "spanforge-keys.json",
        ]);
        assert_eq!(r.code, 0, "{org}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!("{in_tenant} erased")),
            "{}",
            r.stdout
        );
        // Without the erasure record's key list, the withheld payloads are not accounted for.
        let stripped: String = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                if v["event_type"] == "io.spanforge.privacy.subject_erased" {
                    v["payload"]["data_key_ids"] = serde_json::json!([]);
                }
                serde_json::to_string(&v).unwrap() + "\n"
            })
            .collect();
        fs::write(ws.path("stripped.jsonl"), stripped).unwrap();
        let r = ws.run(&[
            "audit",
            "verify",
            "stripped.jsonl",
            "--keyring",
            "spanforge-keys.json",
        ]);
        assert_eq!(r.code, 1, "{org}: {}", r.stdout);
        assert!(
            r.stdout
                .contains("payload withheld without an erasure record"),
            "{}",
            r.stdout
        );
    }

    // KEK rotation with the old version retired: everything left still decrypts.
    let r = ws.run(&["keys", "rotate", "--kek", "--retire-old"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("local:payload/v2 is primary"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("retired local:payload/v1"),
        "{}",
        r.stdout
    );
    let ring = fs::read_to_string(ws.path("spanforge-kms.keyring")).unwrap();
    assert!(
        !ring.contains("key payload 1 "),
        "v1 is gone from the keyring"
    );
    let r = ws.run(&["audit", "export", "--org", "acme", "--out", "rotated.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        fs::read_to_string(ws.path("rotated.jsonl"))
            .unwrap()
            .contains("FOR-user-2")
    );
    let r = ws.run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Nothing secret was printed along the way.
    assert!(!r.stdout.contains(&ws.secret()));
}

#[test]
fn erase_on_a_plain_ledger_is_a_clear_error() {
    let ws = Workspace::new();
    write_events(&ws, "events.jsonl", 0..4);
    assert_eq!(ws.run(&["ingest", "events.jsonl"]).code, 0);
    let r = ws.run(&["erase", "--subject", "user-1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("KMS") || r.stderr.contains("does not encrypt"),
        "{}",
        r.stderr
    );
}

/// Line counts of every control's population and exceptions in a package.
fn listing_sizes(pkg: &std::path::Path) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for control in fs::read_dir(pkg.join("controls")).unwrap() {
        let control = control.unwrap().path();
        for name in ["population.jsonl", "exceptions.jsonl"] {
            let text = fs::read_to_string(control.join(name)).unwrap();
            out.push((
                format!("{}/{name}", control.file_name().unwrap().to_string_lossy()),
                text.lines().count(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn compliance_evidence_from_an_encrypted_ledger_matches_the_plain_one() {
    use spanforge_mapping::period::Day;
    use spanforge_mapping::testing::Workload;
    use spanforge_store::SqliteLedger;

    let dir = tempfile::tempdir().unwrap();
    let workload = Workload::new(Day::parse("2026-01-01").unwrap(), 10).with_calls_per_day(4);
    let kms_path = dir.path().join("kms.keyring");
    let kms =
        std::sync::Arc::new(spanforge_crypto::LocalKms::create(&kms_path, "payload").unwrap());
    let mut packages = Vec::new();
    for (name, encrypted) in [("plain", false), ("encrypted", true)] {
        let crate::support::KeyedLedger {
            db,
            keyring,
            pubkey,
            keys,
        } = crate::support::keyed_ledger(dir.path(), name);
        let mut ledger = SqliteLedger::open(&db).unwrap();
        if encrypted {
            let kek = kms.primary("payload").unwrap();
            ledger = ledger.with_data_keys(std::sync::Arc::new(
                spanforge_store::BlockingKms::new(kms.clone(), kek).unwrap(),
            ));
            ledger.encrypt_payloads();
        }
        workload.append_to(&mut ledger, &keys).unwrap();
        drop(ledger);
        let out = dir.path().join(format!("{name}-pkg"));
        let mut args = vec![
            "compliance".to_owned(),
            "generate".to_owned(),
            "--framework".to_owned(),
            "soc2".to_owned(),
            "--from".to_owned(),
            "2026-01-01".to_owned(),
            "--to".to_owned(),
            "2026-01-10".to_owned(),
            "--org".to_owned(),
            "acme".to_owned(),
            "--db".to_owned(),
            db.to_string_lossy().into_owned(),
            "--keyring".to_owned(),
            keyring.to_string_lossy().into_owned(),
            "--out".to_owned(),
            out.to_string_lossy().into_owned(),
        ];
        if encrypted {
            // Without the KMS the encrypted ledger's evidence cannot be read.
            let r: crate::support::Run = crate::support::spanforge()
                .args(&args)
                .output()
                .unwrap()
                .into();
            assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains("no KMS is configured"), "{}", r.stderr);
            let _ = fs::remove_dir_all(&out);
            args.extend([
                "--kms-keyring".to_owned(),
                kms_path.to_string_lossy().into_owned(),
            ]);
        }
        let r: crate::support::Run = crate::support::spanforge()
            .args(&args)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        // The package (proofs of cited events included) verifies with the public key alone.
        let r: crate::support::Run = crate::support::spanforge()
            .args(["compliance", "verify-package"])
            .arg(&out)
            .arg("--pubkey")
            .arg(&pubkey)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        packages.push(out);
    }
    let plain = listing_sizes(&packages[0]);
    assert!(
        plain.iter().any(|(_, n)| *n > 0),
        "the workload produced evidence"
    );
    assert_eq!(plain, listing_sizes(&packages[1]));
}

/// The ledger's payload keys in AWS KMS: the binary (built with `aws-kms`) against the `moto`
/// KMS emulator on 127.0.0.1, configured only through the standard `AWS_*` variables.
#[cfg(feature = "aws-kms")]
#[test]
fn encrypted_ingest_and_erasure_with_aws_kms_against_moto() {
    use std::net::{TcpListener, TcpStream};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    struct Moto(std::process::Child);
    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let venv = crate::support::root().join("target/venv");
    let venv = std::env::var_os("SPANFORGE_VENV").map_or(venv, std::path::PathBuf::from);
    let moto_bin = venv.join("bin/moto_server");
    assert!(
        moto_bin.is_file(),
        "moto_server not found at {}: run `cargo xtask setup`",
        moto_bin.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = Workspace::new();
    let _moto = Moto(
        Command::new(&moto_bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(ws.path("moto.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let aws_env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAMOTOTESTKEY00001"),
        ("AWS_SECRET_ACCESS_KEY", "moto-cli-secret-do-not-print"),
    ];
    // A key-encryption key in the emulator, created with boto3 from the same venv.
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import boto3,sys; print(boto3.client('kms', endpoint_url=sys.argv[1]).create_key()['KeyMetadata']['Arn'])",
            &endpoint,
        ])
        .envs(aws_env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let arn = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let run = |args: &[&str]| -> crate::support::Run {
        let mut cmd = crate::support::spanforge();
        cmd.current_dir(ws.dir.path())
            .envs(aws_env)
            .env("SPANFORGE_AWS_KMS_KEY", &arn)
            .args(args);
        cmd.output().unwrap().into()
    };
    write_events(&ws, "events.jsonl", 0..12);
    let r = run(&["ingest", "--encrypt", "events.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        !ws.path("spanforge-kms.keyring").exists(),
        "no local keyring with AWS KMS"
    );
    assert!(!contains(&disk(&ws), "PROMPT-"));
    let r = run(&["audit", "export", "--org", "acme", "--out", "acme.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        fs::read_to_string(ws.path("acme.jsonl"))
            .unwrap()
            .contains("PROMPT-004-FOR-user-1")
    );
    let r = run(&["erase", "--subject", "user-1"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = run(&["audit", "export", "--org", "acme", "--out", "after.jsonl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let after = fs::read_to_string(ws.path("after.jsonl")).unwrap();
    assert!(!after.contains("FOR-user-1") && after.contains("FOR-user-0"));
    let r = run(&["audit", "verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("moto-cli-secret") && !r.stderr.contains("moto-cli-secret"));
}
