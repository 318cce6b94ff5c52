//! Where in a data file (a pack's TOML) a problem was found, so that every loader's errors
//! read `file:line:column: message` the same way.

use std::fmt;

/// Where in a data file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file label given to the loader (usually its path).
    pub file: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the problem has a position.
    pub column: Option<usize>,
}

impl Location {
    /// The location of byte `offset` in `text`, a file labelled `file`.
    pub fn at(file: &str, text: &str, offset: Option<usize>) -> Location {
        let Some(offset) = offset else {
            return Location {
                file: file.to_owned(),
                line: None,
                column: None,
            };
        };
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            file: file.to_owned(),
            line: Some(line),
            column: Some(column),
        }
    }
}

/// The largest char boundary of `text` at or before `offset`.
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

impl Location {
    /// The location of a TOML parse error in `text`.
    pub fn of_toml_error(file: &str, text: &str, error: &toml::de::Error) -> Location {
        Location::at(file, text, error.span().map(|s| s.start))
    }
}
