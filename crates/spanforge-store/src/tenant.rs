//! Tenants: who a chain and a tree belong to, and how a tenant is named in a checkpoint origin.
//!
//! A tenant is an `org_id`, or the default tenant for events that carry none. The default tenant
//! is its own variant, never an empty or reserved org string, so no org can collide with it.

use std::fmt;

use spanforge_event::Event;

use crate::error::{Error, Result};

/// The owner of one HMAC chain and one Merkle tree in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantId {
    /// Events without an `org_id`.
    Default,
    /// Events whose `org_id` is this (non-empty) string.
    Org(String),
}

impl TenantId {
    /// The tenant of an org id. The envelope never carries an empty `org_id`, so an empty string
    /// is refused.
    pub fn org(org_id: impl Into<String>) -> Result<Self> {
        let org_id = org_id.into();
        if org_id.is_empty() {
            return Err(Error::InvalidTenant(
                "an org id must not be empty".to_owned(),
            ));
        }
        Ok(TenantId::Org(org_id))
    }

    /// The tenant from an optional org id: `None` is the default tenant.
    pub fn from_org_id(org_id: Option<&str>) -> Self {
        match org_id {
            Some(org) if !org.is_empty() => TenantId::Org(org.to_owned()),
            _ => TenantId::Default,
        }
    }

    /// The tenant an event belongs to.
    pub fn of_event(event: &Event) -> Self {
        Self::from_org_id(event.org_id())
    }

    /// The org id, or `None` for the default tenant.
    pub fn org_id(&self) -> Option<&str> {
        match self {
            TenantId::Default => None,
            TenantId::Org(org) => Some(org),
        }
    }

    /// Whether an event with this org id belongs to the tenant.
    pub fn owns(&self, org_id: Option<&str>) -> bool {
        self.org_id() == org_id
    }

    /// The tenant's part of a checkpoint origin: `default`, or `org/` followed by the org id with
    /// every byte outside `A-Z a-z 0-9 . _ ~ -` written as `%XX`. The mapping is injective and
    /// the result has no spaces, `+` or control characters, as C2SP origins require.
    pub fn origin_path(&self) -> String {
        match self {
            TenantId::Default => "default".to_owned(),
            TenantId::Org(org) => {
                let mut out = String::with_capacity(4 + org.len());
                out.push_str("org/");
                for b in org.bytes() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-') {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
                out
            }
        }
    }

    /// The inverse of [`TenantId::origin_path`], or `None` if `path` is not one it produces.
    pub fn from_origin_path(path: &str) -> Option<Self> {
        if path == "default" {
            return Some(TenantId::Default);
        }
        let escaped = path.strip_prefix("org/")?;
        let mut bytes = Vec::with_capacity(escaped.len());
        let mut rest = escaped.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'%' {
                let hex = tail.get(..2)?;
                if !hex
                    .iter()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                {
                    return None;
                }
                let text = std::str::from_utf8(hex).ok()?;
                let value = u8::from_str_radix(text, 16).ok()?;
                // Only bytes that `origin_path` escapes may appear escaped, so the mapping
                // stays one to one.
                if value.is_ascii_alphanumeric() || matches!(value, b'.' | b'_' | b'~' | b'-') {
                    return None;
                }
                bytes.push(value);
                rest = tail.get(2..)?;
            } else if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-') {
                bytes.push(b);
                rest = tail;
            } else {
                return None;
            }
        }
        let org = String::from_utf8(bytes).ok()?;
        if org.is_empty() {
            return None;
        }
        Some(TenantId::Org(org))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantId::Default => f.write_str("(default)"),
            TenantId::Org(org) => write!(f, "{org:?}"),
        }
    }
}

impl serde::Serialize for TenantId {
    /// Serialises as the org id string, or `null` for the default tenant.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TenantId::Default => serializer.serialize_none(),
            TenantId::Org(org) => serializer.serialize_some(org),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn origin_paths_are_escaped_and_reversible() {
        assert_eq!(TenantId::Default.origin_path(), "default");
        let t = TenantId::Org("acme corp+1/é".into());
        let path = t.origin_path();
        assert_eq!(path, "org/acme%20corp%2B1%2F%C3%A9");
        assert!(!path.contains(' ') && !path.contains('+'));
        assert_eq!(TenantId::from_origin_path(&path), Some(t));
        // An org literally named "default" does not collide with the default tenant.
        let named_default = TenantId::Org("default".into());
        assert_eq!(named_default.origin_path(), "org/default");
        assert_ne!(named_default.origin_path(), TenantId::Default.origin_path());
        for bad in [
            "", "org/", "org/a%2", "org/a%41", "org/a%2b", "org/a b", "other",
        ] {
            assert_eq!(TenantId::from_origin_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn empty_org_is_refused_and_maps_to_default_from_events() {
        assert!(TenantId::org("").is_err());
        assert_eq!(TenantId::from_org_id(None), TenantId::Default);
        assert_eq!(TenantId::from_org_id(Some("a")), TenantId::Org("a".into()));
    }

    proptest! {
        #[test]
        fn origin_path_round_trips(org in "\\PC{1,24}") {
            let t = TenantId::Org(org);
            let path = t.origin_path();
            prop_assert!(spanforge_chain::note::is_valid_key_name(&path));
            prop_assert_eq!(TenantId::from_origin_path(&path), Some(t));
        }
    }
}
