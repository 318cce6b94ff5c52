//! Dossier documents as files: the upload limit, hashing, the file name as stored, the media
//! type and `Content-Disposition` used when a document is downloaded, and the integrity check
//! run before any byte is sent.
//!
//! Content is stored once per SHA-256 in `Table::Documents` (two dossiers attaching the same
//! file share one copy); each dossier keeps a [`DocumentRef`] (kind, name, size, hash) written in
//! the same batch as the content and the audit event. The HTTP side is `crate::api::documents`.

use sha2::{Digest, Sha256};

use crate::model::DocumentRef;

/// The default largest document accepted (20 MiB): a scanned dossier of a few dozen pages.
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;

/// Room for the multipart framing and the `kind` field around the file, in bytes.
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Longest file name kept, in bytes of UTF-8 (what most file systems allow).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// The body limit of an upload request allowing a file of `max_document_bytes`.
pub fn upload_body_limit(max_document_bytes: usize) -> usize {
    max_document_bytes.saturating_add(MULTIPART_OVERHEAD)
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a file name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// Nothing left once the directories are removed.
    #[error("tệp tải lên chưa có tên (the uploaded file has no name)")]
    Empty,
    /// Longer than [`MAX_FILE_NAME_BYTES`].
    #[error(
        "tên tệp dài quá {MAX_FILE_NAME_BYTES} byte (the file name is longer than {MAX_FILE_NAME_BYTES} bytes)"
    )]
    TooLong,
    /// Control characters (line breaks, NUL...).
    #[error("tên tệp chứa ký tự điều khiển (the file name contains control characters)")]
    ControlCharacters,
}

/// The file name as stored: the last path component of what the browser sent (some send
/// `C:\Users\...\name.pdf`), trimmed. Vietnamese and other Unicode names are kept as they are.
pub fn clean_file_name(raw: &str) -> Result<String, FileNameError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw).trim();
    if last.is_empty() || last == "." || last == ".." {
        return Err(FileNameError::Empty);
    }
    if last.chars().any(char::is_control) {
        return Err(FileNameError::ControlCharacters);
    }
    if last.len() > MAX_FILE_NAME_BYTES {
        return Err(FileNameError::TooLong);
    }
    Ok(last.to_owned())
}

/// The media type a document is served with, from its file name's extension. Types a browser
/// would run (HTML, SVG, scripts) and unknown extensions are served as
/// `application/octet-stream`.
pub fn media_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "rtf" => "application/rtf",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "webp" => "image/webp",
        "zip" => "application/zip",
        "7z" => "application/x-7z-compressed",
        "rar" => "application/vnd.rar",
        "gz" => "application/gzip",
        "p7s" => "application/pkcs7-signature",
        _ => "application/octet-stream",
    }
}

/// `Content-Disposition: attachment` naming `file_name`: an ASCII fallback in `filename` (non-ASCII
/// letters lose their diacritics, anything else becomes `_`) and the exact name in UTF-8 in
/// `filename*` (RFC 6266, RFC 5987 encoding), which every current browser prefers.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| match c {
            ' ' | '-' | '_' | '.' | '(' | ')' | ',' | '+' => c,
            c if c.is_ascii_alphanumeric() => c,
            c => ascii_letter(c).unwrap_or('_'),
        })
        .collect();
    let mut encoded = String::new();
    for byte in file_name.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The base letter of a Vietnamese letter with diacritics (`ệ` -> `e`, `Đ` -> `D`).
fn ascii_letter(c: char) -> Option<char> {
    const GROUPS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'A'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ÈÉẺẼẸÊỀẾỂỄỆ", 'E'),
        ("ìíỉĩị", 'i'),
        ("ÌÍỈĨỊ", 'I'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'O'),
        ("ùúủũụưừứửữự", 'u'),
        ("ÙÚỦŨỤƯỪỨỬỮỰ", 'U'),
        ("ỳýỷỹỵ", 'y'),
        ("ỲÝỶỸỴ", 'Y'),
        ("đ", 'd'),
        ("Đ", 'D'),
    ];
    GROUPS
        .iter()
        .find(|(letters, _)| letters.contains(c))
        .map(|(_, base)| *base)
}

/// Stored content that does not match its reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The store has no content under the document's SHA-256.
    #[error(
        "nội dung tệp \"{file_name}\" không còn trong kho lưu trữ; cần khôi phục từ bản sao lưu (the content of {file_name:?} is missing from the store: restore it from a backup)"
    )]
    Missing {
        /// The document's file name.
        file_name: String,
    },
    /// The content's size or SHA-256 differs from the reference.
    #[error(
        "nội dung tệp \"{file_name}\" trong kho lưu trữ đã bị hỏng (SHA-256 không khớp); cần khôi phục từ bản sao lưu (the stored content of {file_name:?} does not match its SHA-256: restore it from a backup)"
    )]
    Corrupt {
        /// The document's file name.
        file_name: String,
        /// The SHA-256 of what the store holds.
        actual: String,
    },
}

/// Checks that `content` (what the store holds under `document.sha256`) is the document.
pub fn check_content(document: &DocumentRef, content: Option<&[u8]>) -> Result<(), ContentError> {
    let Some(bytes) = content else {
        return Err(ContentError::Missing {
            file_name: document.file_name.clone(),
        });
    };
    let actual = sha256_hex(bytes);
    if actual != document.sha256 || bytes.len() as u64 != document.size {
        return Err(ContentError::Corrupt {
            file_name: document.file_name.clone(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentId;

    #[test]
    fn file_names_keep_vietnamese_and_lose_directories() {
        assert_eq!(
            clean_file_name("C:\\Hồ sơ\\Báo cáo tổng quan.pdf").unwrap(),
            "Báo cáo tổng quan.pdf"
        );
        assert_eq!(
            clean_file_name("/tmp/x/Thuyết minh.docx").unwrap(),
            "Thuyết minh.docx"
        );
        assert_eq!(clean_file_name("  "), Err(FileNameError::Empty));
        assert_eq!(clean_file_name("a/.."), Err(FileNameError::Empty));
        assert_eq!(
            clean_file_name("a\nb.pdf"),
            Err(FileNameError::ControlCharacters)
        );
        assert_eq!(
            clean_file_name(&"ệ".repeat(100)),
            Err(FileNameError::TooLong)
        );
    }

    #[test]
    fn disposition_is_rfc_5987() {
        let d = content_disposition("Phương án bảo đảm ATTT.pdf");
        assert_eq!(
            d,
            "attachment; filename=\"Phuong an bao dam ATTT.pdf\"; filename*=UTF-8''Ph%C6%B0%C6%A1ng%20%C3%A1n%20b%E1%BA%A3o%20%C4%91%E1%BA%A3m%20ATTT.pdf"
        );
        let quoted = content_disposition("a\"b;c.pdf");
        assert!(
            quoted.starts_with("attachment; filename=\"a_b_c.pdf\";"),
            "{quoted}"
        );
        assert!(quoted.ends_with("a%22b%3Bc.pdf"), "{quoted}");
    }

    #[test]
    fn media_types_by_extension_never_active_content() {
        assert_eq!(media_type("Báo cáo.PDF"), "application/pdf");
        assert_eq!(
            media_type("x.docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(media_type("trang.html"), "application/octet-stream");
        assert_eq!(media_type("hinh.svg"), "application/octet-stream");
        assert_eq!(media_type("khong-duoi"), "application/octet-stream");
    }

    #[test]
    fn content_is_checked_against_its_reference() {
        let at: jiff::Timestamp = "2026-11-20T02:00:00Z".parse().unwrap();
        let bytes = b"%PDF-1.7 noi dung";
        let doc = DocumentRef {
            id: DocumentId::derived(at, b"d"),
            kind: "overview_report".into(),
            file_name: "Báo cáo.pdf".into(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            uploaded_at: at,
        };
        assert_eq!(check_content(&doc, Some(bytes)), Ok(()));
        let mut flipped = bytes.to_vec();
        flipped[3] ^= 1;
        assert!(matches!(
            check_content(&doc, Some(&flipped)),
            Err(ContentError::Corrupt { .. })
        ));
        assert!(matches!(
            check_content(&doc, None),
            Err(ContentError::Missing { .. })
        ));
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
