//! References to official letters and decisions (văn bản), as officers write them:
//! "VB số 2559/SCT-VP ngày 25/5/2021", "2559/SCT-VP ngày 25/05/2021",
//! "Công văn số 2559/SCT-VP ngày 25/5/2021".
//!
//! A dossier is sent with a covering letter, supplementation is requested and answered by
//! letter, and the appraisal result arrives by letter: each is recorded as a [`LetterRef`] (number,
//! symbol, date) and shown back in one canonical form, "2559/SCT-VP ngày 25/5/2021". The parser
//! accepts the usual variants (a leading kind such as "VB số", zero-padded or `-`/`.` dates,
//! "ngày 25 tháng 5 năm 2021", text without diacritics or in decomposed Unicode) and refuses
//! anything else with a message saying what is wrong.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A reference to an official letter: "2559/SCT-VP ngày 25/5/2021".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawLetterRef")]
pub struct LetterRef {
    /// The number (số), e.g. 2559.
    pub number: u32,
    /// The symbol (ký hiệu), e.g. "SCT-VP", "QĐ-UBND", "2016/NĐ-CP".
    pub symbol: String,
    /// The date of issue (ngày ban hành).
    pub date: Date,
}

/// The JSON form, checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLetterRef {
    number: u32,
    symbol: String,
    date: Date,
}

impl TryFrom<RawLetterRef> for LetterRef {
    type Error = LetterRefError;

    fn try_from(raw: RawLetterRef) -> Result<LetterRef, LetterRefError> {
        LetterRef::new(raw.number, &raw.symbol, raw.date)
    }
}

/// Why a text is not a letter reference. Messages are Vietnamese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterRefError {
    /// Nothing was written.
    #[error("chưa nhập số, ký hiệu và ngày của văn bản (the letter reference is empty)")]
    Empty,
    /// No number.
    #[error(
        "thiếu số văn bản, cần dạng \"2559/SCT-VP ngày 25/5/2021\" (no letter number in {text:?})"
    )]
    MissingNumber {
        /// The text given.
        text: String,
    },
    /// A number of 0 or too large.
    #[error("số văn bản \"{text}\" không hợp lệ (invalid letter number {text:?})")]
    BadNumber {
        /// The number as written.
        text: String,
    },
    /// Words before the number that are not a kind of letter.
    #[error(
        "không hiểu phần \"{text}\" trước số văn bản; viết ví dụ \"VB số 2559/SCT-VP ngày 25/5/2021\" (unexpected text before the number: {text:?})"
    )]
    UnexpectedPrefix {
        /// The words.
        text: String,
    },
    /// No `/symbol` after the number.
    #[error("thiếu ký hiệu văn bản sau số, ví dụ \"2559/SCT-VP\" (no symbol after the number)")]
    MissingSymbol,
    /// A symbol with characters a symbol cannot hold.
    #[error(
        "ký hiệu văn bản \"{symbol}\" không hợp lệ: chỉ gồm chữ, số và các dấu - / . & _, bắt đầu và kết thúc bằng chữ hoặc số, có ít nhất một chữ cái (invalid symbol {symbol:?})"
    )]
    BadSymbol {
        /// The symbol as written.
        symbol: String,
    },
    /// No "ngày ..." after the symbol.
    #[error(
        "thiếu ngày ban hành sau ký hiệu, ví dụ \"ngày 25/5/2021\" (no date: write \"ngày 25/5/2021\")"
    )]
    MissingDate,
    /// A date not written as day/month/year.
    #[error(
        "không đọc được ngày \"{text}\", cần dạng ngày/tháng/năm như 25/5/2021 (cannot read the date {text:?}: write day/month/year)"
    )]
    BadDate {
        /// The date as written.
        text: String,
    },
    /// A well-formed date that does not exist.
    #[error("ngày {day}/{month}/{year} không tồn tại (no such date)")]
    NoSuchDate {
        /// Day.
        day: i64,
        /// Month.
        month: i64,
        /// Year.
        year: i64,
    },
    /// Words after the date.
    #[error(
        "thừa nội dung \"{text}\" sau ngày ban hành (unexpected text after the date: {text:?})"
    )]
    TrailingText {
        /// The words.
        text: String,
    },
}

impl LetterRef {
    /// A reference, checked: number 1 or more, a valid symbol (trimmed).
    pub fn new(number: u32, symbol: &str, date: Date) -> Result<LetterRef, LetterRefError> {
        if number == 0 {
            return Err(LetterRefError::BadNumber {
                text: number.to_string(),
            });
        }
        let symbol = symbol.trim();
        check_symbol(symbol)?;
        Ok(LetterRef {
            number,
            symbol: symbol.to_owned(),
            date,
        })
    }

    /// Parses a reference as officers write it (see the module documentation).
    pub fn parse(text: &str) -> Result<LetterRef, LetterRefError> {
        Parser::new(text).letter()
    }
}

impl FromStr for LetterRef {
    type Err = LetterRefError;

    fn from_str(text: &str) -> Result<LetterRef, LetterRefError> {
        LetterRef::parse(text)
    }
}

impl fmt::Display for LetterRef {
    /// "2559/SCT-VP ngày 25/5/2021".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ngày {}",
            self.number,
            self.symbol,
            format_date_vi(self.date)
        )
    }
}

/// A date as written in Vietnamese administrative text: "25/5/2021" (no zero padding).
pub fn format_date_vi(date: Date) -> String {
    format!("{}/{}/{}", date.day(), date.month(), date.year())
}

fn check_symbol(symbol: &str) -> Result<(), LetterRefError> {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '-' | '/' | '.' | '&' | '_');
    let ends_ok = symbol.chars().next().is_some_and(char::is_alphanumeric)
        && symbol.chars().last().is_some_and(char::is_alphanumeric);
    if ends_ok
        && symbol.chars().all(allowed)
        && symbol.chars().any(char::is_alphabetic)
        && !symbol.contains("//")
    {
        Ok(())
    } else {
        Err(LetterRefError::BadSymbol {
            symbol: symbol.to_owned(),
        })
    }
}

/// Lowercase, without combining marks, so "Số", "số" typed decomposed, and "so" compare alike
/// with the few forms listed in [`word_is`].
fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `word` is one of `forms` (already folded, precomposed and bare).
fn word_is(word: &str, forms: &[&str]) -> bool {
    let folded = fold(word);
    forms.contains(&folded.as_str())
}

const SO: &[&str] = &["số", "sô", "so"];
const NGAY: &[&str] = &["ngày", "ngay"];
const THANG: &[&str] = &["tháng", "thang"];
const NAM: &[&str] = &["năm", "nam"];

struct Parser<'a> {
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text: text.trim().trim_end_matches(['.', ';', ',']).trim_end(),
        }
    }

    fn letter(&self) -> Result<LetterRef, LetterRefError> {
        let text = self.text;
        if text.is_empty() {
            return Err(LetterRefError::Empty);
        }
        let start = text.find(|c: char| c.is_ascii_digit()).ok_or_else(|| {
            LetterRefError::MissingNumber {
                text: text.to_owned(),
            }
        })?;
        check_prefix(&text[..start])?;
        let rest = &text[start..];
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let digits = &rest[..digits_end];
        let number: u32 = digits.parse().map_err(|_| LetterRefError::BadNumber {
            text: digits.to_owned(),
        })?;
        if number == 0 {
            return Err(LetterRefError::BadNumber {
                text: digits.to_owned(),
            });
        }
        let rest = rest[digits_end..].trim_start();
        let rest = rest
            .strip_prefix('/')
            .ok_or(LetterRefError::MissingSymbol)?
            .trim_start();
        let symbol_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let symbol = rest[..symbol_end].trim_end_matches(',');
        if symbol.is_empty() || word_is(symbol, NGAY) {
            return Err(LetterRefError::MissingSymbol);
        }
        check_symbol(symbol)?;
        let rest = rest[symbol_end..].trim_start();
        let mut words = rest.split_whitespace();
        match words.next() {
            None => return Err(LetterRefError::MissingDate),
            Some(word) if word_is(word, NGAY) => {}
            Some(_) => {
                return Err(LetterRefError::TrailingText {
                    text: rest.to_owned(),
                });
            }
        }
        let words: Vec<&str> = words.collect();
        let (date, used) = parse_date(&words)?;
        if used < words.len() {
            return Err(LetterRefError::TrailingText {
                text: words[used..].join(" "),
            });
        }
        Ok(LetterRef {
            number,
            symbol: symbol.to_owned(),
            date,
        })
    }
}

/// Accepts nothing, or words naming the kind of letter ("VB", "Công văn", "Văn bản"), the last
/// of which may be "số" (with or without a colon).
fn check_prefix(prefix: &str) -> Result<(), LetterRefError> {
    let prefix = prefix.trim();
    let bad = || LetterRefError::UnexpectedPrefix {
        text: prefix.to_owned(),
    };
    let words: Vec<&str> = prefix.split_whitespace().collect();
    if words.len() > 5 {
        return Err(bad());
    }
    for (i, word) in words.iter().enumerate() {
        let last = i + 1 == words.len();
        let word = if last {
            word.strip_suffix(':').unwrap_or(word)
        } else {
            word
        };
        let letters = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_alphabetic() || ('\u{300}'..='\u{36f}').contains(&c));
        if !letters {
            return Err(bad());
        }
        if word_is(word, SO) && !last {
            return Err(bad());
        }
    }
    Ok(())
}

/// Reads "25/5/2021" (or with `-` or `.`) or "25 tháng 5 năm 2021" from the start of `words`,
/// returning the date and how many words it took.
fn parse_date(words: &[&str]) -> Result<(Date, usize), LetterRefError> {
    let Some(first) = words.first() else {
        return Err(LetterRefError::MissingDate);
    };
    let bad = |text: String| LetterRefError::BadDate { text };
    let (parts, used): ([&str; 3], usize) = match words {
        [d, t, m, n, y, ..] if word_is(t, THANG) && word_is(n, NAM) => ([d, m, y], 5),
        _ => {
            let first = first.trim_end_matches(['.', ',', ';']);
            let separator = first
                .chars()
                .find(|c| matches!(c, '/' | '-' | '.'))
                .ok_or_else(|| bad(first.to_owned()))?;
            let pieces: Vec<&str> = first.split(separator).collect();
            let [d, m, y] = pieces[..] else {
                return Err(bad(first.to_owned()));
            };
            ([d, m, y], 1)
        }
    };
    let [d, m, y] = parts;
    let shown = if used == 1 {
        parts.join("/")
    } else {
        words[..used].join(" ")
    };
    let number = |s: &str, max_len: usize, min_len: usize| -> Result<i64, LetterRefError> {
        if s.len() < min_len || s.len() > max_len || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(shown.clone()));
        }
        s.parse().map_err(|_| bad(shown.clone()))
    };
    let (day, month, year) = (number(d, 2, 1)?, number(m, 2, 1)?, number(y, 4, 4)?);
    let date = Date::new(year as i16, month as i8, day as i8)
        .map_err(|_| LetterRefError::NoSuchDate { day, month, year })?;
    Ok((date, used))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    fn sct() -> LetterRef {
        LetterRef::new(2559, "SCT-VP", date(2021, 5, 25)).unwrap()
    }

    #[test]
    fn the_forms_officers_write() {
        for text in [
            "VB số 2559/SCT-VP ngày 25/5/2021",
            "2559/SCT-VP ngày 25/05/2021",
            "Công văn số 2559/SCT-VP ngày 25/5/2021",
            "Văn bản số: 2559/SCT-VP ngày 25-5-2021",
            "  số 2559 / SCT-VP,  ngày 25.05.2021. ",
            "CV so 2559/SCT-VP ngay 25/5/2021",
            "Vb số 2559/SCT-VP Ngày 25 tháng 5 năm 2021",
            // Decomposed Unicode, as some keyboards and PDFs produce.
            "VB so\u{302}\u{301} 2559/SCT-VP nga\u{300}y 25/5/2021",
            "02559/SCT-VP ngày 25/5/2021",
        ] {
            assert_eq!(LetterRef::parse(text), Ok(sct()), "{text}");
        }
        assert_eq!(sct().to_string(), "2559/SCT-VP ngày 25/5/2021");
        let nd = LetterRef::parse("Nghị định số 85/2016/NĐ-CP ngày 01/7/2016").unwrap();
        assert_eq!(nd.symbol, "2016/NĐ-CP");
        assert_eq!(nd.to_string(), "85/2016/NĐ-CP ngày 1/7/2016");
        let ca = LetterRef::parse("1909/CAT-PA03 ngày 14/6/2021").unwrap();
        assert_eq!(ca.symbol, "CAT-PA03");
    }

    #[test]
    fn clear_errors() {
        use LetterRefError as E;
        type Expect = fn(&LetterRefError) -> bool;
        let cases: [(&str, Expect); 12] = [
            ("", |e| *e == E::Empty),
            ("VB số /SCT-VP", |e| matches!(e, E::MissingNumber { .. })),
            ("VB số 0/SCT-VP ngày 1/1/2021", |e| {
                matches!(e, E::BadNumber { .. })
            }),
            ("99999999999/SCT-VP ngày 1/1/2021", |e| {
                matches!(e, E::BadNumber { .. })
            }),
            ("Số hiệu: #2559/SCT-VP ngày 1/1/2021", |e| {
                matches!(e, E::UnexpectedPrefix { .. })
            }),
            ("2559 ngày 25/5/2021", |e| *e == E::MissingSymbol),
            ("2559/ ngày 25/5/2021", |e| *e == E::MissingSymbol),
            ("2559/SCT-VP", |e| *e == E::MissingDate),
            ("2559/SCT-VP ngày 25/5/21", |e| {
                matches!(e, E::BadDate { .. })
            }),
            ("2559/SCT-VP ngày 31/2/2021", |e| {
                matches!(
                    e,
                    E::NoSuchDate {
                        day: 31,
                        month: 2,
                        year: 2021
                    }
                )
            }),
            (
                "2559/SCT-VP ngày 25/5/2021 của Sở Công Thương",
                |e| matches!(e, E::TrailingText { .. }),
            ),
            ("2559/SCT+VP ngày 25/5/2021", |e| {
                matches!(e, E::BadSymbol { .. })
            }),
        ];
        for (text, expected) in cases {
            let err = LetterRef::parse(text).unwrap_err();
            assert!(expected(&err), "{text:?}: {err:?}");
            // Vietnamese first, with diacritics.
            let message = err.to_string();
            assert!(!message.is_ascii(), "{message}");
        }
        assert!(
            LetterRef::parse("2559/SCT-VP ngày 31/2/2021")
                .unwrap_err()
                .to_string()
                .starts_with("ngày 31/2/2021 không tồn tại")
        );
    }

    #[test]
    fn json_is_an_object_and_is_checked() {
        let json = serde_json::to_string(&sct()).unwrap();
        assert_eq!(
            json,
            r#"{"number":2559,"symbol":"SCT-VP","date":"2021-05-25"}"#
        );
        assert_eq!(serde_json::from_str::<LetterRef>(&json).unwrap(), sct());
        assert!(
            serde_json::from_str::<LetterRef>(
                r#"{"number":0,"symbol":"SCT-VP","date":"2021-05-25"}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<LetterRef>(
                r#"{"number":1,"symbol":"SCT VP","date":"2021-05-25"}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<LetterRef>(
                r#"{"number":1,"symbol":"SCT","date":"2021-05-25","kind":"VB"}"#
            )
            .is_err()
        );
    }

    /// Valid references, with Vietnamese letters in symbols.
    fn letter_refs() -> impl Strategy<Value = LetterRef> {
        (
            1u32..=u32::MAX,
            "[A-ZĐ]{1,6}(-[A-ZĐ0-9]{1,8}){0,2}",
            proptest::option::of(2000u16..2100),
            1990i16..=2099,
            1i8..=12,
            1i8..=31,
        )
            .prop_filter_map("a real date", |(number, symbol, year_part, y, m, d)| {
                let date = Date::new(y, m, d).ok()?;
                let symbol = match year_part {
                    Some(year) => format!("{year}/{symbol}"),
                    None => symbol,
                };
                LetterRef::new(number, &symbol, date).ok()
            })
    }

    proptest! {
        #[test]
        fn display_then_parse_gives_the_same_reference(letter in letter_refs()) {
            let shown = letter.to_string();
            prop_assert_eq!(LetterRef::parse(&shown), Ok(letter.clone()));
            let padded = format!(
                "Công văn số {:05}/{} ngày {:02}/{:02}/{}",
                letter.number, letter.symbol, letter.date.day(), letter.date.month(), letter.date.year()
            );
            prop_assert_eq!(LetterRef::parse(&padded), Ok(letter.clone()));
            let json = serde_json::to_string(&letter).unwrap();
            prop_assert_eq!(serde_json::from_str::<LetterRef>(&json).unwrap(), letter);
        }

        #[test]
        fn parsing_anything_never_panics(text in "\\PC{0,40}") {
            let _ = LetterRef::parse(&text);
        }

        #[test]
        fn parsing_near_misses_never_panics(text in "(VB số )?[0-9]{0,4}/?[A-Z-]{0,4} ?(ngày)? ?[0-9./-]{0,12}") {
            if let Ok(letter) = LetterRef::parse(&text) {
                prop_assert_eq!(LetterRef::parse(&letter.to_string()), Ok(letter));
            }
        }
    }
}
