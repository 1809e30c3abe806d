//! Event tags: a small map of non-empty string keys to non-empty string values, kept sorted.

use crate::error::{EventError, Result};
use crate::json;

/// The most tags an event may carry (the reference's DoS guard).
pub const MAX_TAGS: usize = 50;

/// Validated tags, sorted by key (code-point order, which is byte order in UTF-8).
///
/// An event may carry an empty tag object (`"tags":{}`); that is different from carrying none, and the
/// difference survives a round trip.
///
/// ```
/// # use spanforge_event::Tags;
/// let tags = Tags::from_pairs([("region", "eu-west-1"), ("env", "prod")]).unwrap();
/// assert_eq!(tags.iter().next(), Some(("env", "prod")));
/// assert!(Tags::from_pairs([("env", "")]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Tags(Vec<(json::Key, json::Str)>);

impl Tags {
    /// Builds tags from key/value pairs; a repeated key keeps its last value.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut items: Vec<(json::Key, json::Str)> = Vec::new();
        for (k, v) in pairs {
            let (k, v): (String, String) = (k.into(), v.into());
            check_pair(&k, &v)?;
            match items.binary_search_by(|(key, _)| key.as_str().cmp(&k)) {
                Ok(i) => items[i].1 = json::Str::from(v),
                Err(i) => items.insert(i, (json::Key::from(k), json::Str::from(v))),
            }
        }
        if items.len() > MAX_TAGS {
            return Err(EventError::TooManyTags {
                count: items.len(),
                limit: MAX_TAGS,
            });
        }
        Ok(Self(items))
    }

    /// Reads the `tags` field of an event: a JSON object of non-empty strings, at most [`MAX_TAGS`] keys.
    pub(crate) fn from_json(value: json::Value) -> Result<Self> {
        let json::Value::Object(map) = value else {
            return Err(EventError::wrong_type(
                "tags",
                "an object mapping non-empty strings to non-empty strings",
                &value,
            ));
        };
        if map.len() > MAX_TAGS {
            return Err(EventError::TooManyTags {
                count: map.len(),
                limit: MAX_TAGS,
            });
        }
        let mut items = Vec::with_capacity(map.len());
        // The map iterates in key order, so `items` comes out sorted.
        for (k, v) in map.into_entries() {
            let json::Value::String(v) = v else {
                return Err(EventError::wrong_type(
                    format!("tags.{k}"),
                    "a non-empty string",
                    &v,
                ));
            };
            check_pair(&k, &v)?;
            items.push((k, v));
        }
        Ok(Self(items))
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v.as_str())
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_pair(key: &str, value: &str) -> Result<()> {
    if key.is_empty() {
        return Err(EventError::invalid(
            "tags",
            "tag keys that are non-empty strings",
            key,
        ));
    }
    if value.is_empty() {
        return Err(EventError::invalid(
            format!("tags.{key}"),
            "a non-empty string",
            value,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_sorted_and_deduplicated() {
        let t = Tags::from_pairs([
            ("b", "1"),
            ("a", "2"),
            ("b", "3"),
            ("\u{00e9}", "4"),
            ("Z", "5"),
        ])
        .unwrap();
        let keys: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["Z", "a", "b", "\u{00e9}"]);
        assert_eq!(t.get("b"), Some("3"));
        assert_eq!(t.get("c"), None);
    }

    #[test]
    fn bad_tags_name_the_tag() {
        assert_eq!(
            Tags::from_pairs([("env", "")]).unwrap_err().field(),
            "tags.env"
        );
        assert_eq!(Tags::from_pairs([("", "x")]).unwrap_err().field(), "tags");
        let many = (0..=MAX_TAGS).map(|i| (format!("k{i}"), "v".to_owned()));
        assert!(matches!(
            Tags::from_pairs(many),
            Err(EventError::TooManyTags {
                count: 51,
                limit: 50
            })
        ));
        let fifty = (0..MAX_TAGS).map(|i| (format!("k{i}"), "v".to_owned()));
        assert_eq!(Tags::from_pairs(fifty).unwrap().len(), 50);
    }
}
