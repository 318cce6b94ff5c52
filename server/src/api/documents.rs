//! Dossier documents over HTTP: upload a file (multipart) to a dossier, download it back.
//!
//! An upload is read in full (up to `max_document_bytes`), hashed, checked, and stored with
//! the dossier's new record and its audit event in one batch guarded by the dossier as it was
//! read: the content once per SHA-256 in `Table::Documents`, the [`DocumentRef`] on the dossier
//! (or on the open supplementation round). A download re-hashes the stored content before
//! sending it and refuses, with a clear message, content that no longer matches.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::dossiers::{event_key, today, visible_dossier};
use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::documents::{
    check_content, clean_file_name, content_disposition, media_type, sha256_hex,
};
use crate::model::{DocumentId, DocumentRef, Dossier, Role};
use crate::repo;
use crate::store::{Batch, Table};
use crate::workflow::{self, Action, ActionKind, AgencyScope, AuditEvent, WorkflowError};

/// How many times an upload is re-applied when the dossier changed between read and write
/// (other uploads to the same dossier at the same moment), with a short random pause between.
const RETRIES: u64 = 32;

/// Longest `kind` field read, in bytes.
const MAX_KIND_BYTES: usize = 100;

fn multipart_error(e: MultipartError) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "too_large",
            "yêu cầu tải lên vượt quá giới hạn dung lượng (the upload is larger than the limit)",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_multipart",
            format!("nội dung multipart không hợp lệ ({})", e.body_text()),
        )
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "tệp vượt quá dung lượng cho phép {limit} byte (the file is larger than the {limit}-byte limit)"
        ),
    )
}

fn bad_upload(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_upload", message)
}

fn invalid_document(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_document",
        message,
    )
}

/// Workflow refusals of an upload: the wrong state is a conflict with the dossier's state.
fn upload_refused(e: WorkflowError) -> ApiError {
    match e {
        WorkflowError::Forbidden { .. }
        | WorkflowError::OutOfScope { .. }
        | WorkflowError::NoAgency { .. } => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
        }
        WorkflowError::IllegalTransition { .. } => ApiError::conflict(e.to_string()),
        WorkflowError::InvalidDocument(_) => invalid_document(e.to_string()),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow",
            other.to_string(),
        ),
    }
}

/// The fields of an upload.
pub(crate) struct Upload {
    /// The document kind, e.g. `overview_report`.
    pub(crate) kind: String,
    /// The file name as sent (cleaned).
    pub(crate) file_name: String,
    /// The content.
    pub(crate) bytes: Vec<u8>,
}

/// Reads `kind` and `file` (at most `limit` bytes of file). An oversized file is read to the
/// end of the request body limit and dropped, so the client reads the 413 rather than a
/// connection reset.
pub(crate) async fn read_upload(
    mut multipart: Multipart,
    limit: usize,
) -> Result<Upload, ApiError> {
    let mut kind: Option<String> = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("kind") => {
                if kind.is_some() {
                    return Err(bad_upload(
                        "trường kind xuất hiện hai lần (kind given twice)",
                    ));
                }
                let mut raw = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    raw.extend_from_slice(&chunk);
                    if raw.len() > MAX_KIND_BYTES {
                        return Err(invalid_document(
                            "loại tài liệu quá dài (the document kind is too long)",
                        ));
                    }
                }
                let text = String::from_utf8(raw)
                    .map_err(|_| bad_upload("trường kind không phải UTF-8 (kind is not UTF-8)"))?;
                kind = Some(text.trim().to_owned());
            }
            Some("file") => {
                if file.is_some() {
                    return Err(bad_upload(
                        "mỗi lần tải lên chỉ một tệp (one file per upload)",
                    ));
                }
                // A bad name is reported once the file is read, so the client gets the answer.
                let name = clean_file_name(field.file_name().unwrap_or_default());
                let mut bytes = Vec::new();
                let mut over = false;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if over || bytes.len() + chunk.len() > limit {
                        over = true;
                        bytes = Vec::new();
                        continue;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if over {
                    return Err(too_large(limit));
                }
                let name = name.map_err(|e| invalid_document(e.to_string()))?;
                file = Some((name, bytes));
            }
            Some(other) => {
                return Err(bad_upload(format!(
                    "trường \"{other}\" không được hỗ trợ: chỉ có kind và file (unknown field {other:?}: only kind and file)"
                )));
            }
            None => {
                return Err(bad_upload(
                    "một phần multipart không có tên (a part has no name)",
                ));
            }
        }
    }
    let kind = kind.ok_or_else(|| {
        bad_upload("thiếu trường kind, ví dụ overview_report (the kind field is missing)")
    })?;
    let (file_name, bytes) =
        file.ok_or_else(|| bad_upload("thiếu trường file (the file field is missing)"))?;
    Ok(Upload {
        kind,
        file_name,
        bytes,
    })
}

/// What an upload is for the workflow: an appraiser attaches a file to the open request, anyone
/// else adds a document of the agency (which only the agency's officers may).
fn upload_kind(role: Role) -> ActionKind {
    if role == Role::Appraiser {
        ActionKind::AddRequestDocument
    } else {
        ActionKind::AddDocument
    }
}

/// Refuses early (before the body is read) what the workflow would refuse anyway: the role,
/// the agency scope and the dossier's state.
fn may_upload(
    dossier: &Dossier,
    principal: &Principal,
    scope: &AgencyScope,
) -> Result<ActionKind, ApiError> {
    let user = principal.account.user();
    let kind = upload_kind(user.role);
    if !workflow::roles_for(kind).contains(&user.role) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            WorkflowError::Forbidden {
                role: user.role,
                action: kind,
            }
            .to_string(),
        ));
    }
    if workflow::next_state(dossier.state, kind).is_none() {
        return Err(ApiError::conflict(
            WorkflowError::IllegalTransition {
                state: dossier.state,
                action: kind,
            }
            .to_string(),
        ));
    }
    if !workflow::available_actions(dossier, &user, scope).contains(&kind) {
        return Err(ApiError::forbidden());
    }
    Ok(kind)
}

/// Where an upload goes, checked before its body is read: the dossier as read, its scope,
/// and whether the file is the agency's document or the appraiser's attachment.
pub(crate) struct UploadTarget {
    dossier: Dossier,
    scope: AgencyScope,
    kind: ActionKind,
}

/// Checks that `principal` may upload to dossier `id` now (404 outside their scope; 403 for
/// the role; 409 in a state that takes no document), before the body is read.
pub(crate) async fn upload_target(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<UploadTarget, ApiError> {
    principal.require(PEOPLE)?;
    let (dossier, system, tree) = visible_dossier(state, principal, id).await?;
    let scope = AgencyScope::for_system(&system, &tree);
    let kind = may_upload(&dossier, principal, &scope)?;
    Ok(UploadTarget {
        dossier,
        scope,
        kind,
    })
}

/// A stored upload.
pub(crate) struct Stored {
    /// The document's record.
    pub(crate) document: DocumentRef,
    /// Whether the same content was already stored.
    pub(crate) deduplicated: bool,
    /// The dossier after it.
    pub(crate) dossier: Dossier,
    /// Its audit event.
    pub(crate) event: AuditEvent,
}

/// Stores `upload` to the dossier of `target`: the content once per SHA-256, the record on
/// the dossier (or the open round) and its audit event, in one batch; retried when the
/// dossier changed meanwhile.
pub(crate) async fn store_upload(
    state: &AppState,
    principal: &Principal,
    id: &str,
    target: UploadTarget,
    upload: Upload,
) -> Result<Stored, ApiError> {
    let UploadTarget {
        mut dossier,
        scope,
        kind,
    } = target;
    let now = crate::clock::now();
    let sha256 = sha256_hex(&upload.bytes);
    let document = DocumentRef {
        id: DocumentId::derived(now, &rand::random::<[u8; 16]>()),
        kind: upload.kind,
        file_name: upload.file_name,
        size: upload.bytes.len() as u64,
        sha256: sha256.clone(),
        uploaded_at: now,
    };
    document
        .validate()
        .map_err(|e| invalid_document(e.to_string()))?;
    let content = std::sync::Arc::new(upload.bytes);
    let user = principal.account.user();
    for attempt in 0..RETRIES {
        if attempt > 0 {
            let pause = rand::random_range(1..=5) * attempt.min(8);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            let (again, _, _) = visible_dossier(state, principal, id).await?;
            dossier = again;
        }
        let (next, event) = workflow::apply(
            &dossier,
            match kind {
                ActionKind::AddRequestDocument => Action::AddRequestDocument {
                    document: document.clone(),
                },
                _ => Action::AddDocument {
                    document: document.clone(),
                },
            },
            &user,
            &scope,
            &state.pack(),
            today(now),
            now,
        )
        .map_err(upload_refused)?;
        let store = state.store.clone();
        let before = repo::json(&dossier);
        let saved = next.clone();
        let ev = event.clone();
        let bytes = content.clone();
        let key = sha256.clone();
        let outcome = blocking(move || {
            // Stored once per SHA-256; a stored copy that no longer matches is replaced.
            let stored = store.get(Table::Documents, key.as_bytes())?;
            let deduplicated = stored.as_deref() == Some(bytes.as_slice());
            let mut batch = Batch::new()
                .if_equals(Table::Dossiers, saved.id.to_string(), before)
                .put(Table::Dossiers, saved.id.to_string(), repo::json(&saved))
                .if_absent(Table::Events, event_key(&ev))
                .put(Table::Events, event_key(&ev), repo::json(&ev));
            if !deduplicated {
                batch = batch.put(
                    Table::Documents,
                    key.into_bytes(),
                    bytes.as_slice().to_vec(),
                );
            }
            store.apply(batch)?;
            Ok(deduplicated)
        })
        .await;
        match outcome {
            Ok(deduplicated) => {
                tracing::info!(dossier = %next.id, document = %document.id, sha256 = %sha256, size = document.size, deduplicated, "document stored");
                return Ok(Stored {
                    document,
                    deduplicated,
                    dossier: next,
                    event,
                });
            }
            Err(e) if e.code() == "conflict" => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        "hồ sơ đang được thay đổi liên tục, hãy thử lại (the dossier kept changing meanwhile: try again)",
    ))
}

/// `POST /api/v1/dossiers/{id}/documents`: `multipart/form-data` with `kind` (e.g.
/// `overview_report`) and `file`. The agency's officers add the dossier's documents while it is
/// a draft, and the answers of the open supplementation round while it awaits them; appraisers
/// attach files to that open request (its signed letter, annotated pages). 201 with the
/// document, the dossier and the audit event; `deduplicated` says whether the same content was
/// already stored.
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let target = upload_target(&state, &principal, &id).await?;
    let multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_multipart",
            format!(
                "cần gửi multipart/form-data với các trường kind và file (send multipart/form-data with kind and file: {})",
                e.body_text()
            ),
        )
    })?;
    let upload = read_upload(multipart, state.max_document_bytes).await?;
    let stored = store_upload(&state, &principal, &id, target, upload).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "document": stored.document,
            "deduplicated": stored.deduplicated,
            "dossier": stored.dossier,
            "state_vi": stored.dossier.state.label_vi(),
            "event": stored.event,
        })),
    ))
}

/// `GET /api/v1/dossiers/{id}/documents/{document_id}` (people who may read the dossier): the
/// file, with its media type, `Content-Disposition: attachment` (UTF-8 name), `ETag` (the
/// SHA-256) and length. 304 for a matching `If-None-Match`.
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, document_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    principal.require(PEOPLE)?;
    let (dossier, _, _) = visible_dossier(&state, &principal, &id).await?;
    let wanted: DocumentId = document_id
        .parse()
        .map_err(|_| ApiError::not_found("document"))?;
    let Some(document) = dossier.all_documents().find(|d| d.id == wanted).cloned() else {
        return Err(ApiError::not_found("document"));
    };
    let etag = format!("\"{}\"", document.sha256);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let store = state.store.clone();
    let key = document.sha256.clone();
    let content = blocking(move || store.get(Table::Documents, key.as_bytes())).await?;
    if let Err(e) = check_content(&document, content.as_deref()) {
        tracing::error!(dossier = %dossier.id, document = %document.id, sha256 = %document.sha256, error = %e, "stored document does not match its reference");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "document_corrupt",
            e.to_string(),
        ));
    }
    let bytes = content.unwrap_or_default();
    let disposition = HeaderValue::from_str(&content_disposition(&document.file_name))
        .map_err(|_| ApiError::invalid("the file name cannot be sent in a header"))?;
    let mut response = Body::from(bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type(&document.file_name)),
    );
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(document.size));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}
