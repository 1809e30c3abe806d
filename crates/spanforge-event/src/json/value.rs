//! The JSON value tree and its object map, whose keys are always kept in canonical (code point)
//! order.

use std::fmt;

use smol_str::SmolStr;

use super::number::Number;

/// A JSON value, as Python's `json.loads` would return it.
///
/// Equality is structural and agrees with canonical text: two values are equal exactly when
/// [`to_canonical_string`](super::to_canonical_string) writes the same text for both (see
/// [`Number`] for floats).
///
/// Writing, comparing, cloning and dropping a value recurse once per nesting level. The parser
/// never builds trees deeper than [`Limits::HARD_MAX_DEPTH`](super::Limits::HARD_MAX_DEPTH);
/// code that builds values itself should stay within that depth too.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null` (Python `None`).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a float.
    Number(Number),
    /// A string of Unicode scalar values (lone surrogates are rejected by the parser), inline when short.
    String(Str),
    /// An array.
    Array(Vec<Value>),
    /// An object with unique keys, kept sorted by code point.
    Object(Map),
}

impl Value {
    /// Returns the nesting depth: 1 for a scalar or an empty array/object, and 1 + the deepest
    /// member otherwise.
    ///
    /// This matches the reference SDK's `max_payload_depth` guard in `Event.from_dict`, which
    /// rejects a payload whose `depth()` exceeds the limit (10 by default): `{"a": 1}` has depth 2,
    /// `{"a": {"b": []}}` depth 3.
    #[must_use]
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(Value::depth).max().unwrap_or(0),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => 1,
        }
    }

    /// Returns `true` for `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Returns the boolean, or `None` for any other kind of value.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Returns the number, or `None` for any other kind of value.
    #[must_use]
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Returns the integer as `i64` when this is an integer in range, `None` otherwise.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// Returns the integer as `u64` when this is a non-negative integer in range, `None` otherwise.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    /// Returns the number as `f64` (lossy for large integers), or `None` when this is not a number.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    /// Returns the string, or `None` for any other kind of value.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Returns the array, or `None` for any other kind of value.
    #[must_use]
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the array mutably, or `None` for any other kind of value.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the object, or `None` for any other kind of value.
    #[must_use]
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Returns the object mutably, or `None` for any other kind of value.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Looks up `key` when this is an object; returns `None` for a missing key or a non-object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|map| map.get(key))
    }

    /// Returns the name of this value's kind as JSON calls it (`"null"`, `"boolean"`, `"number"`,
    /// `"string"`, `"array"`, `"object"`), for error messages.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Number(n) => fmt::Debug::fmt(n, f),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::Array(items) => {
                f.write_str("Array")?;
                f.debug_list().entries(items).finish()
            }
            Value::Object(map) => {
                f.write_str("Object")?;
                fmt::Debug::fmt(map, f)
            }
        }
    }
}

/// The longest string stored inline (`smol_str`'s inline capacity).
const INLINE_LEN: usize = 23;

/// A string of the value tree, an object key or a [`Value::String`]: it derefs to `str` and is stored
/// inline (without an allocation of its own) when it is at most 23 bytes long, as nearly all keys and
/// most string values of events are. Longer strings share one immutable allocation between clones.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str(SmolStr);

/// An object key.
pub type Key = Str;

impl Str {
    /// Makes a string from a string slice.
    #[must_use]
    pub fn new(text: &str) -> Self {
        // `new_inline` copies byte by byte where `new` calls `memcpy`, which is faster for short strings; it
        // requires (and asserts) that the string fits, which the length check guarantees.
        if text.len() <= INLINE_LEN {
            Str(SmolStr::new_inline(text))
        } else {
            Str(SmolStr::new(text))
        }
    }

    /// Returns the string as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Str {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl From<&str> for Str {
    fn from(text: &str) -> Self {
        Str::new(text)
    }
}

impl From<String> for Str {
    fn from(text: String) -> Self {
        Str(SmolStr::from(text))
    }
}

impl From<Str> for String {
    fn from(key: Str) -> Self {
        String::from(key.0)
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        self.0.as_str() == other.as_str()
    }
}

/// Maps with at most this many entries are searched linearly by [`Map::get`].
const LINEAR_SCAN_MAX: usize = 24;

/// A JSON object: unique string keys kept sorted by Unicode code point, the order Python's
/// `sort_keys=True` uses.
///
/// Rust's `str` ordering compares UTF-8 bytes, which orders strings by code point, so iteration
/// order is already the canonical order. The entries are stored in one sorted vector: look-ups
/// scan small maps and bisect large ones, and iterating or writing an object touches contiguous
/// memory, which matters more for small event payloads than the cost of inserting out of order
/// into a very large map.
/// Keys of up to 23 bytes (nearly all of them) are stored inline, without an allocation of their
/// own.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Map {
    entries: Vec<(Key, Value)>,
}

impl Map {
    /// Creates an empty map.
    #[must_use]
    pub fn new() -> Self {
        Map {
            entries: Vec::new(),
        }
    }

    /// Creates an empty map with room for `capacity` entries.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Map {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Wraps entries that are already sorted by key with no duplicates (the parser checks this).
    pub(crate) fn from_sorted_unique(entries: Vec<(Key, Value)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        Map { entries }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The index of `key`, for look-ups that need no insertion point: small maps (nearly every
    /// payload) are scanned comparing lengths first, which skips most byte comparisons; larger
    /// ones are searched by bisection.
    fn position(&self, key: &str) -> Option<usize> {
        if self.entries.len() <= LINEAR_SCAN_MAX {
            let want = key.as_bytes();
            self.entries
                .iter()
                .position(|(k, _)| k.as_str().as_bytes() == want)
        } else {
            self.find(key).ok()
        }
    }

    /// Returns the value stored under `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key)
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    /// Returns the value stored under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let index = self.find(key).ok()?;
        self.entries.get_mut(index).map(|(_, v)| v)
    }

    /// Returns `true` when `key` is present.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Inserts `value` under `key`, returning the value it replaces, if any.
    ///
    /// Appending keys in ascending order costs O(log n); inserting out of order shifts later
    /// entries.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = Key::from(key.into());
        let value = value.into();
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            self.entries.push((key, value));
            return None;
        }
        match self.find(&key) {
            Ok(index) => self
                .entries
                .get_mut(index)
                .map(|slot| std::mem::replace(&mut slot.1, value)),
            Err(index) => {
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    /// Takes the entries out, in key order, keys as stored.
    pub(crate) fn into_entries(self) -> std::vec::IntoIter<(Key, Value)> {
        self.entries.into_iter()
    }

    /// Removes `key`, returning its value if it was present.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.find(key).ok()?;
        Some(self.entries.remove(index).1)
    }

    /// Returns the number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns `true` when the map has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over the entries in canonical (code point) key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// Iterates over the keys in canonical order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Iterates over the values in canonical key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Iterates over the values in canonical key order, mutably.
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k.as_str(), v)))
            .finish()
    }
}

/// An iterator over a [`Map`]'s entries in canonical key order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, (Key, Value)>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Key, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// An owning iterator over a [`Map`]'s entries in canonical key order.
#[derive(Debug)]
pub struct IntoIter {
    inner: std::vec::IntoIter<(Key, Value)>,
}

impl Iterator for IntoIter {
    type Item = (String, Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (String::from(k), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (String::from(k), v))
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter {
            inner: self.entries.into_iter(),
        }
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Key, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    /// Collects entries; when a key repeats, the last value wins (as with repeated
    /// [`Map::insert`]).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(Key, Value)> = iter
            .into_iter()
            .map(|(k, v)| (Key::from(k.into()), v.into()))
            .collect();
        // A stable sort keeps equal keys in arrival order, so keeping the last of each run is "last
        // wins".
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match unique.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => unique.push(entry),
            }
        }
        Map { entries: unique }
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Object(map)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Str::from(s))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(Str::new(s))
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Self {
        Value::String(s)
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Null
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes `null`.
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    /// Collects into an array.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

macro_rules! value_from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Self {
                Value::Number(Number::from(value))
            }
        }
    )*};
}
value_from_number!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan of small maps finds exactly what bisection finds, for present and absent keys,
    /// with empty keys, shared first bytes and multi-byte characters.
    #[test]
    fn small_and_large_maps_find_what_bisection_finds() {
        let pool = [
            "",
            "a",
            "aa",
            "ab",
            "abc",
            "b",
            "ba",
            "model",
            "model_id",
            "models",
            "name",
            "z",
            "zz",
            "é",
            "éa",
            "ü",
            "日本",
            "日",
            "\u{10348}",
            "A",
            "Z",
            "_",
            "0",
            "9",
            "c",
            "d",
            "e",
        ];
        assert!(
            pool.len() > LINEAR_SCAN_MAX,
            "both look-up paths are tested"
        );
        let probes: Vec<String> = pool
            .iter()
            .map(|k| (*k).to_owned())
            .chain(
                [
                    "aab",
                    "b0",
                    "mode",
                    "modelx",
                    "é0",
                    "日本語",
                    "~",
                    "\u{10349}",
                ]
                .map(String::from),
            )
            .collect();
        for size in 0..=pool.len() {
            for offset in 0..3 {
                let map: Map = pool
                    .iter()
                    .cycle()
                    .skip(offset)
                    .take(size)
                    .map(|k| ((*k).to_owned(), Value::Null))
                    .collect();
                for probe in &probes {
                    assert_eq!(
                        map.position(probe),
                        map.find(probe).ok(),
                        "size {size}, offset {offset}, probe {probe:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn map_keeps_keys_sorted_and_unique() {
        let mut map = Map::new();
        assert!(map.insert("b", 1).is_none());
        assert!(map.insert("a", 2).is_none());
        assert!(map.insert("é", 3).is_none());
        assert!(map.insert("Z", 4).is_none());
        assert_eq!(map.insert("a", 5), Some(Value::from(2)));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["Z", "a", "b", "é"]);
        assert_eq!(map.get("a"), Some(&Value::from(5)));
        assert!(map.contains_key("é"));
        assert_eq!(map.remove("b"), Some(Value::from(1)));
        assert_eq!(map.remove("b"), None);
        assert_eq!(map.len(), 3);
        assert!(!map.is_empty());
        if let Some(v) = map.get_mut("Z") {
            *v = Value::Null;
        }
        assert_eq!(map.iter().next(), Some((&Key::from("Z"), &Value::Null)));
        assert_eq!(map.iter().len(), 3);
    }

    #[test]
    fn keys_of_every_length_keep_their_text_and_order() {
        let texts: Vec<String> = [0, 1, 22, 23, 24, 100]
            .iter()
            .flat_map(|&n| ["a".repeat(n), "é".repeat(n / 2)])
            .collect();
        for text in &texts {
            let key = Key::new(text);
            assert_eq!(key.as_str(), text);
            assert_eq!(&*key, text.as_str());
            assert_eq!(Key::from(text.clone()), key);
            assert_eq!(String::from(key.clone()), *text);
            assert_eq!(format!("{key}"), *text);
            assert_eq!(format!("{key:?}"), format!("{text:?}"));
        }
        for a in &texts {
            for b in &texts {
                assert_eq!(Key::new(a).cmp(&Key::new(b)), a.cmp(b));
                assert_eq!(
                    crate::json::parse::compare_keys(a.as_bytes(), b.as_bytes()),
                    a.cmp(b)
                );
            }
        }
    }

    #[test]
    fn from_iterator_sorts_and_last_wins() {
        let map: Map = [("b", 1), ("a", 2), ("b", 3)].into_iter().collect();
        let entries: Vec<(String, Value)> = map.into_iter().collect();
        assert_eq!(
            entries,
            vec![
                ("a".to_owned(), Value::from(2)),
                ("b".to_owned(), Value::from(3))
            ]
        );
    }

    #[test]
    fn depth_counts_scalars_as_one_level() {
        assert_eq!(Value::Null.depth(), 1);
        assert_eq!(Value::Array(vec![]).depth(), 1);
        assert_eq!(Value::from(vec![1, 2]).depth(), 2);
        let nested: Map = [(
            "a",
            Value::Object([("b", Value::Array(vec![]))].into_iter().collect()),
        )]
        .into_iter()
        .collect();
        assert_eq!(Value::Object(nested).depth(), 3);
    }

    #[test]
    fn accessors_return_none_for_other_kinds() {
        let v = Value::from("x");
        assert_eq!(v.as_str(), Some("x"));
        assert_eq!(v.as_bool(), None);
        assert_eq!(v.as_i64(), None);
        assert!(v.as_object().is_none());
        assert!(v.get("k").is_none());
        assert_eq!(v.kind_name(), "string");
        assert_eq!(Value::from(Option::<i32>::None), Value::Null);
        assert_eq!(Value::from(2.5).as_f64(), Some(2.5));
        assert_eq!(Value::from(7u8).as_u64(), Some(7));
        let array: Value = (1..=3).collect();
        assert_eq!(array.as_array().map(Vec::len), Some(3));
    }
}
