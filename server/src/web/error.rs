//! Errors as pages: the API's [`ApiError`] (status and message kept) or a template that
//! failed to render, shown as a short page in the visitor's language with a way back.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::chrome::{Chrome, Lang};
use crate::api::ApiError;

/// A page-level error: the status and a message for the person.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    message: String,
    lang: Lang,
}

impl WebError {
    /// The API's error, shown in `lang`.
    pub fn api(e: ApiError, lang: Lang) -> WebError {
        let message = match e.status() {
            StatusCode::NOT_FOUND => lang
                .t(
                    "Không tìm thấy trang hoặc bạn không có quyền xem.",
                    "Not found, or not yours to see.",
                )
                .to_string(),
            StatusCode::FORBIDDEN if e.code() == "csrf" => lang
                .t(
                    "Biểu mẫu đã hết hạn hoặc không hợp lệ: hãy tải lại trang và thử lại.",
                    "The form expired or is not valid: reload the page and try again.",
                )
                .to_string(),
            StatusCode::FORBIDDEN => lang
                .t(
                    "Vai trò của bạn không được phép thực hiện việc này.",
                    "Your role may not do this.",
                )
                .to_string(),
            _ => e.message().to_string(),
        };
        WebError {
            status: e.status(),
            message,
            lang,
        }
    }

    /// A template that failed to render (a bug: logged, 500).
    pub fn render(e: askama::Error, lang: Lang) -> WebError {
        tracing::error!(error = %e, "a page failed to render");
        WebError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: lang
                .t(
                    "Trang không hiển thị được; lỗi đã được ghi lại.",
                    "The page could not be shown; the error was logged.",
                )
                .to_string(),
            lang,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: Chrome,
    status: u16,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            c: Chrome::anonymous(self.lang, "/"),
            status: self.status.as_u16(),
            message: &self.message,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

/// Renders a page template, or the error page.
pub fn render(page: &impl Template, lang: Lang) -> Result<Html<String>, WebError> {
    page.render()
        .map(Html)
        .map_err(|e| WebError::render(e, lang))
}
