//! A message received by the SMTP fixture ([`crate::smtp_server`]): the envelope the client gave
//! (MAIL FROM, RCPT TO), the exact bytes of the DATA phase, and the fields a test asserts on,
//! parsed with `mail-parser` so that RFC 2047 encoded words, transfer encodings and charsets are
//! decoded by a real MIME parser rather than by the test.

use mail_parser::{Address, MessageParser, MimeHeaders as _, PartType};

/// A file attached to a [`ReceivedMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name (Content-Disposition `filename`, else Content-Type `name`), decoded.
    pub filename: Option<String>,
    /// `type/subtype`, lowercase (`application/octet-stream` when the part has none).
    pub content_type: String,
    /// The content with its transfer encoding (base64, quoted-printable) removed.
    pub bytes: Vec<u8>,
}

/// One message as the fixture received it.
///
/// The parsed fields are empty (`None`, `[]`) when the message lacks them or cannot be parsed;
/// [`ReceivedMessage::raw`] always holds what was sent.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The envelope sender (MAIL FROM, without the angle brackets; empty for `<>`).
    pub mail_from: String,
    /// The envelope recipients (RCPT TO, without the angle brackets), in order.
    pub rcpt_to: Vec<String>,
    /// The message as transferred in DATA, dot-unstuffed, without the final `.` line.
    pub raw: Vec<u8>,
    /// The Subject header, RFC 2047 decoded.
    pub subject: Option<String>,
    /// The first address of the From header (`user@domain`).
    pub from: Option<String>,
    /// The display name of that address, RFC 2047 decoded.
    pub from_name: Option<String>,
    /// The addresses of the To header (`user@domain`).
    pub to: Vec<String>,
    /// The addresses of the Cc header (`user@domain`).
    pub cc: Vec<String>,
    /// The Message-ID header without the angle brackets.
    pub message_id: Option<String>,
    /// The first text/plain body, decoded to UTF-8 (never converted from HTML).
    pub text: Option<String>,
    /// The first text/html body, decoded to UTF-8 (never converted from text).
    pub html: Option<String>,
    /// The attachments, in order.
    pub attachments: Vec<Attachment>,
    /// The top-level headers: name as sent, raw value (unfolded, not decoded).
    headers: Vec<(String, String)>,
}

impl ReceivedMessage {
    /// Parses `raw`, received with this envelope.
    pub fn parse(mail_from: impl Into<String>, rcpt_to: Vec<String>, raw: Vec<u8>) -> Self {
        let mut message = ReceivedMessage {
            mail_from: mail_from.into(),
            rcpt_to,
            raw: Vec::new(),
            subject: None,
            from: None,
            from_name: None,
            to: Vec::new(),
            cc: Vec::new(),
            message_id: None,
            text: None,
            html: None,
            attachments: Vec::new(),
            headers: Vec::new(),
        };
        if let Some(parsed) = MessageParser::default().parse(&raw) {
            message.subject = parsed.subject().map(String::from);
            let from = parsed.from().and_then(Address::first);
            message.from = from.and_then(|a| a.address()).map(String::from);
            message.from_name = from.and_then(|a| a.name()).map(String::from);
            message.to = addresses(parsed.to());
            message.cc = addresses(parsed.cc());
            message.message_id = parsed.message_id().map(String::from);
            message.text = parsed
                .text_bodies()
                .find(|part| {
                    matches!(part.body, PartType::Text(_))
                        && part.content_type().is_none_or(|ct| {
                            ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
                        })
                })
                .and_then(|part| part.text_contents())
                .map(String::from);
            message.html = parsed
                .html_bodies()
                .find(|part| matches!(part.body, PartType::Html(_)))
                .and_then(|part| part.text_contents())
                .map(String::from);
            message.attachments = parsed
                .attachments()
                .map(|part| Attachment {
                    filename: part.attachment_name().map(String::from),
                    content_type: part
                        .content_type()
                        .map(|ct| match ct.subtype() {
                            Some(sub) => format!("{}/{sub}", ct.ctype()),
                            None => ct.ctype().to_string(),
                        })
                        .unwrap_or_else(|| "application/octet-stream".into())
                        .to_ascii_lowercase(),
                    bytes: part.contents().to_vec(),
                })
                .collect();
            message.headers = parsed
                .headers_raw()
                .map(|(name, value)| (name.to_string(), unfold(value)))
                .collect();
        }
        message.raw = raw;
        message
    }

    /// The raw value of the first top-level header called `name` (case-insensitive): not RFC 2047
    /// decoded, unfolded, surrounding whitespace trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The raw message as (lossy) UTF-8, for assertion messages.
    pub fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| addr.address().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the line breaks of a folded header value (RFC 5322 section 2.2.3) and trims it.
fn unfold(value: &str) -> String {
    value
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_simple_message() {
        let raw = b"From: =?utf-8?q?C=E1=BA=A3nh_G=C3=A1c?= <canhgac@example.gov.vn>\r\n\
To: a@example.gov.vn, B <b@example.gov.vn>\r\n\
Subject: Hello\r\n\x20world\r\n\
Message-ID: <1@example.gov.vn>\r\n\
X-Custom: =?utf-8?b?w6E=?=\r\n\
\r\n\
Body line\r\n"
            .to_vec();
        let m = ReceivedMessage::parse("s@example.gov.vn", vec!["r@example.gov.vn".into()], raw);
        assert_eq!(m.subject.as_deref(), Some("Hello world"));
        assert_eq!(m.from.as_deref(), Some("canhgac@example.gov.vn"));
        assert_eq!(m.from_name.as_deref(), Some("Cảnh Gác"));
        assert_eq!(m.to, ["a@example.gov.vn", "b@example.gov.vn"]);
        assert!(m.cc.is_empty());
        assert_eq!(m.message_id.as_deref(), Some("1@example.gov.vn"));
        assert_eq!(m.text.as_deref().map(str::trim_end), Some("Body line"));
        assert_eq!(m.html, None, "no HTML made up from the text");
        assert!(m.attachments.is_empty());
        assert_eq!(m.header("x-custom").as_deref(), Some("=?utf-8?b?w6E=?="));
        assert_eq!(m.header("SUBJECT").as_deref(), Some("Hello world"));
        assert_eq!(m.header("Cc"), None);
    }

    #[test]
    fn an_html_only_message_has_no_text() {
        let raw =
            b"Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Ch\xc3\xa0o</p>\r\n"
                .to_vec();
        let m = ReceivedMessage::parse("", vec![], raw);
        assert_eq!(m.text, None);
        assert_eq!(m.html.as_deref().map(str::trim_end), Some("<p>Chào</p>"));
    }
}
