//! The AEV1 envelope: a versioned, self-describing AES-256-GCM ciphertext format with per-message
//! keys, a key commitment and a bound encryption context.
//!
//! The byte layout and the reasoning behind it are in `docs/adr/002-aev1-envelope.md`; in short
//! (all integers big-endian):
//!
//! ```text
//! ── authenticated header (the AEAD associated data) ─────────────────────────
//!  4  magic "AEV" 0x01           (the 4th byte is the format version)
//!  2  suite = 0x0002             (AES-256-GCM, HKDF-SHA256 block keys, 32-byte key commitment;
//!                                 0x0001, per-message keys, is still read)
//!  1  flags = 0x00               (all bits reserved, must be zero)
//! 32  message id                 (unique: per-thread random prefix ‖ counter; HKDF info input)
//!  1+ data key id                (u8 length 1..=128, printable ASCII)
//!  2+ context                    (u16 count, sorted unique (u16 len ‖ key, u16 len ‖ value))
//! 32  key commitment             (HKDF-Expand(DEK, "AEV1 commit" ‖ suite ‖ block))
//!  4  body length                (u32, ciphertext + 16-byte tag)
//! ── encrypted data keys (not in the AAD; bound through KMS context + commitment) ──
//!  1  EDK count 0..=8            (0 = detached: the wrapped key lives in a key store)
//!     each: u8 provider ‖ u16 len ‖ KEK id ‖ u16 len ‖ wrapped DEK
//! ── body ────────────────────────────────────────────────────────────────────
//!     AES-256-GCM(K, nonce = 10 zero bytes ‖ message id[30..32], aad = authenticated header)
//!     ciphertext ‖ tag, with K = HKDF-Expand(DEK, "AEV1 key" ‖ suite ‖ block) and
//!     block = message id with its last 2 bytes set to zero (suite 0x0001: block = message id
//!     and nonce = 12 zero bytes)
//! ```
//!
//! Opening follows a fixed order: parse with hard limits, compare the context with the one the
//! caller expects, obtain the data key, check the commitment in constant time, and only then run
//! the AEAD. [`seal`] and [`Envelope::open`] are the synchronous core and do no I/O; the
//! [`EnvelopeCipher`](crate::EnvelopeCipher) adds the KMS and the data-key cache.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Tag};
use subtle::ConstantTimeEq;

use std::sync::{Arc, OnceLock};

use crate::context::{EVENT, EncryptionContext, PURPOSE, TENANT, key_problem, value_problem};
use crate::error::{Error, Result};
use crate::keys::{
    BlockKey, DataKeyId, Dek, MAX_DATA_KEY_ID_LEN, ProviderId, WrappedDek, random_array,
};

/// The three magic bytes that open every AEV envelope.
pub const MAGIC: [u8; 3] = *b"AEV";
/// The format version this build writes and reads (the 4th byte of the magic).
pub const FORMAT_VERSION: u8 = 1;
/// Suite 0x0001: AES-256-GCM, per-message key by HKDF-SHA256, 32-byte key commitment. Still
/// read; no longer written.
pub const SUITE_AES256GCM_HKDF_SHA256_COMMIT: u16 = 0x0001;
/// Suite 0x0002: AES-256-GCM under a key derived by HKDF-SHA256 per *block* of 2^16 consecutive
/// message ids, the low 16 bits of the message id as the GCM nonce, and a 32-byte key commitment
/// per block. What [`seal`] writes (ADR 002, "Block keys").
pub const SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS: u16 = 0x0002;
/// Bytes at the end of a message id that select the message within its block (suite 0x0002).
const BLOCK_INDEX_LEN: usize = 2;
/// Length of the message id.
pub const MESSAGE_ID_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the AES-GCM tag at the end of the body.
pub const TAG_LEN: usize = 16;
/// Largest number of encrypted data keys an envelope may carry.
pub const MAX_EDKS: usize = 8;
/// Largest accepted header (everything before the body), in bytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;
/// Largest accepted plaintext: the body length field is a u32 and includes the tag.
pub const MAX_PLAINTEXT_LEN: usize = u32::MAX as usize - TAG_LEN;

/// HKDF info label for the per-message AEAD key.
const KEY_LABEL: &[u8] = b"AEV1 key";
/// HKDF info label for the key commitment.
const COMMIT_LABEL: &[u8] = b"AEV1 commit";

/// Seals `plaintext` into a new AEV1 envelope with a fresh message id (a per-thread random prefix and a counter; see [`reseed_message_ids`]).
///
/// `ctx` must be a valid message context ([`EncryptionContext::validate_message`]). `edks` are the
/// wrapped forms of `dek` to embed (up to [`MAX_EDKS`]); pass an empty slice for a *detached*
/// envelope whose wrapped key is kept in a separate key store under `key_id`.
///
/// Every envelope gets its own 256-bit unique message id. The AEAD key is derived from its block
/// (the id without its last two bytes) and the nonce is those last two bytes, so a (key, nonce)
/// pair never repeats; the block key is set up once per 2^16 messages of a thread and cached in
/// `dek`.
///
/// # Errors
/// [`Error::InvalidContext`] for an incomplete context, [`Error::TooLarge`] when a limit is
/// exceeded, [`Error::Random`] if the system RNG fails.
///
/// ```
/// use spanforge_crypto::{envelope, DataKeyId, Dek, EncryptionContext};
///
/// let dek = Dek::generate()?;
/// let id = DataKeyId::new("tenant-a/key-1")?;
/// let ctx = EncryptionContext::for_event("tenant-a", "evt-42", "ai-call/v1")?;
/// let blob = envelope::seal(&dek, &id, &[], &ctx, b"prompt and response")?;
///
/// let env = envelope::Envelope::parse(&blob)?;
/// assert_eq!(env.key_id(), &id);
/// assert_eq!(&env.open(&dek, &ctx)?[..], b"prompt and response");
/// # Ok::<(), spanforge_crypto::Error>(())
/// ```
pub fn seal(
    dek: &Dek,
    key_id: &DataKeyId,
    edks: &[WrappedDek],
    ctx: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let message_id = next_message_id()?;
    seal_with_message_id(
        dek,
        key_id,
        edks,
        ctx,
        plaintext,
        &message_id,
        SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
    )
}

/// Bytes of a message id drawn from the operating system once per thread.
const MESSAGE_ID_PREFIX_LEN: usize = MESSAGE_ID_LEN - 8;

/// A thread's message-id generator: a random prefix from the OS CSPRNG and a counter.
struct MessageIds {
    prefix: [u8; MESSAGE_ID_PREFIX_LEN],
    counter: u64,
}

thread_local! {
    static MESSAGE_IDS: std::cell::RefCell<Option<MessageIds>> =
        const { std::cell::RefCell::new(None) };
}

/// The next message id of this thread: its 24-byte random prefix (drawn from the OS CSPRNG when
/// the thread first seals, and again after 2^64 - 1 ids) followed by a big-endian 64-bit counter.
///
/// Uniqueness is all a message id needs (it is public, and the per-message key is
/// HKDF(DEK, id)): ids of one thread never repeat, and two threads or processes share a prefix
/// with probability about n²/2^193 for n prefixes. A system call per message cost about as much
/// as the AES work on this class of machine (ADR 002). The one thing that copies a prefix is
/// `fork()` without `exec`: a child that seals must call [`reseed_message_ids`] first.
pub(crate) fn next_message_id() -> Result<[u8; MESSAGE_ID_LEN]> {
    MESSAGE_IDS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = match slot.as_mut() {
            Some(state) if state.counter != u64::MAX => state,
            _ => slot.insert(MessageIds {
                prefix: random_array::<MESSAGE_ID_PREFIX_LEN>()?,
                counter: 0,
            }),
        };
        let mut id = [0u8; MESSAGE_ID_LEN];
        id[..MESSAGE_ID_PREFIX_LEN].copy_from_slice(&state.prefix);
        id[MESSAGE_ID_PREFIX_LEN..].copy_from_slice(&state.counter.to_be_bytes());
        state.counter += 1;
        Ok(id)
    })
}

/// Draws a fresh message-id prefix for the calling thread from the OS CSPRNG. Call it in a child
/// process after `fork()` (without `exec`) before sealing, so parent and child can never produce
/// the same message id under a data key they both hold.
///
/// # Errors
/// [`Error::Random`] if the system RNG fails.
pub fn reseed_message_ids() -> Result<()> {
    let prefix = random_array::<MESSAGE_ID_PREFIX_LEN>()?;
    MESSAGE_IDS.with(|cell| *cell.borrow_mut() = Some(MessageIds { prefix, counter: 0 }));
    Ok(())
}

/// Seals `plaintext` into a new *detached* AEV1 envelope (no embedded wrapped key) bound to
/// `scope` plus an [`EVENT`] entry `event`, and appends it to `out`.
///
/// The bytes are exactly those of [`seal`]`(dek, key_id, &[], &scope.with_event(event)?,
/// plaintext)`; this form builds no context and allocates nothing when `out` has room, for
/// callers that seal many events under one data-key scope (the ledger's ingest). On an error
/// `out` is left as it was.
///
/// # Errors
/// As [`seal`]; [`Error::InvalidContext`] when `scope` plus `event` is not a valid message
/// context.
///
/// ```
/// use spanforge_crypto::{envelope, DataKeyId, Dek, EncryptionContext};
///
/// let dek = Dek::generate()?;
/// let id = DataKeyId::new("tenant-a/key-1")?;
/// let scope = EncryptionContext::for_scope("tenant-a", "ai-call/v1")?;
/// let mut out = b"prefix".to_vec();
/// envelope::seal_event_into(&dek, &id, &scope, "evt-42", b"prompt", &mut out)?;
///
/// let env = envelope::Envelope::parse(&out[6..])?;
/// assert_eq!(&env.open(&dek, &scope.with_event("evt-42")?)?[..], b"prompt");
/// # Ok::<(), spanforge_crypto::Error>(())
/// ```
pub fn seal_event_into(
    dek: &Dek,
    key_id: &DataKeyId,
    scope: &EncryptionContext,
    event: &str,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    scope.check_with_event(event)?;
    let message_id = next_message_id()?;
    seal_into(
        dek,
        key_id,
        &[],
        MessageContext::WithEvent(scope, event),
        plaintext,
        &message_id,
        SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS,
        out,
    )
}

/// [`seal`] with a caller-chosen message id and suite. Crate-private: reusing a message id with
/// the same data key would reuse an AES-GCM key and nonce, so only the fixed-vector tests call
/// this with anything but a fresh id and the current suite.
pub(crate) fn seal_with_message_id(
    dek: &Dek,
    key_id: &DataKeyId,
    edks: &[WrappedDek],
    ctx: &EncryptionContext,
    plaintext: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    suite: u16,
) -> Result<Vec<u8>> {
    if !is_known_suite(suite) {
        return Err(Error::UnsupportedSuite { found: suite });
    }
    ctx.validate_message()?;
    let mut out = Vec::new();
    seal_into(
        dek,
        key_id,
        edks,
        MessageContext::Whole(ctx),
        plaintext,
        message_id,
        suite,
        &mut out,
    )?;
    Ok(out)
}

/// The message context an envelope is bound to: a whole context, or a data-key scope plus the
/// event entry (encoded in place, without building the context).
#[derive(Clone, Copy)]
enum MessageContext<'a> {
    Whole(&'a EncryptionContext),
    WithEvent(&'a EncryptionContext, &'a str),
}

impl MessageContext<'_> {
    fn encoded_len(self) -> usize {
        match self {
            Self::Whole(ctx) => ctx.encoded_len(),
            Self::WithEvent(scope, event) => scope.encoded_len_with_event(event),
        }
    }

    fn encode_into(self, out: &mut Vec<u8>) {
        match self {
            Self::Whole(ctx) => ctx.encode_into(out),
            Self::WithEvent(scope, event) => scope.encode_with_event_into(event, out),
        }
    }
}

/// Appends an envelope sealed under an already validated message context to `out` (left as it
/// was on an error).
#[expect(
    clippy::too_many_arguments,
    reason = "the private core of both public seal functions: each argument is a distinct part of the envelope"
)]
fn seal_into(
    dek: &Dek,
    key_id: &DataKeyId,
    edks: &[WrappedDek],
    ctx: MessageContext<'_>,
    plaintext: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    suite: u16,
    out: &mut Vec<u8>,
) -> Result<()> {
    if edks.len() > MAX_EDKS {
        return Err(Error::TooLarge {
            what: "encrypted data key list",
            len: edks.len(),
            max: MAX_EDKS,
        });
    }
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::TooLarge {
            what: "plaintext",
            len: plaintext.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let aad_len = 4
        + 2
        + 1
        + MESSAGE_ID_LEN
        + 1
        + key_id.as_str().len()
        + ctx.encoded_len()
        + COMMITMENT_LEN
        + 4;
    let edk_len = 1 + edks.iter().map(WrappedDek::encoded_len).sum::<usize>();
    if aad_len + edk_len > MAX_HEADER_LEN {
        return Err(Error::TooLarge {
            what: "AEV1 header",
            len: aad_len + edk_len,
            max: MAX_HEADER_LEN,
        });
    }
    let body_len = plaintext.len() + TAG_LEN;
    let start = out.len();
    out.reserve(aad_len + edk_len + body_len);

    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&suite.to_be_bytes());
    out.push(0); // flags
    out.extend_from_slice(message_id);
    // DataKeyId guarantees 1..=128 bytes, which fits the u8 length.
    out.push(u8::try_from(key_id.as_str().len()).unwrap_or(u8::MAX));
    out.extend_from_slice(key_id.as_str().as_bytes());
    ctx.encode_into(out);
    let (key, nonce) = message_key(dek, suite, message_id);
    out.extend_from_slice(key.commitment.as_slice());
    // body_len <= u32::MAX is guaranteed by the MAX_PLAINTEXT_LEN check above.
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes());
    debug_assert_eq!(out.len() - start, aad_len);

    // Only MAX_EDKS (8) entries were allowed through, so the count fits a u8.
    out.push(u8::try_from(edks.len()).unwrap_or(u8::MAX));
    for edk in edks {
        edk.encode_into(out);
    }
    let body_start = out.len();
    out.extend_from_slice(plaintext);

    let (head, body) = out.split_at_mut(body_start);
    let aad = head.get(start..start + aad_len).unwrap_or_default();
    let tag = match key
        .cipher
        .encrypt_inout_detached(&nonce, aad, InOutBuf::from(body))
    {
        Ok(tag) => tag,
        // aes-gcm only refuses plaintexts over 2^36 bytes or AAD over 2^61, both far beyond
        // the u32 body and 16 KiB header limits checked above.
        Err(_) => {
            out.truncate(start);
            return Err(Error::TooLarge {
                what: "plaintext",
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
    };
    out.extend_from_slice(tag.as_slice());
    Ok(())
}

/// A 96-bit AES-GCM nonce.
type GcmNonce = aes_gcm::aead::Nonce<Aes256Gcm>;

fn is_known_suite(suite: u16) -> bool {
    suite == SUITE_AES256GCM_HKDF_SHA256_COMMIT
        || suite == SUITE_AES256GCM_HKDF_SHA256_COMMIT_BLOCKS
}

/// The AES-GCM key (with its commitment) and the nonce for one message.
///
/// Suite 0x0001 derives both from the whole message id and uses the all-zero nonce. Suite 0x0002
/// derives them from the message id with its last [`BLOCK_INDEX_LEN`] bytes cleared (the
/// *block*), caches them in the data key, and uses those last bytes, left-padded with zeros, as
/// the nonce: a sealing thread's counter never repeats a message id, so the nonce never repeats
/// under a block key (ADR 002, "Block keys").
fn message_key(
    dek: &Dek,
    suite: u16,
    message_id: &[u8; MESSAGE_ID_LEN],
) -> (Arc<BlockKey>, GcmNonce) {
    let make = |info: &[u8; MESSAGE_ID_LEN]| {
        let key = dek.derive(KEY_LABEL, suite, info);
        let cipher = match Aes256Gcm::new_from_slice(key.as_slice()) {
            Ok(c) => c,
            Err(_) => unreachable!("HKDF output is exactly 32 bytes, the AES-256 key size"),
        };
        BlockKey {
            cipher,
            commitment: dek.derive(COMMIT_LABEL, suite, info),
        }
    };
    if suite == SUITE_AES256GCM_HKDF_SHA256_COMMIT {
        return (Arc::new(make(message_id)), GcmNonce::default());
    }
    let split = MESSAGE_ID_LEN - BLOCK_INDEX_LEN;
    let mut block = *message_id;
    block[split..].fill(0);
    let mut nonce = GcmNonce::default();
    let nonce_split = nonce.len() - BLOCK_INDEX_LEN;
    nonce[nonce_split..].copy_from_slice(&message_id[split..]);
    (dek.block_key(suite, &block, || make(&block)), nonce)
}

/// A parsed AEV1 envelope, borrowing the bytes it was parsed from.
///
/// Parsing checks the whole structure (lengths, limits, sorted context, known suite, zero flags,
/// no trailing bytes) but nothing cryptographic: the context, key id and EDKs it exposes are
/// *claims* until [`Envelope::open`] succeeds.
pub struct Envelope<'a> {
    bytes: &'a [u8],
    suite: u16,
    message_id: [u8; MESSAGE_ID_LEN],
    key_id: DataKeyId,
    /// The encoded context (count and entries), validated at parse time.
    context_bytes: &'a [u8],
    /// The decoded context, built on first use: the hot open path compares bytes instead.
    context: OnceLock<EncryptionContext>,
    commitment: [u8; COMMITMENT_LEN],
    aad_end: usize,
    edks: Vec<WrappedDek>,
    body_start: usize,
}

impl<'a> Envelope<'a> {
    /// Parses an envelope, enforcing every structural rule and hard limit. Never panics.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`], [`Error::UnsupportedSuite`], or [`Error::Malformed`] naming
    /// the field and byte offset of the first problem.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let magic = r.take(4, "magic")?;
        if magic[..3] != MAGIC {
            return Err(Error::malformed("magic", 0, "not an AEV envelope"));
        }
        if magic[3] != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { found: magic[3] });
        }
        let suite = r.u16("suite")?;
        if !is_known_suite(suite) {
            return Err(Error::UnsupportedSuite { found: suite });
        }
        let flags_at = r.pos;
        if r.u8("flags")? != 0 {
            return Err(Error::malformed(
                "flags",
                flags_at,
                "reserved flag bits are set",
            ));
        }
        let message_id = r.array::<MESSAGE_ID_LEN>("message_id")?;

        let key_id_at = r.pos;
        let key_id_len = usize::from(r.u8("key_id.len")?);
        if key_id_len == 0 || key_id_len > MAX_DATA_KEY_ID_LEN {
            return Err(Error::malformed(
                "key_id.len",
                key_id_at,
                "data key id length must be 1..=128",
            ));
        }
        let key_id_bytes = r.take(key_id_len, "key_id")?;
        let key_id = std::str::from_utf8(key_id_bytes)
            .ok()
            .and_then(|s| DataKeyId::new(s).ok())
            .ok_or_else(|| Error::malformed("key_id", key_id_at + 1, "not printable ASCII"))?;

        let context_bytes = r.context()?;

        let commitment = r.array::<COMMITMENT_LEN>("commitment")?;
        let body_len_at = r.pos;
        let body_len = usize::try_from(r.u32("body_len")?).unwrap_or(usize::MAX);
        if body_len < TAG_LEN {
            return Err(Error::malformed(
                "body_len",
                body_len_at,
                "shorter than the 16-byte tag",
            ));
        }
        let aad_end = r.pos;
        if aad_end > MAX_HEADER_LEN {
            return Err(Error::malformed(
                "header",
                aad_end,
                "authenticated header exceeds 16 KiB",
            ));
        }

        let count_at = r.pos;
        let count = usize::from(r.u8("edk_count")?);
        if count > MAX_EDKS {
            return Err(Error::malformed(
                "edk_count",
                count_at,
                "more than 8 encrypted data keys",
            ));
        }
        let mut edks = Vec::with_capacity(count);
        for _ in 0..count {
            edks.push(r.wrapped_dek()?);
            if r.pos > MAX_HEADER_LEN {
                return Err(Error::malformed("edk", r.pos, "header exceeds 16 KiB"));
            }
        }
        let body_start = r.pos;
        if r.remaining() != body_len {
            return Err(Error::malformed(
                "body",
                body_start,
                if r.remaining() < body_len {
                    "truncated: fewer bytes than body_len"
                } else {
                    "trailing bytes after the body"
                },
            ));
        }
        Ok(Self {
            bytes,
            suite,
            message_id,
            key_id,
            context_bytes,
            context: OnceLock::new(),
            commitment,
            aad_end,
            edks,
            body_start,
        })
    }

    /// The algorithm suite id.
    #[must_use]
    pub fn suite(&self) -> u16 {
        self.suite
    }

    /// The message id.
    #[must_use]
    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// The id of the data key that sealed the envelope (authenticated once opened).
    #[must_use]
    pub fn key_id(&self) -> &DataKeyId {
        &self.key_id
    }

    /// The message context the envelope claims (authenticated once opened).
    #[must_use]
    pub fn context(&self) -> &EncryptionContext {
        self.context
            .get_or_init(|| decode_context(self.context_bytes))
    }

    /// The data-key scope to unwrap this envelope's data key under: the context without `event`.
    #[must_use]
    pub fn dek_scope(&self) -> EncryptionContext {
        self.context().dek_scope()
    }

    /// The embedded encrypted data keys; empty for a detached envelope.
    #[must_use]
    pub fn edks(&self) -> &[WrappedDek] {
        &self.edks
    }

    /// True when the envelope carries no wrapped key and relies on a key store.
    #[must_use]
    pub fn is_detached(&self) -> bool {
        self.edks.is_empty()
    }

    /// The key commitment stored in the header.
    #[must_use]
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// The authenticated header bytes (the AEAD associated data).
    #[must_use]
    pub fn authenticated_header(&self) -> &'a [u8] {
        self.bytes.get(..self.aad_end).unwrap_or_default()
    }

    /// The body: ciphertext followed by the 16-byte tag.
    #[must_use]
    pub fn body(&self) -> &'a [u8] {
        self.bytes.get(self.body_start..).unwrap_or_default()
    }

    /// Checks that the envelope was sealed for exactly `expected` (same keys, same values).
    ///
    /// # Errors
    /// [`Error::ContextMismatch`] naming the first differing key.
    pub fn check_context(&self, expected: &EncryptionContext) -> Result<()> {
        if expected.encodes_to(self.context_bytes) {
            return Ok(());
        }
        Err(Error::ContextMismatch {
            key: self
                .context()
                .first_difference(expected)
                .unwrap_or_else(|| "(encoding)".to_owned()),
        })
    }

    /// Checks in constant time that `dek` is the data key this envelope committed to.
    ///
    /// # Errors
    /// [`Error::CommitmentMismatch`] for any other key.
    pub fn verify_commitment(&self, dek: &Dek) -> Result<()> {
        self.committed_key(dek).map(|_| ())
    }

    /// The message key and nonce, released only if `dek` matches the commitment (constant time).
    fn committed_key(&self, dek: &Dek) -> Result<(Arc<BlockKey>, GcmNonce)> {
        let (key, nonce) = message_key(dek, self.suite, &self.message_id);
        if bool::from(key.commitment.as_slice().ct_eq(&self.commitment)) {
            Ok((key, nonce))
        } else {
            Err(Error::CommitmentMismatch)
        }
    }

    /// Decrypts the body after checking the context and the key commitment, in that order.
    ///
    /// The plaintext comes back in an ordinary `Vec`: payloads are data, not key material, and
    /// callers usually parse them into other buffers at once. Wrap it in
    /// [`zeroize::Zeroizing`] if it should be wiped on drop.
    ///
    /// # Errors
    /// [`Error::ContextMismatch`] if `expected` differs from the sealed context,
    /// [`Error::CommitmentMismatch`] for the wrong data key, [`Error::AuthenticationFailed`] if
    /// the body or authenticated header was modified.
    pub fn open(&self, dek: &Dek, expected: &EncryptionContext) -> Result<Vec<u8>> {
        let mut plaintext = Vec::new();
        self.open_into(dek, expected, &mut plaintext)?;
        Ok(plaintext)
    }

    /// [`Envelope::open`] into a caller-provided buffer, which is cleared first; on error it is
    /// left empty. Lets a reader reuse one buffer for many envelopes.
    ///
    /// # Errors
    /// As for [`Envelope::open`].
    pub fn open_into(
        &self,
        dek: &Dek,
        expected: &EncryptionContext,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.clear();
        self.check_context(expected)?;
        let (key, nonce) = self.committed_key(dek)?;
        let body = self.body();
        let split = body.len().checked_sub(TAG_LEN).ok_or(Error::malformed(
            "body",
            self.body_start,
            "shorter than the 16-byte tag",
        ))?;
        let (ciphertext, tag) = body.split_at(split);
        let tag = Tag::try_from(tag)
            .map_err(|_| Error::malformed("body", self.body_start + split, "bad tag length"))?;
        out.resize(ciphertext.len(), 0);
        let result = InOutBuf::new(ciphertext, out.as_mut_slice())
            .map_err(|_| Error::AuthenticationFailed)
            .and_then(|buf| {
                key.cipher
                    .decrypt_inout_detached(&nonce, self.authenticated_header(), buf, &tag)
                    .map_err(|_| Error::AuthenticationFailed)
            });
        if result.is_err() {
            // aes-gcm checks the tag before writing any output, so this only drops zeros.
            out.clear();
        }
        result
    }

    /// Re-serializes the envelope with a different set of encrypted data keys, leaving the
    /// authenticated header and the body byte-for-byte unchanged. This is how KEK rotation
    /// re-wraps embedded keys without touching payloads.
    ///
    /// # Errors
    /// [`Error::TooLarge`] for more than [`MAX_EDKS`] keys or a header over [`MAX_HEADER_LEN`].
    pub fn with_edks(&self, edks: &[WrappedDek]) -> Result<Vec<u8>> {
        if edks.len() > MAX_EDKS {
            return Err(Error::TooLarge {
                what: "encrypted data key list",
                len: edks.len(),
                max: MAX_EDKS,
            });
        }
        let edk_len = 1 + edks.iter().map(WrappedDek::encoded_len).sum::<usize>();
        if self.aad_end + edk_len > MAX_HEADER_LEN {
            return Err(Error::TooLarge {
                what: "AEV1 header",
                len: self.aad_end + edk_len,
                max: MAX_HEADER_LEN,
            });
        }
        let body = self.body();
        let mut out = Vec::with_capacity(self.aad_end + edk_len + body.len());
        out.extend_from_slice(self.authenticated_header());
        out.push(u8::try_from(edks.len()).unwrap_or(u8::MAX));
        for edk in edks {
            edk.encode_into(&mut out);
        }
        out.extend_from_slice(body);
        Ok(out)
    }
}

impl std::fmt::Debug for Envelope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("suite", &format_args!("0x{:04x}", self.suite))
            .field("message_id", &hex::encode(self.message_id))
            .field("key_id", &self.key_id)
            .field("context", self.context())
            .field("edks", &self.edks)
            .field("body_len", &self.body().len())
            .finish()
    }
}

/// Decodes a context that [`Reader::context`] has already validated.
fn decode_context(bytes: &[u8]) -> EncryptionContext {
    let mut r = Reader::new(bytes);
    let mut ctx = EncryptionContext::new();
    let Ok(count) = r.u16("context.count") else {
        return ctx;
    };
    for _ in 0..count {
        match (r.str16("context.key"), r.str16("context.value")) {
            (Ok(k), Ok(v)) => {
                // Validation at parse time guarantees sorted, well-formed entries, so this
                // cannot fail; an impossible failure would leave an incomplete context, which
                // then simply fails to match any expected context.
                let _ = ctx.push_sorted(k, v);
            }
            _ => break,
        }
    }
    ctx
}

/// A bounds-checked cursor over untrusted bytes. Every read either succeeds or returns
/// [`Error::Malformed`] with the field name and offset; nothing here can panic.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(Error::malformed(field, self.pos, "truncated"))?;
        let out =
            self.buf
                .get(self.pos..end)
                .ok_or(Error::malformed(field, self.pos, "truncated"))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let at = self.pos;
        self.take(N, field)?
            .try_into()
            .map_err(|_| Error::malformed(field, at, "truncated"))
    }

    fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array::<1>(field)?))
    }

    fn u16(&mut self, field: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array::<2>(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array::<4>(field)?))
    }

    fn str16(&mut self, field: &'static str) -> Result<&'a str> {
        let len = usize::from(self.u16(field)?);
        let at = self.pos;
        let bytes = self.take(len, field)?;
        std::str::from_utf8(bytes).map_err(|_| Error::malformed(field, at, "not valid UTF-8"))
    }

    /// Validates an encoded context in place (no allocation) and returns its bytes: count
    /// limit, key and value rules, strictly increasing keys, and non-empty `tenant`, `event`
    /// and `purpose`.
    fn context(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        let count = usize::from(self.u16("context.count")?);
        if count > crate::context::MAX_ENTRIES {
            return Err(Error::malformed(
                "context.count",
                start,
                "more than 32 context entries",
            ));
        }
        let mut previous: Option<&str> = None;
        let mut required = [false; 3];
        for _ in 0..count {
            let at = self.pos;
            let key = self.str16("context.key")?;
            let value = self.str16("context.value")?;
            if let Some(reason) = key_problem(key).or_else(|| value_problem(value)) {
                return Err(Error::malformed("context", at, reason));
            }
            if previous.is_some_and(|p| p.as_bytes() >= key.as_bytes()) {
                return Err(Error::malformed(
                    "context",
                    at,
                    "context keys are not strictly sorted",
                ));
            }
            previous = Some(key);
            for (seen, name) in required.iter_mut().zip([TENANT, EVENT, PURPOSE]) {
                *seen |= key == name && !value.is_empty();
            }
        }
        if required.contains(&false) {
            return Err(Error::malformed(
                "context",
                start,
                "missing or empty required entry (tenant, event, purpose)",
            ));
        }
        self.buf
            .get(start..self.pos)
            .ok_or(Error::malformed("context", start, "truncated"))
    }

    pub(crate) fn wrapped_dek(&mut self) -> Result<WrappedDek> {
        let at = self.pos;
        let code = self.u8("edk.provider")?;
        let provider = ProviderId::from_code(code).ok_or(Error::malformed(
            "edk.provider",
            at,
            "unknown provider code",
        ))?;
        let key_id_at = self.pos;
        let key_id = self.str16("edk.key_id")?;
        let blob_len_at = self.pos;
        let blob_len = usize::from(self.u16("edk.blob")?);
        let blob = self.take(blob_len, "edk.blob")?;
        WrappedDek::new(provider, key_id, blob.to_vec()).map_err(|e| match e {
            Error::InvalidInput {
                what: "wrapped data key",
                ..
            } => Error::malformed("edk.blob", blob_len_at, "empty or over 4096 bytes"),
            _ => Error::malformed(
                "edk.key_id",
                key_id_at,
                "empty, too long or contains whitespace",
            ),
        })
    }

    pub(crate) fn finish(&self, field: &'static str) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::malformed(field, self.pos, "trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests;
