//! A strict, byte-level JSON parser that accepts what Python's `json.loads` accepts (minus
//! duplicate keys and lone surrogates) and builds a [`Value`] tree.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::number::{Number, float_text_is_canonical};
use super::value::{Key, Map, Str, Value};

/// Limits applied while parsing untrusted text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest [`Value::depth`] the document may have (a scalar has depth 1, `[[]]` depth 2).
    /// The default is 128. Values above [`Limits::HARD_MAX_DEPTH`] are lowered to it.
    pub max_depth: usize,
    /// The most digits an integer literal may have. The default, 4300, is CPython's
    /// `sys.get_int_max_str_digits()` default: the reference SDK's `json.loads` raises `ValueError`
    /// on longer integers, so nothing longer can appear in an event it produced or accepted.
    pub max_int_digits: usize,
}

impl Limits {
    /// The ceiling on [`Limits::max_depth`], CPython's default recursion limit, which also bounds
    /// how deep `json.loads` can nest. The parser itself does not recurse, but dropping, comparing
    /// and writing a value do, once per level; this ceiling keeps that well inside a 2 MiB thread
    /// stack.
    pub const HARD_MAX_DEPTH: usize = 1000;

    /// Returns these limits with `max_depth` replaced.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Returns these limits with `max_int_digits` replaced.
    #[must_use]
    pub fn with_max_int_digits(mut self, max_int_digits: usize) -> Self {
        self.max_int_digits = max_int_digits;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 128,
            max_int_digits: 4300,
        }
    }
}

/// What went wrong in a [`ParseError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input is empty or holds only whitespace.
    #[error("empty input: expected a JSON value")]
    EmptyInput,
    /// The input starts with a UTF-8 byte order mark, which Python's `json.loads` rejects too.
    #[error("unexpected byte order mark (U+FEFF): expected a JSON value")]
    ByteOrderMark,
    /// The input is not valid UTF-8 (only from [`parse_slice`](super::parse_slice)).
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The input ended where more was required.
    #[error("unexpected end of input: expected {expected}")]
    UnexpectedEnd {
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// A character appeared where something else was required.
    #[error("unexpected {}: expected {expected}", describe(.found))]
    UnexpectedChar {
        /// The character found.
        found: char,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// More text follows the complete JSON value.
    #[error("unexpected {} after the JSON value: expected end of input", describe(.found))]
    TrailingContent {
        /// The first character after the value.
        found: char,
    },
    /// A comma directly before `]` or `}`.
    #[error("trailing comma before '{close}': expected another {expected}")]
    TrailingComma {
        /// The closing bracket found.
        close: char,
        /// `"value"` in arrays, `"member"` in objects.
        expected: &'static str,
    },
    /// A number with a redundant leading zero, such as `01`.
    #[error("leading zero in a number: expected '.', 'e', 'E' or the end of the number after '0'")]
    LeadingZero,
    /// An integer literal longer than [`Limits::max_int_digits`].
    #[error("integer literal has {digits} digits, more than the limit of {limit}")]
    IntegerTooLong {
        /// Digits in the literal.
        digits: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A string was opened and never closed.
    #[error("unterminated string: expected a closing '\"'")]
    UnterminatedString,
    /// An unescaped control character (below U+0020) inside a string.
    #[error(
        "unescaped control character U+{code:04X} in string: \
         expected it written as an escape such as \\u{code:04x}"
    )]
    ControlCharacter {
        /// The character's code point.
        code: u32,
    },
    /// A backslash followed by a character that does not start an escape.
    #[error(
        "invalid escape '\\{}' in string: \
         expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
        .found.escape_debug()
    )]
    InvalidEscape {
        /// The character after the backslash.
        found: char,
    },
    /// `\u` not followed by four hexadecimal digits.
    #[error("invalid \\u escape in string: expected four hexadecimal digits after \\u")]
    InvalidUnicodeEscape,
    /// A `\uD800`–`\uDFFF` escape that is not part of a high-low surrogate pair.
    #[error(
        "lone surrogate \\u{code:04x} in string: expected a high surrogate (\\ud800-\\udbff) \
         followed by a low surrogate (\\udc00-\\udfff); a lone surrogate cannot be encoded \
         as UTF-8, so it could never be checksummed"
    )]
    LoneSurrogate {
        /// The surrogate code unit.
        code: u32,
    },
    /// The same key appears twice in one object.
    #[error(
        "duplicate key {key:?} in object: expected each key once (duplicates are rejected \
         because readers disagree on which value wins)"
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// The document nests deeper than [`Limits::max_depth`].
    #[error("nesting too deep: expected a depth of at most {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
}

fn describe(c: &char) -> String {
    format!("character '{}'", c.escape_debug())
}

/// A JSON syntax error with its position: 1-based line and column (counted in characters, as Python
/// counts them) and the 0-based byte offset.
///
/// The details are boxed so that a `Result<Value, ParseError>` stays small on the success path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(Box<ErrorDetail>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorDetail {
    kind: ParseErrorKind,
    line: usize,
    column: usize,
    offset: usize,
}

impl ParseError {
    fn at(text: &str, offset: usize, kind: ParseErrorKind) -> Self {
        // The offset always falls on a character boundary (errors are reported at the start of a
        // character or at the end of input); `get` falls back to the whole text rather than
        // panicking should that ever be wrong.
        let before = text.get(..offset).unwrap_or(text);
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = 1 + before.get(line_start..).map_or(0, |s| s.chars().count());
        ParseError(Box::new(ErrorDetail {
            kind,
            line,
            column,
            offset,
        }))
    }

    /// Builds an error for invalid UTF-8 at byte `offset`, with `valid` the text before it.
    pub(crate) fn invalid_utf8(valid: &str, offset: usize) -> Self {
        Self::at(valid, offset, ParseErrorKind::InvalidUtf8)
    }

    /// Returns what went wrong.
    #[must_use]
    pub fn kind(&self) -> &ParseErrorKind {
        &self.0.kind
    }

    /// Returns the 1-based line of the error.
    #[must_use]
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// Returns the 1-based column of the error, counted in characters.
    #[must_use]
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// Returns the 0-based byte offset of the error.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.0.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {}, column {} (byte {})",
            self.0.kind, self.0.line, self.0.column, self.0.offset
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses `text` with the default [`Limits`].
///
/// # Errors
/// Returns a [`ParseError`] for anything Python's `json.loads` rejects, and also for duplicate keys
/// in one object, lone surrogate escapes, integers longer than 4300 digits and nesting deeper than
/// 128.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    parse_with_limits(text, Limits::default())
}

/// Parses `text` with the given [`Limits`].
///
/// # Errors
/// As [`parse`], with the limits given.
pub fn parse_with_limits(text: &str, limits: Limits) -> Result<Value, ParseError> {
    Parser::new(text, limits).document()
}

/// Parses `text` with the default [`Limits`] and reports whether `text` already is the canonical text of the value
/// ([`to_canonical_string`](super::to_canonical_string) would write exactly these bytes).
///
/// The check runs while parsing, at almost no cost: the text is canonical when it has no whitespace, the keys of
/// every object strictly increase in code point order, every number is written as the canonical writer writes it
/// (`1.0` but not `1.00`, `1E5`, `-0` or `1e400`) and every string escape is the one the canonical writer uses
/// (`\n` and `\u001f`, but not `\/`, `\u0041` or `\u001F`). Text written by the reference SDK's `to_json()` or
/// by this crate's writer passes, so a caller can keep such text as the value's canonical form instead of writing
/// it again.
///
/// ```
/// use spanforge_event::json::{parse_and_check_canonical, to_canonical_string};
///
/// let (value, canonical) = parse_and_check_canonical(r#"{"a":[1.0,"\n"],"b":null}"#)?;
/// assert!(canonical);
/// let (same, canonical) = parse_and_check_canonical(r#"{"b": null, "a": [1.00, "\u000a"]}"#)?;
/// assert!(!canonical);
/// assert_eq!(same, value);
/// assert_eq!(to_canonical_string(&same), r#"{"a":[1.0,"\n"],"b":null}"#);
/// # Ok::<(), spanforge_event::json::ParseError>(())
/// ```
///
/// # Errors
/// As [`parse`].
pub fn parse_and_check_canonical(text: &str) -> Result<(Value, bool), ParseError> {
    let mut parser = Parser::new(text, Limits::default());
    let value = parser.document()?;
    Ok((value, parser.canonical))
}

/// Returns the index of the first byte at or after `from` that ends a run of plain string content
/// (`"`, `\\` or a control character below 0x20), or `bytes.len()` if there is none.
///
/// Eight bytes are tested at a time with word arithmetic ("SWAR"): for each byte lane, the classic
/// `(x - 0x01..) & !x & 0x80..` test flags a zero byte, so XOR-ing with a repeated `"` or `\\`
/// flags those bytes, and `(x - 0x20..) & !x & 0x80..` flags bytes below 0x20. Lanes above the
/// first flagged one can be flagged spuriously by borrows, but the lowest flag is always exact.
///
/// Public for other scanners of canonical JSON text (the store's verification scanner).
#[inline]
#[must_use]
pub fn scan_plain(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(lanes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(lanes);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let flags = flags & HIGH;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// An array or object whose members are still being read; `start` is where its members begin on
/// the shared scratch stack.
enum Frame {
    Array {
        start: usize,
    },
    Object {
        start: usize,
        /// Offset of the `{`, to locate a duplicate key on the error path.
        open: usize,
        /// The key of the member whose value is being read.
        key: Key,
        /// Whether the keys so far arrived in strictly ascending order.
        sorted: bool,
    },
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
    max_int_digits: usize,
    /// The nesting level at which [`Parser::value`] reads: 0 for a whole document, 1 for the members of a
    /// top-level object read by [`MemberReader`].
    base_depth: usize,
    /// Whether everything read so far is byte for byte the canonical text of what it denotes. Any whitespace, an
    /// object whose keys are out of order, a number or an escape written otherwise than the canonical writer
    /// writes it clears it for good.
    canonical: bool,
    /// Work space for [`Parser::value`], kept between the values of one document so that it is allocated once.
    scratch: Scratch,
    /// The [`Value::depth`] of the value [`Parser::value`] read last, counted while reading it.
    last_depth: usize,
}

/// The open containers and the members waiting in them, shared by all nesting levels.
#[derive(Default)]
struct Scratch {
    stack: Vec<Frame>,
    items: Vec<Value>,
    members: Vec<(Key, Value)>,
}

type PResult<T> = Result<T, ParseError>;

/// Words that describe what was expected, shared by several error sites.
const A_VALUE: &str =
    "a JSON value (object, array, string, number, true, false, null, NaN or Infinity)";

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: Limits) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            max_depth: limits.max_depth.min(Limits::HARD_MAX_DEPTH),
            max_int_digits: limits.max_int_digits,
            base_depth: 0,
            canonical: true,
            scratch: Scratch::default(),
            last_depth: 0,
        }
    }

    fn error_at(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::at(self.text, offset, kind)
    }

    /// An "unexpected character" or "unexpected end" error at the current position.
    fn unexpected(&self, expected: &'static str) -> ParseError {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(found) => {
                self.error_at(self.pos, ParseErrorKind::UnexpectedChar { found, expected })
            }
            None => self.error_at(self.pos, ParseErrorKind::UnexpectedEnd { expected }),
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
            self.canonical = false;
        }
    }

    fn document(&mut self) -> PResult<Value> {
        if self.text.starts_with('\u{feff}') {
            return Err(self.error_at(0, ParseErrorKind::ByteOrderMark));
        }
        self.skip_whitespace();
        if self.pos >= self.bytes.len() {
            return Err(self.error_at(self.pos, ParseErrorKind::EmptyInput));
        }
        let value = self.value()?;
        self.skip_whitespace();
        if let Some(found) = self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            return Err(self.error_at(self.pos, ParseErrorKind::TrailingContent { found }));
        }
        Ok(value)
    }

    /// Parses one complete value, nested or not, at the current position.
    ///
    /// The parser keeps its own stack of open arrays and objects instead of recursing, so no input
    /// can exhaust the thread's stack while parsing, whatever the depth limit. Members of all open
    /// containers wait on two shared scratch stacks; when a container closes, its members move
    /// into one exactly sized allocation. Whitespace after the value is left unread.
    fn value(&mut self) -> PResult<Value> {
        if let Some(b'{' | b'[') = self.peek()
            && self.scratch.stack.capacity() == 0
        {
            // Event payloads nest a few levels with a dozen or so members open at once: reserving that much once
            // saves growing the vectors a step at a time.
            self.scratch.stack.reserve(8);
            self.scratch.members.reserve(16);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.value_in(&mut scratch);
        // An error can leave members behind; the space is kept, empty, for the next value.
        scratch.stack.clear();
        scratch.items.clear();
        scratch.members.clear();
        self.scratch = scratch;
        result
    }

    fn value_in(&mut self, scratch: &mut Scratch) -> PResult<Value> {
        let Scratch {
            stack,
            items,
            members,
        } = scratch;
        // A value that starts at nesting level `n` below this one makes the depth at least `n + 1`, and the
        // deepest such start sets it, which is what `Value::depth` computes afterwards.
        let mut deepest = 0;
        'value: loop {
            deepest = deepest.max(stack.len());
            // A value starts here at nesting level `base_depth + stack.len()`; it adds one more
            // than that to the depth.
            if self.base_depth + stack.len() >= self.max_depth {
                let limit = self.max_depth;
                return Err(self.error_at(self.pos, ParseErrorKind::TooDeep { limit }));
            }
            let mut done = match self.peek() {
                Some(b'{') => {
                    let open = self.pos;
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Map::new())
                    } else {
                        if self.peek() != Some(b'"') {
                            return Err(self.unexpected("'\"' to start an object key, or '}'"));
                        }
                        let key = self.member_key()?;
                        let start = members.len();
                        stack.push(Frame::Object {
                            start,
                            open,
                            key,
                            sorted: true,
                        });
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array { start: items.len() });
                        continue 'value;
                    }
                }
                Some(b'"') => Value::String(Str::new(&self.string_cow()?)),
                Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
                Some(b't') => self.literal("true", "the literal true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", "the literal false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", "the literal null", Value::Null)?,
                Some(b'N') => {
                    let nan = Value::Number(Number::from_f64(f64::NAN));
                    self.literal("NaN", "the literal NaN", nan)?
                }
                Some(b'I') => {
                    let infinity = Value::Number(Number::from_f64(f64::INFINITY));
                    self.literal("Infinity", "the literal Infinity", infinity)?
                }
                _ => return Err(self.unexpected(A_VALUE)),
            };
            // A value is complete: hand it to the innermost open container, closing containers as
            // they end.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.last_depth = deepest + 1;
                    return Ok(done);
                };
                self.skip_whitespace();
                match frame {
                    Frame::Array { start } => {
                        items.push(done);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_whitespace();
                                if self.peek() == Some(b']') {
                                    let kind = ParseErrorKind::TrailingComma {
                                        close: ']',
                                        expected: "value",
                                    };
                                    return Err(self.error_at(self.pos, kind));
                                }
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                // `split_off` moves the members out with one copy into an exactly sized vector.
                                done = Value::Array(items.split_off(*start));
                                stack.pop();
                            }
                            _ => return Err(self.unexpected("',' or ']' after an array element")),
                        }
                    }
                    Frame::Object {
                        start,
                        open,
                        key,
                        sorted,
                    } => {
                        let member = std::mem::take(key);
                        if members.len() > *start
                            && let Some((last, _)) = members.last()
                        {
                            *sorted &= compare_keys(last.as_bytes(), member.as_bytes()).is_lt();
                        }
                        members.push((member, done));
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_whitespace();
                                match self.peek() {
                                    Some(b'"') => {}
                                    Some(b'}') => {
                                        let kind = ParseErrorKind::TrailingComma {
                                            close: '}',
                                            expected: "member",
                                        };
                                        return Err(self.error_at(self.pos, kind));
                                    }
                                    _ => return Err(self.unexpected("'\"' to start an object key")),
                                }
                                *key = self.member_key()?;
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let (start, open, sorted) = (*start, *open, *sorted);
                                let entries = members.get_mut(start..).unwrap_or_default();
                                if !sorted {
                                    self.canonical = false;
                                    self.sort_members(open, entries)?;
                                }
                                let map = Map::from_sorted_unique(members.split_off(start));
                                done = Value::Object(map);
                                stack.pop();
                            }
                            _ => return Err(self.unexpected("',' or '}' after an object member")),
                        }
                    }
                }
            }
        }
    }

    /// Parses an object key at its opening quote and the ':' after it, leaving the position at the
    /// value.
    fn member_key(&mut self) -> PResult<Key> {
        let key = Key::new(&self.string_cow()?);
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.unexpected("':' after an object key"));
        }
        self.pos += 1;
        self.skip_whitespace();
        Ok(key)
    }

    /// Sorts the members of one object by key, rejecting duplicate keys.
    fn sort_members(&self, open: usize, entries: &mut [(Key, Value)]) -> PResult<()> {
        // Input written with `sort_keys=True` arrives sorted and never gets here. Otherwise sort;
        // then any duplicate sits next to its twin.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = entries
            .windows(2)
            .find(|w| matches!(w, [a, b] if a.0 == b.0))
        {
            let key = pair
                .first()
                .map(|(k, _)| String::from(k.as_str()))
                .unwrap_or_default();
            let offset = self.locate_second_key(open, &key);
            return Err(self.error_at(offset, ParseErrorKind::DuplicateKey { key }));
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, expected: &'static str, value: Value) -> PResult<Value> {
        for &w in word.as_bytes() {
            if self.peek() != Some(w) {
                return Err(self.unexpected(expected));
            }
            self.pos += 1;
        }
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> PResult<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                let _ = self.literal("Infinity", "the literal -Infinity", Value::Null)?;
                return Ok(Number::from_f64(f64::NEG_INFINITY));
            }
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error_at(int_start, ParseErrorKind::LeadingZero));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit (or Infinity) after '-'")),
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after the decimal point"));
            }
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
            is_float = true;
        }
        if is_float {
            // The slice is ASCII and matches the JSON number grammar, a subset of what
            // `f64::from_str` accepts; the conversion is correctly rounded, overflows to ±infinity
            // and underflows to ±0, like Python's float().
            let literal = self.text.get(start..self.pos).unwrap_or("NaN");
            let value: f64 = literal.parse().unwrap_or(f64::NAN);
            if self.canonical && !float_text_is_canonical(literal, value) {
                self.canonical = false;
            }
            return Ok(Number::from_f64(value));
        }
        let digits = self.text.get(int_start..int_end).unwrap_or("");
        if digits.len() > self.max_int_digits {
            return Err(self.error_at(
                int_start,
                ParseErrorKind::IntegerTooLong {
                    digits: digits.len(),
                    limit: self.max_int_digits,
                },
            ));
        }
        let significant = digits.trim_start_matches('0');
        if negative && significant.is_empty() {
            // `-0` is the integer 0, written `0`.
            self.canonical = false;
        }
        Ok(Number::from_digits(negative, significant))
    }

    fn hex4(&mut self) -> PResult<u32> {
        let mut code = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error_at(self.pos, ParseErrorKind::InvalidUnicodeEscape)),
            };
            code = code * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(code)
    }

    /// Parses a string starting at its opening quote.
    fn string(&mut self) -> PResult<String> {
        self.string_cow().map(Cow::into_owned)
    }

    /// Parses a string starting at its opening quote, borrowing it from the text when it holds no escapes.
    #[inline]
    fn string_cow(&mut self) -> PResult<Cow<'a, str>> {
        let start = self.pos + 1;
        let end = scan_plain(self.bytes, start);
        // Every byte that stops the scan is ASCII, so slices end on character boundaries.
        if self.bytes.get(end) == Some(&b'"')
            && let Some(s) = self.text.get(start..end)
        {
            self.pos = end + 1;
            return Ok(Cow::Borrowed(s));
        }
        self.string_with_escapes(start, end)
    }

    /// The rest of [`Parser::string_cow`] for a string whose plain run, from `start`, stops at `end` on anything
    /// but its closing quote: an escape, a control character or the end of the input. Kept out of line so that
    /// the common case stays small.
    #[inline(never)]
    fn string_with_escapes(&mut self, start: usize, end: usize) -> PResult<Cow<'a, str>> {
        let open = start - 1;
        self.pos = end;
        match self.peek() {
            Some(b'"') => {
                let s = self.text.get(start..self.pos).unwrap_or_default();
                self.pos += 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(b'\\') => {}
            Some(b) => return Err(self.control_character(b)),
            None => return Err(self.error_at(open, ParseErrorKind::UnterminatedString)),
        }
        // Slow path: the string holds escapes.
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(self.text.get(start..self.pos).unwrap_or_default());
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(b) => return Err(self.control_character(b)),
                None => return Err(self.error_at(open, ParseErrorKind::UnterminatedString)),
            }
            let run_start = self.pos;
            self.pos = scan_plain(self.bytes, run_start);
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
        }
    }

    fn control_character(&self, byte: u8) -> ParseError {
        let code = u32::from(byte);
        self.error_at(self.pos, ParseErrorKind::ControlCharacter { code })
    }

    /// Decodes one escape sequence starting at its backslash.
    fn escape(&mut self, out: &mut String) -> PResult<()> {
        let backslash = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => {
                // The canonical writer leaves '/' unescaped.
                self.canonical = false;
                '/'
            }
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let c = self.unicode_escape(backslash)?;
                if self.canonical {
                    let escape = self.bytes.get(backslash..self.pos).unwrap_or_default();
                    self.canonical = is_canonical_unicode_escape(escape, c);
                }
                out.push(c);
                return Ok(());
            }
            Some(_) => {
                let found = self
                    .text
                    .get(self.pos..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('?');
                return Err(self.error_at(backslash, ParseErrorKind::InvalidEscape { found }));
            }
            None => return Err(self.error_at(backslash, ParseErrorKind::UnterminatedString)),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Decodes the four hex digits after `\u` (and a second `\uXXXX` for a surrogate pair) into a
    /// character; `backslash` is where the escape starts, for error positions.
    fn unicode_escape(&mut self, backslash: usize) -> PResult<char> {
        let code = self.hex4()?;
        let lone =
            |parser: &Self| parser.error_at(backslash, ParseErrorKind::LoneSurrogate { code });
        let scalar = match code {
            0xd800..=0xdbff => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(lone(self));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(lone(self));
                }
                0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(lone(self)),
            _ => code,
        };
        // Surrogates were handled above, so `scalar` is always a Unicode scalar value.
        Ok(char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Finds the byte offset of the second occurrence of `key` among the members of the object that
    /// opens at `open`, which has already parsed successfully once. Only runs on the error path.
    fn locate_second_key(&self, open: usize, key: &str) -> usize {
        let limits = Limits::default()
            .with_max_depth(self.max_depth)
            .with_max_int_digits(self.max_int_digits);
        let mut again = Parser::new(self.text, limits);
        again.pos = open + 1;
        again.base_depth = self.base_depth;
        let mut seen = false;
        loop {
            again.skip_whitespace();
            let key_start = again.pos;
            let Ok(k) = again.string() else { break };
            if k == key {
                if seen {
                    return key_start;
                }
                seen = true;
            }
            again.skip_whitespace();
            again.pos += 1; // the ':' checked on the first pass
            again.skip_whitespace();
            if again.value().is_err() {
                break;
            }
            again.skip_whitespace();
            if again.peek() != Some(b',') {
                break;
            }
            again.pos += 1;
        }
        open
    }
}

/// Compares two keys in code point order (UTF-8 byte order), as `str`'s `Ord` does. Keys are short and mostly
/// differ in their first bytes, where a plain loop answers sooner than a call to `memcmp`.
///
/// ```
/// # use spanforge_event::json::compare_keys;
/// use std::cmp::Ordering;
/// assert_eq!(compare_keys(b"event_id", b"event_type"), Ordering::Less);
/// assert_eq!(compare_keys(b"tag", b"tags"), Ordering::Less);
/// assert_eq!(compare_keys("\u{e9}".as_bytes(), b"z"), Ordering::Greater);
/// ```
#[inline]
#[must_use]
pub fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Whether `escape` (a whole `\\uXXXX` escape, or two for a surrogate pair) that decodes to `c` is the escape the
/// canonical writer writes for `c`: it writes `\\u00xx` in lowercase for control characters that have no short form,
/// and every other character either raw or as a short escape.
fn is_canonical_unicode_escape(escape: &[u8], c: char) -> bool {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = u32::from(c);
    let Ok(byte) = u8::try_from(code) else {
        return false;
    };
    byte < 0x20
        && !matches!(byte, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
        && escape
            == [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]
}

/// Why a [`MemberReader`] stopped: the text needs the general parser, which reports the exact error or handles the
/// shape the reader does not take.
#[derive(Debug)]
pub(crate) struct Decline;

impl From<ParseError> for Decline {
    fn from(_: ParseError) -> Self {
        Decline
    }
}

/// A member value as [`MemberReader::string_or_value`] reads it.
pub(crate) enum Member<'a> {
    /// A string, borrowed from the text when it holds no escapes.
    Str(Cow<'a, str>),
    /// Any other value.
    Value(Value),
}

/// A value as [`MemberReader::value_span`] reads it: the value, where its text lies in the document, and its
/// [`Value::depth`], counted while reading it.
pub(crate) struct Spanned {
    pub(crate) value: Value,
    pub(crate) span: Range<usize>,
    pub(crate) depth: usize,
}

/// Reads a document whose top level is an object one member at a time, so that a caller can take the members it
/// knows as borrowed strings instead of building a tree for the whole document.
///
/// The reader applies the same grammar and limits as [`parse`], and it also requires the keys to strictly increase
/// in code point order, as in canonical text, which rules out duplicate keys. It reports no errors of its own:
/// on anything it does not accept (a syntax error, keys out of order, a top level other than an object) it returns
/// [`Decline`], and the caller parses the text with [`parse`], which either accepts it or says exactly what is
/// wrong. A document the reader accepts is one [`parse`] accepts, with the same members.
pub(crate) struct MemberReader<'a> {
    parser: Parser<'a>,
    /// The previous key, to check the order; `None` before the first member.
    last_key: Option<Cow<'a, str>>,
    closed: bool,
}

impl<'a> MemberReader<'a> {
    /// Starts reading `text`, which must open with an object.
    pub(crate) fn open(text: &'a str) -> Result<Self, Decline> {
        let mut parser = Parser::new(text, Limits::default());
        if text.starts_with('\u{feff}') || parser.max_depth == 0 {
            return Err(Decline);
        }
        parser.skip_whitespace();
        if parser.peek() != Some(b'{') {
            return Err(Decline);
        }
        parser.pos += 1;
        parser.base_depth = 1;
        Ok(MemberReader {
            parser,
            last_key: None,
            closed: false,
        })
    }

    /// The byte offset the reader has reached: after a member's value, where its separator (`,`) or the closing
    /// `}` starts in canonical text.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.parser.pos
    }

    /// Reads the next member's key and the `:` after it, or returns `None` when the object closes.
    #[inline]
    pub(crate) fn next_key(&mut self) -> Result<Option<Cow<'a, str>>, Decline> {
        let p = &mut self.parser;
        if self.closed {
            return Err(Decline);
        }
        p.skip_whitespace();
        if self.last_key.is_some() {
            match p.peek() {
                Some(b',') => {
                    p.pos += 1;
                    p.skip_whitespace();
                }
                Some(b'}') => {
                    p.pos += 1;
                    self.closed = true;
                    return Ok(None);
                }
                _ => return Err(Decline),
            }
        } else if p.peek() == Some(b'}') {
            p.pos += 1;
            self.closed = true;
            return Ok(None);
        }
        if p.peek() != Some(b'"') {
            return Err(Decline);
        }
        let key = p.string_cow()?;
        if self
            .last_key
            .as_ref()
            .is_some_and(|last| compare_keys(last.as_bytes(), key.as_bytes()).is_ge())
        {
            return Err(Decline);
        }
        p.skip_whitespace();
        if p.peek() != Some(b':') {
            return Err(Decline);
        }
        p.pos += 1;
        p.skip_whitespace();
        self.last_key = Some(key.clone());
        Ok(Some(key))
    }

    /// Reads a member's value: a string as such, anything else as a [`Value`].
    #[inline]
    pub(crate) fn string_or_value(&mut self) -> Result<Member<'a>, Decline> {
        if self.parser.peek() == Some(b'"') {
            Ok(Member::Str(self.parser.string_cow()?))
        } else {
            Ok(Member::Value(self.parser.value()?))
        }
    }

    /// Reads a member's value as a [`Value`].
    #[inline]
    pub(crate) fn value(&mut self) -> Result<Value, Decline> {
        Ok(self.parser.value()?)
    }

    /// Reads a member's value as a [`Value`], with where its text lies.
    #[inline]
    pub(crate) fn value_span(&mut self) -> Result<Spanned, Decline> {
        let start = self.parser.pos;
        let value = self.parser.value()?;
        debug_assert_eq!(self.parser.last_depth, value.depth());
        Ok(Spanned {
            value,
            span: start..self.parser.pos,
            depth: self.parser.last_depth,
        })
    }

    /// Checks that nothing but whitespace follows the closed object, and returns whether the whole text is the
    /// canonical text of the object it holds.
    pub(crate) fn finish(mut self) -> Result<bool, Decline> {
        if !self.closed {
            return Err(Decline);
        }
        self.parser.skip_whitespace();
        if self.parser.pos != self.parser.bytes.len() {
            return Err(Decline);
        }
        Ok(self.parser.canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_canonical_string;

    #[test]
    fn scan_plain_finds_the_first_special_byte_in_every_lane() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    // Bytes that must not be flagged, around it.
                    if at + 1 < len {
                        bytes[at + 1] = 0x80;
                    }
                    assert_eq!(scan_plain(&bytes, 0), at, "{bytes:?}");
                }
            }
            let plain: Vec<u8> = (0..len)
                .map(|i| [b'a', 0x20, 0x7f, 0xff, b'!', b'#'][i % 6])
                .collect();
            assert_eq!(scan_plain(&plain, 0), len);
        }
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(v) => panic!("{text:?} parsed as {v:?}, expected an error"),
            Err(e) => e,
        }
    }

    fn canon(text: &str) -> String {
        match parse(text) {
            Ok(v) => to_canonical_string(&v),
            Err(e) => panic!("{text:?} failed: {e}"),
        }
    }

    #[test]
    fn scalars_and_python_extensions() {
        assert_eq!(canon(" null "), "null");
        assert_eq!(canon("true"), "true");
        assert_eq!(canon("false"), "false");
        assert_eq!(canon("NaN"), "NaN");
        assert_eq!(canon("Infinity"), "Infinity");
        assert_eq!(canon("-Infinity"), "-Infinity");
        assert_eq!(canon("1e400"), "Infinity");
        assert_eq!(canon("-1e400"), "-Infinity");
        assert_eq!(canon("1e-400"), "0.0");
        assert_eq!(canon("-1e-400"), "-0.0");
        assert_eq!(canon("1e99999999999999999999999"), "Infinity");
        assert_eq!(canon("-0"), "0");
        assert_eq!(canon("-0.0"), "-0.0");
        assert_eq!(canon("1e5"), "100000.0");
        assert_eq!(canon("1E+2"), "100.0");
        assert_eq!(canon("1.0"), "1.0");
        assert_eq!(canon("10"), "10");
        assert_eq!(
            canon("-123456789012345678901234567890"),
            "-123456789012345678901234567890"
        );
        assert_eq!(canon("\"a\\u00e9\\ud83d\\ude00\\/\\\"\""), "\"aé😀/\\\"\"");
        assert_eq!(
            canon("\"\\u0000\\u001F\\u007f\""),
            "\"\\u0000\\u001f\u{7f}\""
        );
    }

    #[test]
    fn canonical_check_on_chosen_texts() {
        let cases: &[(&str, bool)] = &[
            (r#"{"a":[1,1.0,-1.5,"x"],"b":{}}"#, true),
            (r#"{"b":1,"a":2}"#, false),
            (r#"{"a": 1}"#, false),
            (r#"[1,2] "#, false),
            (r#" [1,2]"#, false),
            ("[1,\n2]", false),
            ("1E5", false),
            ("1e5", false),
            ("100000.0", true),
            ("1e+16", true),
            ("1e16", false),
            ("1.50", false),
            ("1.5", true),
            ("-0", false),
            ("0", true),
            ("-0.0", true),
            ("1e400", false),
            ("Infinity", true),
            ("-Infinity", true),
            ("NaN", true),
            ("0.00001", false),
            ("1e-05", true),
            (r#""\u0041""#, false),
            (r#""A""#, true),
            (r#""\/""#, false),
            (r#""/""#, true),
            (r#""\u001F""#, false),
            (r#""\u001f""#, true),
            (r#""\u000a""#, false),
            (r#""\n\r\t\b\f\"\\""#, true),
            (r#""\u00e9""#, false),
            ("\"\u{e9}\u{2028}\u{7f}\"", true),
            (r#""\ud83d\ude00""#, false),
            (r#"{"\u0061":1}"#, false),
            (r#"{"\u0000":1,"a":2}"#, true),
        ];
        for &(text, canonical) in cases {
            let (value, flag) = parse_and_check_canonical(text).expect(text);
            assert_eq!(flag, canonical, "{text}");
            assert_eq!(flag, to_canonical_string(&value) == text, "{text}");
        }
    }

    #[test]
    fn objects_sort_and_nest() {
        assert_eq!(
            canon(r#"{"b": [1, {"d": 1, "c": 2}], "a": {}}"#),
            r#"{"a":{},"b":[1,{"c":2,"d":1}]}"#
        );
    }

    fn check(text: &str, line: usize, column: usize, kind: ParseErrorKind) {
        let e = err(text);
        assert_eq!(e.kind(), &kind, "kind for {text:?}");
        assert_eq!(
            (e.line(), e.column()),
            (line, column),
            "position for {text:?}: {e}"
        );
        let message = e.to_string();
        assert!(
            message.contains(&format!("line {line}, column {column}")),
            "{message}"
        );
        assert!(message.contains("expected"), "{message}");
    }

    #[test]
    fn every_error_path_reports_position_and_expectation() {
        use ParseErrorKind as K;
        check("", 1, 1, K::EmptyInput);
        check(" \n\t\r ", 2, 4, K::EmptyInput);
        check("\u{feff}{}", 1, 1, K::ByteOrderMark);
        check(
            "[1,\n  x]",
            2,
            3,
            K::UnexpectedChar {
                found: 'x',
                expected: A_VALUE,
            },
        );
        check("[1,", 1, 4, K::UnexpectedEnd { expected: A_VALUE });
        check("{} {}", 1, 4, K::TrailingContent { found: '{' });
        check("1 2", 1, 3, K::TrailingContent { found: '2' });
        check(
            "[1,]",
            1,
            4,
            K::TrailingComma {
                close: ']',
                expected: "value",
            },
        );
        check(
            "{\"a\":1,}",
            1,
            8,
            K::TrailingComma {
                close: '}',
                expected: "member",
            },
        );
        check(
            "[1 2]",
            1,
            4,
            K::UnexpectedChar {
                found: '2',
                expected: "',' or ']' after an array element",
            },
        );
        check(
            "[1",
            1,
            3,
            K::UnexpectedEnd {
                expected: "',' or ']' after an array element",
            },
        );
        check(
            "{\"a\" 1}",
            1,
            6,
            K::UnexpectedChar {
                found: '1',
                expected: "':' after an object key",
            },
        );
        check(
            "{\"a\":1 \"b\":2}",
            1,
            8,
            K::UnexpectedChar {
                found: '"',
                expected: "',' or '}' after an object member",
            },
        );
        check(
            "{'a':1}",
            1,
            2,
            K::UnexpectedChar {
                found: '\'',
                expected: "'\"' to start an object key, or '}'",
            },
        );
        check(
            "{\"a\":1, 2}",
            1,
            9,
            K::UnexpectedChar {
                found: '2',
                expected: "'\"' to start an object key",
            },
        );
        check(
            "{",
            1,
            2,
            K::UnexpectedEnd {
                expected: "'\"' to start an object key, or '}'",
            },
        );
        check("01", 1, 1, K::LeadingZero);
        check("-01", 1, 2, K::LeadingZero);
        check(
            "-",
            1,
            2,
            K::UnexpectedEnd {
                expected: "a digit (or Infinity) after '-'",
            },
        );
        check(
            "-x",
            1,
            2,
            K::UnexpectedChar {
                found: 'x',
                expected: "a digit (or Infinity) after '-'",
            },
        );
        check(
            "+1",
            1,
            1,
            K::UnexpectedChar {
                found: '+',
                expected: A_VALUE,
            },
        );
        check(
            ".5",
            1,
            1,
            K::UnexpectedChar {
                found: '.',
                expected: A_VALUE,
            },
        );
        check(
            "1.",
            1,
            3,
            K::UnexpectedEnd {
                expected: "a digit after the decimal point",
            },
        );
        check(
            "1.e5",
            1,
            3,
            K::UnexpectedChar {
                found: 'e',
                expected: "a digit after the decimal point",
            },
        );
        check(
            "1e",
            1,
            3,
            K::UnexpectedEnd {
                expected: "a digit in the exponent",
            },
        );
        check(
            "1e+",
            1,
            4,
            K::UnexpectedEnd {
                expected: "a digit in the exponent",
            },
        );
        check(
            "tru",
            1,
            4,
            K::UnexpectedEnd {
                expected: "the literal true",
            },
        );
        check(
            "trUe",
            1,
            3,
            K::UnexpectedChar {
                found: 'U',
                expected: "the literal true",
            },
        );
        check(
            "nul",
            1,
            4,
            K::UnexpectedEnd {
                expected: "the literal null",
            },
        );
        check(
            "fals",
            1,
            5,
            K::UnexpectedEnd {
                expected: "the literal false",
            },
        );
        check(
            "nan",
            1,
            2,
            K::UnexpectedChar {
                found: 'a',
                expected: "the literal null",
            },
        );
        check("NaN1", 1, 4, K::TrailingContent { found: '1' });
        check(
            "Inf",
            1,
            4,
            K::UnexpectedEnd {
                expected: "the literal Infinity",
            },
        );
        check(
            "-Inf",
            1,
            5,
            K::UnexpectedEnd {
                expected: "the literal -Infinity",
            },
        );
        check(
            "-NaN",
            1,
            2,
            K::UnexpectedChar {
                found: 'N',
                expected: "a digit (or Infinity) after '-'",
            },
        );
        check("\"abc", 1, 1, K::UnterminatedString);
        check("[\"a\\", 1, 4, K::UnterminatedString);
        check("\"ab\\\"", 1, 1, K::UnterminatedString);
        check("\"a\tb\"", 1, 3, K::ControlCharacter { code: 9 });
        check("\"\\u00e9\n\"", 1, 8, K::ControlCharacter { code: 10 });
        check("\"\\x\"", 1, 2, K::InvalidEscape { found: 'x' });
        check("\"\\é\"", 1, 2, K::InvalidEscape { found: 'é' });
        check("\"\\u12\"", 1, 6, K::InvalidUnicodeEscape);
        check("\"\\u12g4\"", 1, 6, K::InvalidUnicodeEscape);
        check("\"\\ud800\"", 1, 2, K::LoneSurrogate { code: 0xd800 });
        check(
            "\"\\ud800\\u0041\"",
            1,
            2,
            K::LoneSurrogate { code: 0xd800 },
        );
        check(
            "\"\\ud800\\ud800\"",
            1,
            2,
            K::LoneSurrogate { code: 0xd800 },
        );
        check("\"x\\udc00\"", 1, 3, K::LoneSurrogate { code: 0xdc00 });
        check("\"\\ud800\\u12\"", 1, 12, K::InvalidUnicodeEscape);
        check(
            "{\"b\":1,\n \"a\":2, \"b\":3}",
            2,
            9,
            K::DuplicateKey {
                key: "b".to_owned(),
            },
        );
        check(
            "{\"a\":{\"x\":[1,{}]},\"a\":2}",
            1,
            19,
            K::DuplicateKey {
                key: "a".to_owned(),
            },
        );
        check(
            "{\"é\":1,\"é\":2}",
            1,
            8,
            K::DuplicateKey {
                key: "é".to_owned(),
            },
        );
        check(
            "/* c */ 1",
            1,
            1,
            K::UnexpectedChar {
                found: '/',
                expected: A_VALUE,
            },
        );
        check("[]]", 1, 3, K::TrailingContent { found: ']' });
        check(
            "\u{a0}1",
            1,
            1,
            K::UnexpectedChar {
                found: '\u{a0}',
                expected: A_VALUE,
            },
        );
        check(
            "[1,\u{2028}2]",
            1,
            4,
            K::UnexpectedChar {
                found: '\u{2028}',
                expected: A_VALUE,
            },
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = err("{\"é😀\": x}");
        assert_eq!((e.line(), e.column(), e.offset()), (1, 8, 11));
    }

    #[test]
    fn depth_limit_is_exact() {
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        let limits = Limits::default().with_max_depth(3);
        assert!(parse_with_limits(&nested(3), limits).is_ok());
        assert!(parse_with_limits("[[1]]", limits).is_ok());
        let e = parse_with_limits("[[[1]]]", limits).expect_err("depth 4 exceeds 3");
        assert_eq!(e.kind(), &ParseErrorKind::TooDeep { limit: 3 });
        assert_eq!(e.column(), 4);
        assert!(parse_with_limits(&nested(4), limits).is_err());
        assert!(parse(&nested(128)).is_ok());
        assert!(parse(&nested(129)).is_err());
        // At the hard ceiling, everything that walks the tree recursively still fits a test
        // thread's stack.
        let limits = Limits::default().with_max_depth(Limits::HARD_MAX_DEPTH);
        let text = "{\"k\":[".repeat(Limits::HARD_MAX_DEPTH / 2)
            + &"]}".repeat(Limits::HARD_MAX_DEPTH / 2);
        let value = parse_with_limits(&text, limits).expect("within the hard ceiling");
        assert_eq!(value.depth(), Limits::HARD_MAX_DEPTH);
        assert_eq!(to_canonical_string(&value), text.replace(' ', ""));
        assert_eq!(value.clone(), value);
        assert!(format!("{value:?}").len() > text.len());
        drop(value);
        // The hard ceiling holds even when the caller asks for more, so the stack cannot overflow.
        let deep = nested(100_000);
        let e = parse_with_limits(&deep, Limits::default().with_max_depth(usize::MAX))
            .expect_err("too deep");
        assert_eq!(
            e.kind(),
            &ParseErrorKind::TooDeep {
                limit: Limits::HARD_MAX_DEPTH
            }
        );
    }

    #[test]
    fn integer_digit_limit_matches_cpython() {
        let ok = "9".repeat(4300);
        assert_eq!(canon(&ok), ok);
        assert_eq!(canon(&format!("-{ok}")), format!("-{ok}"));
        let e = err(&"9".repeat(4301));
        assert_eq!(
            e.kind(),
            &ParseErrorKind::IntegerTooLong {
                digits: 4301,
                limit: 4300
            }
        );
        // Floats have no such limit in Python.
        assert_eq!(canon(&format!("{}.0", "1".repeat(5000))), "Infinity");
        let e = parse_with_limits("12345", Limits::default().with_max_int_digits(4))
            .expect_err("5 digits");
        assert_eq!(
            e.kind(),
            &ParseErrorKind::IntegerTooLong {
                digits: 5,
                limit: 4
            }
        );
    }
}
