//! Non-canonical renderings of JSON values, shared by the conformance tests of the canonical fast path.

use std::fmt::Write as _;

use spanforge_event::json::{Value, to_canonical_string};

/// How floats are written in a non-canonical rendering.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Floats {
    /// As the canonical writer writes them.
    Canonical,
    /// In exponent form with a capital `E` (`1.25E3`), which Python never writes.
    UpperExponent,
    /// With one zero too many in the fraction (`1.50`, `1.00`, `1.0e-05`).
    TrailingZero,
}

/// The ways a rendering may depart from the canonical text; every combination denotes the same value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    /// A space after every `:` and `,`.
    pub(crate) spaces: bool,
    /// Object members in descending key order.
    pub(crate) reverse_keys: bool,
    /// How floats are written.
    pub(crate) floats: Floats,
    /// Letters as `\u0041`-style escapes, `/` as `\/`, control characters as `\u001F` (capitals), and characters
    /// outside the Basic Multilingual Plane as surrogate-pair escapes.
    pub(crate) escapes: bool,
}

/// Renders `value` in `style`. The text is guaranteed to differ from the canonical text: when the style finds
/// nothing to change in this value, a leading space is added.
pub(crate) fn noncanonical(value: &Value, style: Style) -> String {
    let mut out = String::new();
    render(value, style, &mut out);
    if out == to_canonical_string(value) {
        out.insert(0, ' ');
    }
    out
}

fn render(value: &Value, style: Style, out: &mut String) {
    match value {
        Value::Number(n) if n.is_float() && n.as_f64().is_finite() => {
            let canonical = n.to_string();
            match style.floats {
                Floats::Canonical => out.push_str(&canonical),
                Floats::UpperExponent => {
                    let _ = write!(out, "{:E}", n.as_f64());
                }
                Floats::TrailingZero => match canonical.split_once('e') {
                    Some((mantissa, exponent)) if mantissa.contains('.') => {
                        let _ = write!(out, "{mantissa}0e{exponent}");
                    }
                    Some((mantissa, exponent)) => {
                        let _ = write!(out, "{mantissa}.0e{exponent}");
                    }
                    None => {
                        out.push_str(&canonical);
                        out.push('0');
                    }
                },
            }
        }
        Value::String(s) => render_string(s, style, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if style.spaces { ", " } else { "," });
                }
                render(item, style, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<_> = map.iter().collect();
            if style.reverse_keys {
                entries.reverse();
            }
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(if style.spaces { ", " } else { "," });
                }
                render_string(key, style, out);
                out.push_str(if style.spaces { ": " } else { ":" });
                render(item, style, out);
            }
            out.push('}');
        }
        other => out.push_str(&to_canonical_string(other)),
    }
}

fn render_string(s: &str, style: Style, out: &mut String) {
    if !style.escapes {
        out.push_str(&to_canonical_string(&Value::from(s)));
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii_alphabetic() || c < ' ' => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c if u32::from(c) > 0xffff => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
