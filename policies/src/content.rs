//! Keyword lists for content integrity checks (gambling spam, defacement), as data.
//!
//! The lists live in `policies/packs/content/keywords.toml` so that a department can add the
//! betting brands of the month without a new build. This module loads and validates them and
//! defines how text is normalised for matching (lower case, Vietnamese diacritics removed);
//! the agent's content probe does the matching.

use serde::Deserialize;

use crate::source::Location;

/// Why a keyword file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeywordError {
    /// The file is not valid TOML for this format.
    #[error("{location}: {message}")]
    Parse {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// The content is valid TOML but not a usable list.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    category: Vec<CategoryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    id: String,
    name_vi: String,
    name_en: String,
    keywords: Vec<String>,
}

/// One category of keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Stable id (`gambling`, `defacement`).
    pub id: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// The keywords as written, and their normalised form (see [`normalise`]).
    pub keywords: Vec<(String, String)>,
}

/// All categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordLists {
    /// The categories in file order.
    pub categories: Vec<Category>,
}

const DEFAULT: &str = include_str!("../packs/content/keywords.toml");

impl KeywordLists {
    /// The lists shipped in `policies/packs/content/keywords.toml`.
    pub fn default_lists() -> KeywordLists {
        KeywordLists::from_toml_str(DEFAULT, "policies/packs/content/keywords.toml")
            .expect("the shipped keyword lists are valid (tested)")
    }

    /// Parses a keyword file; errors name the file, line and column.
    pub fn from_toml_str(text: &str, file: &str) -> Result<KeywordLists, KeywordError> {
        let parsed: File = toml::from_str(text).map_err(|e| KeywordError::Parse {
            location: Location::of_toml_error(file, text, &e),
            message: e.message().to_string(),
        })?;
        let mut categories = Vec::new();
        for c in parsed.category {
            if c.id.is_empty() || !c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') {
                return Err(KeywordError::Invalid {
                    file: file.into(),
                    message: format!("category id {:?} must be lower-case letters and _", c.id),
                });
            }
            if categories.iter().any(|k: &Category| k.id == c.id) {
                return Err(KeywordError::Invalid {
                    file: file.into(),
                    message: format!("category {:?} is defined twice", c.id),
                });
            }
            let mut keywords = Vec::new();
            for k in c.keywords {
                let norm = normalise(&k);
                if norm.trim().is_empty() {
                    return Err(KeywordError::Invalid {
                        file: file.into(),
                        message: format!("empty keyword in category {:?}", c.id),
                    });
                }
                keywords.push((k, norm));
            }
            categories.push(Category {
                id: c.id,
                name_vi: c.name_vi,
                name_en: c.name_en,
                keywords,
            });
        }
        Ok(KeywordLists { categories })
    }
}

/// Lower-cases and strips Vietnamese diacritics (`Cá Cược` -> `ca cuoc`, `đ` -> `d`), keeping
/// letters and digits and turning everything else into single spaces.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ('\u{0300}'..='\u{036f}').contains(&ch) {
            continue; // combining marks of decomposed (NFD) text
        }
        let base = fold(ch);
        if base.is_alphanumeric() {
            out.push(base);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The base letter of a (lower-case) Vietnamese letter with diacritics.
fn fold(ch: char) -> char {
    const GROUPS: [(&str, char); 12] = [
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ìíỉĩị", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("đ", 'd'),
        ("ç", 'c'),
        ("ñ", 'n'),
        ("ß", 's'),
        ("ü", 'u'),
        ("ö", 'o'),
    ];
    if ch.is_ascii() {
        return ch;
    }
    GROUPS
        .iter()
        .find(|(set, _)| set.contains(ch))
        .map_or(ch, |(_, base)| *base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lists_load() {
        let lists = KeywordLists::default_lists();
        let ids: Vec<&str> = lists.categories.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["gambling", "defacement"]);
        assert!(
            lists.categories[0]
                .keywords
                .iter()
                .any(|(_, n)| n == "ca cuoc")
        );
    }

    #[test]
    fn normalising_removes_diacritics_and_punctuation() {
        assert_eq!(normalise("Cá Cược  ĐỔI-thưởng!"), "ca cuoc doi thuong");
        assert_eq!(normalise("Nhà cái W88"), "nha cai w88");
        assert_eq!(normalise("  "), "");
        assert_eq!(
            normalise("ca\u{301} cu\u{31b}o\u{31b}\u{323}c"),
            "ca cuoc",
            "NFD text"
        );
    }

    #[test]
    fn broken_files_say_where() {
        let err = KeywordLists::from_toml_str(
            "[[category]]\nid = \"x\"\nname_vi = \"a\"\nname_en = \"b\"\nkeyword = []\n",
            "k.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("k.toml:"), "{err}");
        assert!(err.contains("keyword"), "{err}");
        let err = KeywordLists::from_toml_str(
            "[[category]]\nid = \"Bad Id\"\nname_vi = \"a\"\nname_en = \"b\"\nkeywords = [\"x\"]\n",
            "k.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lower-case"), "{err}");
    }
}
