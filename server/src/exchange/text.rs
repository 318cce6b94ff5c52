//! Reading what officers type: Vietnamese text with or without diacritics, column headers in
//! their many spellings, and levels written "2", "Cấp độ 2", "cấp 3" or "CĐ II".

use crate::model::{Level, LevelError};

/// `c` without its Vietnamese diacritics, lowercase (`Ấ` -> `a`, `Đ` -> `d`).
fn base_letter(c: char) -> char {
    const GROUPS: [(&str, char); 7] = [
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ìíỉĩị", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("đ", 'd'),
    ];
    GROUPS
        .iter()
        .find(|(letters, _)| letters.contains(c))
        .map_or(c, |&(_, base)| base)
}

/// Lowercase without diacritics, precomposed or combining: "Đơn vị vận hành" and
/// "DON VI VAN HANH" both give "don vi van hanh".
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(base_letter)
        .collect()
}

/// The comparison key of a name or header: folded, every run of punctuation or white space
/// one space, trimmed. "Trang thông tin  điện tử (Sở)" -> "trang thong tin dien tu so".
pub fn key(text: &str) -> String {
    let folded = fold(text);
    let mut out = String::with_capacity(folded.len());
    for word in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Every run of white space (line breaks of wrapped cells included) as one space, trimmed.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A column of the inventory layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// STT (số thứ tự): read but not used (rows are numbered as in the file).
    Number,
    /// Tên hệ thống (thông tin): required.
    Name,
    /// Đơn vị vận hành.
    Unit,
    /// Cấp độ đề xuất.
    Level,
    /// Văn bản gửi hồ sơ ("Hồ sơ và thời gian gửi HSDXCĐ" in the seed spreadsheet).
    Letter,
    /// URL (địa chỉ, tên miền).
    Url,
    /// Nơi đặt máy chủ.
    Hosting,
    /// Cơ quan chủ quản (optional: by short code, name or id).
    Owner,
    /// A column the export writes and the import ignores (approved level, grade, last scan,
    /// dossier state, decision).
    ExportOnly,
}

impl Column {
    /// The header this server writes, in Vietnamese.
    pub fn header_vi(self) -> &'static str {
        match self {
            Column::Number => "STT",
            Column::Name => "Tên hệ thống",
            Column::Unit => "Đơn vị vận hành",
            Column::Level => "Cấp độ đề xuất",
            Column::Letter => "Văn bản gửi hồ sơ",
            Column::Url => "URL",
            Column::Hosting => "Nơi đặt máy chủ",
            Column::Owner => "Cơ quan chủ quản",
            Column::ExportOnly => "",
        }
    }

    /// The column a header names, if any: exact spellings first, then the words that give it
    /// away (a header naming the owner agency, "chủ quản", wins over "tên").
    pub fn from_header(header: &str) -> Option<Column> {
        let k = key(header);
        const EXACT: &[(&str, Column)] = &[
            ("stt", Column::Number),
            ("tt", Column::Number),
            ("so tt", Column::Number),
            ("s tt", Column::Number),
            ("so thu tu", Column::Number),
            ("no", Column::Number),
            ("ten", Column::Name),
            ("he thong", Column::Name),
            ("he thong thong tin", Column::Name),
            ("httt", Column::Name),
            ("ten httt", Column::Name),
            ("name", Column::Name),
            ("system", Column::Name),
            ("don vi", Column::Unit),
            ("unit", Column::Unit),
            ("operating unit", Column::Unit),
            ("level", Column::Level),
            ("proposed level", Column::Level),
            ("letter", Column::Letter),
            ("url", Column::Url),
            ("urls", Column::Url),
            ("website", Column::Url),
            ("dia chi", Column::Url),
            ("hosting", Column::Hosting),
            ("owner", Column::Owner),
            ("owner agency", Column::Owner),
        ];
        if let Some(&(_, column)) = EXACT.iter().find(|(alias, _)| *alias == k) {
            return Some(column);
        }
        let has = |words: &str| contains_words(&k, words);
        let column = if has("phe duyet")
            || has("xep loai")
            || has("tuan thu")
            || has("lan quet")
            || has("trang thai")
            || has("quyet dinh")
        {
            Column::ExportOnly
        } else if has("chu quan") {
            Column::Owner
        } else if has("van hanh") || has("don vi quan ly") {
            Column::Unit
        } else if has("cap do") || k == "cap" || k.starts_with("cap ") {
            Column::Level
        } else if has("van ban") || k.starts_with("ho so") || has("hsdxcd") {
            Column::Letter
        } else if has("may chu") || has("noi dat") || has("vi tri dat") || has("luu tru") {
            Column::Hosting
        } else if has("url") || has("ten mien") || has("dia chi") || has("website") {
            Column::Url
        } else if k.starts_with("ten") || has("he thong") {
            Column::Name
        } else {
            return None;
        };
        Some(column)
    }
}

/// Whether `words` (space-separated) occur in `key` as whole words, in order.
fn contains_words(key: &str, words: &str) -> bool {
    let hay: Vec<&str> = key.split(' ').collect();
    let needle: Vec<&str> = words.split(' ').collect();
    hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// Why a level cell cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelTextError {
    /// Not a level at all.
    #[error(
        "không đọc được cấp độ \"{0}\": ghi số từ 1 đến 5, ví dụ \"2\" hoặc \"Cấp độ 2\" (cannot read the level {0:?})"
    )]
    Unreadable(String),
    /// A number outside 1-5.
    #[error("{0}")]
    OutOfRange(#[from] LevelError),
}

/// A level as written: "2", "2.0", "Cấp độ 2", "cấp 3", "CĐ 2", "Level 4", "cấp độ II".
/// `Ok(None)` for an empty cell.
pub fn parse_level(text: &str) -> Result<Option<Level>, LevelTextError> {
    let k = key(text);
    if k.is_empty() {
        return Ok(None);
    }
    let mut rest = k.as_str();
    for prefix in ["cap do", "cap", "cd", "level", "muc do", "muc"] {
        if let Some(r) = rest.strip_prefix(prefix)
            && (r.is_empty() || r.starts_with(' '))
        {
            rest = r.trim_start();
            break;
        }
    }
    // "2.0" (a number cell) keys as "2 0".
    let rest = rest.strip_suffix(" 0").unwrap_or(rest);
    let unreadable = || LevelTextError::Unreadable(squash(text));
    let n: u8 = match rest {
        "i" => 1,
        "ii" => 2,
        "iii" => 3,
        "iv" => 4,
        "v" => 5,
        digits if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            digits.parse().map_err(|_| unreadable())?
        }
        _ => return Err(unreadable()),
    };
    Ok(Some(Level::new(n)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_keys() {
        assert_eq!(fold("Đơn vị vận hành"), "don vi van hanh");
        assert_eq!(fold("ĐƠN VỊ VẬN HÀNH"), "don vi van hanh");
        // Decomposed: "ô" as "o" + U+0302, "ớ" as "o" + U+031B + U+0301.
        assert_eq!(fold("Tho\u{302}ng tin mo\u{31b}\u{301}i"), "thong tin moi");
        assert_eq!(
            key("  Trang thông tin\nđiện tử (Sở Công Thương) "),
            "trang thong tin dien tu so cong thuong"
        );
        assert_eq!(squash(" Sở Công\n  Thương "), "Sở Công Thương");
    }

    #[test]
    fn header_variants() {
        let cases = [
            ("STT", Column::Number),
            ("Số TT", Column::Number),
            ("Tên hệ thống", Column::Name),
            ("Tên hệ thống thông tin", Column::Name),
            ("TEN HE THONG", Column::Name),
            ("ten he thong thong tin", Column::Name),
            ("Đơn vị vận hành", Column::Unit),
            ("Don vi van hanh", Column::Unit),
            ("Đơn vị quản lý, vận hành", Column::Unit),
            ("Cấp độ đề xuất", Column::Level),
            ("Cấp độ", Column::Level),
            ("cap do de xuat", Column::Level),
            ("Văn bản gửi hồ sơ", Column::Letter),
            ("Hồ sơ và thời gian gửi HSDXCĐ", Column::Letter),
            ("URL", Column::Url),
            ("Địa chỉ truy cập", Column::Url),
            ("Tên miền", Column::Url),
            ("Nơi đặt máy chủ", Column::Hosting),
            ("Vị trí đặt máy chủ", Column::Hosting),
            ("Cơ quan chủ quản", Column::Owner),
            ("Tên cơ quan chủ quản", Column::Owner),
            ("Mã đơn vị chủ quản", Column::Owner),
            ("Cấp độ phê duyệt", Column::ExportOnly),
            ("Xếp loại tuân thủ", Column::ExportOnly),
            ("Lần quét gần nhất", Column::ExportOnly),
            ("Trạng thái hồ sơ", Column::ExportOnly),
        ];
        for (header, column) in cases {
            assert_eq!(Column::from_header(header), Some(column), "{header}");
        }
        for header in ["", "Ghi chú", "Kinh phí"] {
            assert_eq!(Column::from_header(header), None, "{header}");
        }
        // What the export writes reads back as the same column.
        for column in [
            Column::Number,
            Column::Name,
            Column::Unit,
            Column::Level,
            Column::Letter,
            Column::Url,
            Column::Hosting,
            Column::Owner,
        ] {
            assert_eq!(Column::from_header(column.header_vi()), Some(column));
        }
    }

    #[test]
    fn levels_as_written() {
        for (text, n) in [
            ("2", 2),
            ("2.0", 2),
            ("Cấp độ 2", 2),
            ("cấp 3", 3),
            ("CẤP ĐỘ 4", 4),
            ("CĐ 1", 1),
            ("Level 5", 5),
            ("cấp độ II", 2),
            ("cap do 3", 3),
            (" 3 ", 3),
        ] {
            assert_eq!(
                parse_level(text).unwrap().map(Level::get),
                Some(n),
                "{text}"
            );
        }
        assert_eq!(parse_level("  ").unwrap(), None);
        assert!(matches!(
            parse_level("6"),
            Err(LevelTextError::OutOfRange(LevelError(6)))
        ));
        assert!(matches!(
            parse_level("cao"),
            Err(LevelTextError::Unreadable(_))
        ));
        assert!(matches!(
            parse_level("cấp độ 2 hoặc 3"),
            Err(LevelTextError::Unreadable(_))
        ));
        assert!(parse_level("300").is_err());
    }
}
