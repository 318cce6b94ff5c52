//! Sending one outbox message through the SMTP relay with lettre: STARTTLS (required, never a
//! silent fall back to clear text) or implicit TLS over rustls with aws-lc-rs, the public roots
//! plus an optional private CA, authentication when configured, multipart text and HTML with
//! attachments, UTF-8 headers encoded as RFC 2047 by lettre.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::outbox::{Outcome, Record};
use super::settings::{MailSettings, Security};

/// Why the mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The CA file could not be read or parsed.
    #[error("[mail] ca_file {path}: {message}")]
    Ca {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The sender is not a mailbox (`Name <user@domain>` or `user@domain`).
    #[error("[mail] from = {from:?}: {message}")]
    From {
        /// As configured.
        from: String,
        /// What went wrong.
        message: String,
    },
    /// lettre refused the TLS parameters.
    #[error("[mail] TLS parameters for {host}: {message}")]
    Tls {
        /// The relay.
        host: String,
        /// What went wrong.
        message: String,
    },
}

/// A connection pool to the relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// A mailer for the relay of `settings` (no connection is made yet). Call it inside a
    /// tokio runtime: the connection pool lives there.
    pub fn new(settings: &MailSettings) -> Result<Mailer, MailerError> {
        let tls = || -> Result<TlsParameters, MailerError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path).map_err(|e| MailerError::Ca {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| MailerError::Ca {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build_rustls().map_err(|e| MailerError::Tls {
                host: settings.host.clone(),
                message: e.to_string(),
            })
        };
        let tls = match settings.security {
            Security::Starttls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
            Security::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailerError::From {
                from: settings.from.clone(),
                message: e.to_string(),
            })?;
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends one message; the outcome says whether to try again.
    pub async fn send(&self, record: &Record) -> Outcome {
        let message = match build(&self.from, record) {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent(format!("cannot build the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(error_text(&e)),
            Err(e) => Outcome::Transient(error_text(&e)),
        }
    }

    /// Checks that the relay answers and accepts the credentials.
    pub async fn test_connection(&self) -> Result<bool, String> {
        self.transport
            .test_connection()
            .await
            .map_err(|e| error_text(&e))
    }
}

fn error_text(e: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The MIME message of a record: multipart/alternative text and HTML, inside multipart/mixed
/// when there are attachments; the stable `Message-ID` of the record.
pub fn build(from: &Mailbox, record: &Record) -> Result<Message, lettre::error::Error> {
    let d = &record.draft;
    let to: Mailbox = Mailbox::new(
        None,
        d.to.as_str()
            .parse()
            .map_err(|_| lettre::error::Error::MissingTo)?,
    );
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(d.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(d.html.clone()),
        );
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(d.subject.clone())
        .message_id(Some(record.message_id.clone()))
        .date_now();
    if d.attachments.is_empty() {
        builder.multipart(alternative)
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &d.attachments {
            let content_type = ContentType::parse(&a.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").unwrap());
            mixed = mixed.singlepart(
                MimeAttachment::new(a.filename.clone()).body(a.bytes.clone(), content_type),
            );
        }
        builder.multipart(mixed)
    }
}

/// A lease long enough for one SMTP transaction with the configured timeout.
pub fn lease(settings: &MailSettings) -> Duration {
    settings.timeout * 2 + Duration::from_secs(5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::outbox::{Attachment, Category, Draft, State};
    use crate::model::Email;

    fn settings(from: &str) -> MailSettings {
        MailSettings {
            host: "127.0.0.1".into(),
            port: 2525,
            security: Security::None,
            username: None,
            password: None,
            from: from.into(),
            ca_file: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn a_sender_that_is_no_mailbox_is_an_error_not_a_panic() {
        // The pool lives on the caller's tokio runtime.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _inside = rt.enter();
        assert!(Mailer::new(&settings("Canh gác <canhgac@example.gov.vn>")).is_ok());
        let err = Mailer::new(&settings("not a mailbox")).unwrap_err();
        assert!(err.to_string().contains("from"), "{err}");
    }

    #[test]
    fn messages_are_multipart_with_encoded_vietnamese_headers_and_a_stable_id() {
        let from: Mailbox = "Canh gác <canhgac@example.gov.vn>".parse().unwrap();
        let now = jiff::Timestamp::from_second(1_790_000_000).unwrap();
        let record = Record {
            draft: Draft {
                key: "k".into(),
                category: Category::Weekly,
                to: Email::new("giamdoc@example.gov.vn").unwrap(),
                subject: "Báo cáo tuần: hồ sơ đề xuất cấp độ".into(),
                text: "Nội dung".into(),
                html: "<p>Nội dung</p>".into(),
                attachments: vec![Attachment {
                    filename: "bao-cao-tuan.xlsx".into(),
                    content_type:
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
                    bytes: vec![b'P', b'K', 3, 4],
                }],
            },
            state: State::Pending,
            queued_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            message_id: crate::alerts::outbox::message_id("k"),
        };
        let raw = String::from_utf8(build(&from, &record).unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(!raw.contains("Subject: Báo"), "the subject is encoded");
        assert!(raw.contains("multipart/mixed"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(raw.contains("bao-cao-tuan.xlsx"), "{raw}");
        assert!(
            raw.contains(&format!("Message-ID: {}", record.message_id)),
            "{raw}"
        );
    }
}
