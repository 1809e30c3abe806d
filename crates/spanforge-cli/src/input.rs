//! Reading JSONL inputs: files or standard input, line by line, in constant memory.
//!
//! Lines are read into one reused buffer. A line longer than [`MAX_LINE_BYTES`] is not kept in
//! memory: the rest of it is skipped and the line is reported as too long, so a hostile or
//! mistaken input (a multi-gigabyte file without newlines) cannot exhaust memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};

/// The longest line kept in memory. The envelope's own size limit is 1 MiB measured with
/// ASCII escapes, which can take up to six bytes per character on the wire; 8 MiB leaves room
/// for that while still bounding memory.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// An input named on the command line: a path, or `-` for standard input.
pub(crate) struct Input {
    /// The name used in messages (`-` is shown as `<stdin>`).
    pub(crate) name: String,
    reader: Box<dyn BufRead>,
}

impl Input {
    /// Opens `name`, where `-` means standard input.
    pub(crate) fn open(name: &str) -> Result<Self> {
        if name == "-" {
            return Ok(Self {
                name: "<stdin>".to_owned(),
                reader: Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
            });
        }
        let path = Path::new(name);
        let file = File::open(path).with_context(|| format!("{name}: cannot open"))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            anyhow::bail!("{name}: is a directory, not a JSONL file");
        }
        Ok(Self {
            name: name.to_owned(),
            reader: Box::new(BufReader::with_capacity(1 << 16, file)),
        })
    }

    /// Wraps any reader (used by tests).
    #[cfg(test)]
    pub(crate) fn from_reader(name: &str, reader: impl std::io::Read + 'static) -> Self {
        Self {
            name: name.to_owned(),
            reader: Box::new(BufReader::new(reader)),
        }
    }

    /// Reads the next line into `buf` (without its line ending).
    ///
    /// Returns `Ok(None)` at end of input, `Ok(Some(Line::Text))` for a line that is valid
    /// UTF-8, and the other [`Line`] variants for lines that cannot be events at all.
    pub(crate) fn next_line<'b>(&mut self, buf: &'b mut Vec<u8>) -> io::Result<Option<Line<'b>>> {
        buf.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if buf.len() + take > MAX_LINE_BYTES {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.reader.consume(take);
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        if too_long {
            return Ok(Some(Line::TooLong));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        match std::str::from_utf8(buf) {
            Ok(text) => Ok(Some(Line::Text(text))),
            Err(e) => Ok(Some(Line::NotUtf8 {
                byte: e.valid_up_to(),
            })),
        }
    }
}

/// One line of input.
pub(crate) enum Line<'b> {
    /// A line of valid UTF-8 text.
    Text(&'b str),
    /// A line that is not valid UTF-8; `byte` is the offset of the first bad byte.
    NotUtf8 { byte: usize },
    /// A line longer than [`MAX_LINE_BYTES`]; its content was skipped.
    TooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &'static [u8]) -> Vec<String> {
        let mut input = Input::from_reader("t", data);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = input.next_line(&mut buf).unwrap() {
            out.push(match line {
                Line::Text(t) => format!("text:{t}"),
                Line::NotUtf8 { byte } => format!("bad:{byte}"),
                Line::TooLong => "long".to_owned(),
            });
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_endings() {
        assert_eq!(
            lines(b"a\nb\r\n\nc"),
            ["text:a", "text:b", "text:", "text:c"]
        );
        assert!(lines(b"").is_empty());
    }

    #[test]
    fn reports_invalid_utf8_with_offset() {
        assert_eq!(lines(b"ok\nab\xffc\n"), ["text:ok", "bad:2"]);
    }

    #[test]
    fn skips_overlong_lines_without_keeping_them() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nnext\n");
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        assert_eq!(lines(data), ["long", "text:next"]);
    }
}
