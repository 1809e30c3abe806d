//! A strict, allocation-free reader of the fields verification needs from a stored envelope.
//!
//! The ledger stores every event as its canonical JSON (compact, keys in code-point order, strings
//! escaped only where JSON requires it). [`scan`] walks such an envelope once, borrowing the
//! values of the members that verification compares or signs (`event_id`, `event_type`,
//! `timestamp`, `org_id`, `actor_id`, `session_id`, `prev_id`, `checksum`, `signature`), the span
//! of the payload (the checksum's input) and the model id the payload names, and checks the JSON
//! grammar of everything it skips.
//!
//! It accepts only the plain shape: top-level keys strictly increasing, no whitespace, no `null`
//! member, the extracted strings without escapes, the payload a non-empty object, nesting at most
//! [`MAX_DEPTH`] deep. Anything else returns `None` and the caller parses the envelope with the
//! full event parser, which either accepts it or says exactly what is wrong. Nothing here decides
//! that an event is authentic: the caller still recomputes the leaf hash over every stored byte,
//! the checksum over the payload span and the HMAC over the extracted ids.
//!
//! It reads bytes and returns bytes, checking the JSON grammar only: whether the text is UTF-8 is
//! left to the caller, which compares the returned values with the stored index columns (which
//! are text) or parses them as ASCII formats, and covers the rest through the leaf hash, the
//! signed checksum and the checkpoints (see [`crate::verify`]).

use std::ops::Range;

use spanforge_event::json::{compare_keys, scan_plain};
use spanforge_event::timestamp::TIMESTAMP_LEN;
use spanforge_event::ulid::ULID_LEN;

/// `sha256:` and 64 hex digits.
const CHECKSUM_LEN: usize = 7 + 64;
/// `hmac-sha256:` and 64 hex digits.
const SIGNATURE_LEN: usize = 12 + 64;

/// Values nested deeper than this outside the payload are left to the full parser.
pub(crate) const MAX_DEPTH: usize = 64;

/// The deepest container the payload may hold, counting the payload itself as 1: a non-empty
/// container at the next level would put the payload over the event's depth limit (its scalars
/// count one more), so the scanner leaves such payloads to the full parser.
const PAYLOAD_CONTAINER_DEPTH: usize = spanforge_event::MAX_PAYLOAD_DEPTH - 1;

/// The members of a stored envelope that verification reads, borrowed from it: the bytes between
/// each string's quotes.
///
/// `event_id`, `prev_id`, `timestamp`, `checksum` and `signature` have formats of a fixed length
/// (a ULID, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, `sha256:` or `hmac-sha256:` and 64 hex digits), and
/// are taken by that length without their bytes being looked at: a value of another length is
/// declined, and every caller must check each against its format, which no quote, backslash or
/// control character passes (so a value that hid one, and the structure read after it, is never
/// accepted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scanned<'a> {
    pub(crate) event_id: &'a [u8],
    pub(crate) event_type: &'a [u8],
    pub(crate) timestamp: &'a [u8],
    pub(crate) org_id: Option<&'a [u8]>,
    pub(crate) actor_id: Option<&'a [u8]>,
    pub(crate) session_id: Option<&'a [u8]>,
    pub(crate) prev_id: Option<&'a [u8]>,
    pub(crate) checksum: Option<&'a [u8]>,
    pub(crate) signature: Option<&'a [u8]>,
    /// Where the payload's text lies in the envelope.
    pub(crate) payload: Range<usize>,
    /// What [`spanforge_event::Event::model_id`] returns for this payload.
    pub(crate) model_id: Option<&'a [u8]>,
}

/// Reads `text` as described in the module docs, or returns `None` for the full parser.
pub(crate) fn scan(text: &[u8]) -> Option<Scanned<'_>> {
    let mut c = Cursor {
        b: text,
        pos: 0,
        limit: MAX_DEPTH,
    };
    let mut out = Scanned::default();
    let mut seen = [false; 3]; // event_id, event_type, timestamp
    let mut payload = None;
    c.eat(b'{')?;
    let mut last: Option<&[u8]> = None;
    if c.peek()? == b'}' {
        return None;
    }
    loop {
        let key = c.plain_string()?;
        if last.is_some_and(|l| compare_keys(l, key).is_ge()) {
            return None;
        }
        last = Some(key);
        c.eat(b':')?;
        match key {
            b"event_id" => {
                seen[0] = true;
                out.event_id = c.fixed_string(ULID_LEN)?;
            }
            b"event_type" => {
                seen[1] = true;
                out.event_type = c.plain_string()?;
            }
            b"timestamp" => {
                seen[2] = true;
                out.timestamp = c.fixed_string(TIMESTAMP_LEN)?;
            }
            b"prev_id" => out.prev_id = Some(c.fixed_string(ULID_LEN)?),
            b"checksum" => out.checksum = Some(c.fixed_string(CHECKSUM_LEN)?),
            b"signature" => out.signature = Some(c.fixed_string(SIGNATURE_LEN)?),
            b"org_id" | b"actor_id" | b"session_id" => {
                let value = c.plain_string()?;
                if value.is_empty() {
                    return None;
                }
                let slot = match key {
                    b"org_id" => &mut out.org_id,
                    b"actor_id" => &mut out.actor_id,
                    _ => &mut out.session_id,
                };
                *slot = Some(value);
            }
            b"payload" => {
                let start = c.pos;
                out.model_id = c.payload()?;
                payload = Some(start..c.pos);
            }
            _ => {
                // Any other member: a JSON value, not `null` (the canonical form drops nulls).
                if c.peek()? == b'n' {
                    return None;
                }
                c.skip_value(0)?;
            }
        }
        match c.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    if c.pos != c.b.len() || seen != [true; 3] {
        return None;
    }
    out.payload = payload?;
    Some(out)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    /// The deepest container [`Cursor::skip_value`] enters.
    limit: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// The `len` bytes of a string whose format fixes its length, taken without looking at
    /// them (see [`Scanned`]); `None` unless a quote closes it there.
    #[inline(always)]
    fn fixed_string(&mut self, len: usize) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = start.checked_add(len)?;
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        self.b.get(start..end)
    }

    /// The bytes of a string without escapes or control characters.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = scan_plain(self.b, start);
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        self.b.get(start..end)
    }

    /// Any JSON string, escapes checked.
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.pos = scan_plain(self.b, self.pos);
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.next()?.is_ascii_hexdigit() {
                                return None;
                            }
                        }
                    }
                    _ => return None,
                },
                // A control character.
                _ => return None,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.b.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// Any compact JSON value; `depth` is the nesting of the value's container.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                let depth = depth + 1;
                if depth > self.limit {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.skip_value(depth)?;
                    match self.next()? {
                        b',' => {}
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let depth = depth + 1;
                if depth > self.limit {
                    return None;
                }
                self.pos += 1;
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth)?;
                    match self.next()? {
                        b',' => {}
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.skip_number(),
        }
    }

    /// The payload: a non-empty object whose keys strictly increase. Returns the model id as
    /// [`spanforge_event::Event::model_id`] finds it: `model.name`, else `model_id`, else
    /// `model` when that is a string; empty strings and other shapes are skipped.
    fn payload(&mut self) -> Option<Option<&'a [u8]>> {
        self.limit = PAYLOAD_CONTAINER_DEPTH;
        let model = self.payload_members();
        self.limit = MAX_DEPTH;
        model
    }

    fn payload_members(&mut self) -> Option<Option<&'a [u8]>> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            return None;
        }
        let mut last: Option<&[u8]> = None;
        let (mut model_name, mut model_id, mut model_str) = (None, None, None);
        loop {
            // Payload keys with escapes go to the full parser, so that "model" is never missed.
            let key = self.plain_string()?;
            if last.is_some_and(|l| compare_keys(l, key).is_ge()) {
                return None;
            }
            last = Some(key);
            self.eat(b':')?;
            match (key, self.peek()?) {
                (b"model", b'"') => model_str = Some(self.plain_string()?),
                (b"model", b'{') => model_name = self.model_object()?,
                (b"model_id", b'"') => model_id = Some(self.plain_string()?),
                _ => self.skip_value(1)?,
            }
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        let non_empty = |s: Option<&'a [u8]>| s.filter(|s| !s.is_empty());
        Some(
            non_empty(model_name)
                .or(non_empty(model_id))
                .or(non_empty(model_str)),
        )
    }

    /// `payload.model` as an object: its `name` when that is a plain string.
    fn model_object(&mut self) -> Option<Option<&'a [u8]>> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(None);
        }
        let mut last: Option<&[u8]> = None;
        let mut name = None;
        loop {
            let key = self.plain_string()?;
            if last.is_some_and(|l| compare_keys(l, key).is_ge()) {
                return None;
            }
            last = Some(key);
            self.eat(b':')?;
            if key == b"name" && self.peek()? == b'"' {
                name = Some(self.plain_string()?);
            } else {
                self.skip_value(2)?;
            }
            match self.next()? {
                b',' => {}
                b'}' => return Some(name),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use spanforge_event::Event;

    use super::*;

    const SIGNED: &str = concat!(
        r#"{"actor_id":"user-1","checksum":"sha256:0000000000000000000000000000000000000000000000000000000000000000","event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","#,
        r#""event_type":"llm.trace.span.completed","org_id":"acme","#,
        r#""payload":{"duration_ms":1250.5,"model":{"name":"gpt-4o","system":"openai"},"n":[1,-2,3e5,{"a":null}],"ok":true,"s":"a\"b\u00e9"},"#,
        r#""prev_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2","schema_version":"2.0","session_id":"s-1","#,
        r#""signature":"hmac-sha256:1111111111111111111111111111111111111111111111111111111111111111","source":"bot@1.0.0","tags":{"env":"prod"},"#,
        r#""timestamp":"2026-01-03T10:00:01.250000Z","x_unknown":[false]}"#
    );

    #[test]
    fn reads_the_members_verification_needs() {
        let s = scan(SIGNED.as_bytes()).expect("the plain shape");
        assert_eq!(s.event_id, b"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3");
        assert_eq!(s.event_type, b"llm.trace.span.completed");
        assert_eq!(s.timestamp, b"2026-01-03T10:00:01.250000Z");
        assert_eq!(s.org_id, Some(&b"acme"[..]));
        assert_eq!(s.actor_id, Some(&b"user-1"[..]));
        assert_eq!(s.session_id, Some(&b"s-1"[..]));
        assert_eq!(s.prev_id, Some(&b"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2"[..]));
        assert_eq!(
            s.checksum,
            Some(format!("sha256:{}", "0".repeat(64)).as_bytes())
        );
        assert_eq!(
            s.signature,
            Some(format!("hmac-sha256:{}", "1".repeat(64)).as_bytes())
        );
        assert_eq!(s.model_id, Some(&b"gpt-4o"[..]));
        let payload = &SIGNED[s.payload.clone()];
        assert!(payload.starts_with(r#"{"duration_ms""#), "{payload}");
        assert!(payload.ends_with(r#""s":"a\"b\u00e9"}"#), "{payload}");
    }

    #[test]
    fn model_id_follows_the_event_rule() {
        let base = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":PAYLOAD,"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
        for payload in [
            r#"{"model":{"name":"a"},"model_id":"b"}"#,
            r#"{"model":{"name":""},"model_id":"b"}"#,
            r#"{"model":"c","model_id":"b"}"#,
            r#"{"model":"c"}"#,
            r#"{"model":"","model_id":""}"#,
            r#"{"model":{"system":"x"}}"#,
            r#"{"model":{},"ok":1}"#,
            r#"{"model":7,"model_id":"b"}"#,
            r#"{"model":{"name":3},"model_id":"b"}"#,
            r#"{"ok":true}"#,
        ] {
            let text = base.replace("PAYLOAD", payload);
            let event = Event::from_json_str(&text).expect("valid");
            let scanned = scan(text.as_bytes()).expect("the plain shape");
            assert_eq!(
                scanned.model_id,
                event.model_id().map(str::as_bytes),
                "{payload}"
            );
            assert_eq!(&text[scanned.payload.clone()], payload);
        }
    }

    #[test]
    fn declines_everything_but_the_plain_shape() {
        let declined = [
            "",
            "{}",
            "[]",
            "{\"event_id\":\"x\"}",
            // whitespace, order, duplicates, nulls, escapes in read fields, trailing bytes
            &SIGNED.replace(r#""org_id":"acme""#, r#""org_id": "acme""#),
            &SIGNED.replace(r#""actor_id":"user-1","#, "") .replace(r#""x_unknown""#, r#""actor_id":"u","y""#),
            &SIGNED.replace(r#""org_id":"acme""#, r#""org_id":"acme","org_id":"acme""#),
            &SIGNED.replace(r#""tags":{"env":"prod"}"#, r#""tags":null"#),
            &SIGNED.replace(r#""org_id":"acme""#, r#""org_id":"ac\u006de""#),
            &SIGNED.replace(r#""org_id":"acme""#, r#""org_id":"""#),
            &format!("{SIGNED} "),
            &SIGNED.replace(r#""payload":{"#, r#""payload":{"b":1,"a":2,"#),
            &SIGNED.replace(r#""payload":{"duration_ms":1250.5,"model":{"name":"gpt-4o","system":"openai"},"n":[1,-2,3e5,{"a":null}],"ok":true,"s":"a\"b\u00e9"}"#, r#""payload":{}"#),
            &SIGNED.replace("3e5", "03"),
            &SIGNED.replace("3e5", "1."),
            &SIGNED.replace("3e5", "NaN"),
            &SIGNED.replace("true", "tru"),
            &SIGNED.replace(r#""a\"b"#, r#""a\qb"#),
            &SIGNED.replace(r#""timestamp""#, r#""timestamq""#),
        ];
        for text in declined {
            assert_eq!(scan(text.as_bytes()), None, "{text}");
        }
        let deep = SIGNED.replace("[false]", &format!("{}{}", "[".repeat(70), "]".repeat(70)));
        assert_eq!(scan(deep.as_bytes()), None);
    }

    #[test]
    fn accepts_no_payload_the_event_rejects_for_depth() {
        for n in 0..14 {
            let payload = format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
            let text = format!(
                r#"{{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{payload},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}}"#
            );
            let parsed = Event::from_json_str(&text);
            if scan(text.as_bytes()).is_some() {
                assert!(parsed.is_ok(), "depth {n}");
            }
            if n < 8 {
                assert!(scan(text.as_bytes()).is_some(), "depth {n}");
            }
        }
    }

    #[test]
    fn fixed_length_members_are_taken_by_length_and_declined_at_any_other() {
        // One digit more or less: declined.
        for (from, to) in [("sha256:0", "sha256:00"), ("sha256:00", "sha256:0")] {
            let text = SIGNED.replacen(from, to, 1);
            assert_eq!(scan(text.as_bytes()), None);
        }
        let text = SIGNED.replace("01KDZ5T8Q3M9V6W2X4Y7Z0A1B2", "01KDZ5T8Q3M9V6W2X4Y7Z0A1B");
        assert_eq!(scan(text.as_bytes()), None);
        let text = SIGNED.replace(".250000Z", ".25000Z");
        assert_eq!(scan(text.as_bytes()), None);
        // A quote hidden at the right length is returned as it stands: the caller's format check
        // (here the checksum's) refuses it.
        let hidden = format!("sha256:{}\"{}", "0".repeat(30), "0".repeat(33));
        let text = SIGNED.replacen(&format!("sha256:{}", "0".repeat(64)), &hidden, 1);
        let s = scan(text.as_bytes()).expect("taken by length");
        assert_eq!(s.checksum, Some(hidden.as_bytes()));
        let zero = spanforge_event::Checksum::from_digest([0; 32]);
        assert!(zero.matches_wire(format!("sha256:{}", "0".repeat(64)).as_bytes()));
        assert!(!zero.matches_wire(hidden.as_bytes()));
    }

    #[test]
    fn never_panics_on_truncations() {
        for end in 0..SIGNED.len() {
            if let Some(prefix) = SIGNED.get(..end) {
                assert_eq!(scan(prefix.as_bytes()), None, "{prefix}");
            }
        }
    }
}
