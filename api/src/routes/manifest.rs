//! Sweep extension: the manifest of a batch — every selected instance with its outcome —
//! streamed as NDJSON (`application/x-ndjson`, the default) or CSV (`Accept: text/csv`):
//! `GET /batch/{id}/manifest` (a runtime batch, or a historic one, as the item ledger) and
//! `GET /history/batch/{id}/manifest` (a historic batch while its ledger exists).
//!
//! The body is read from the database a page at a time (keyset pagination over the sequence
//! numbers) while it is sent, so memory stays flat for any batch size and the first lines leave
//! before the last are read. Visibility is the item ledger's: READ on the runtime batch or
//! READ_HISTORY on the historic one, and its tenants; otherwise 404, as for an unknown batch.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use shared::auth::Principal;
use shared::camunda::ExceptionDto;
use shared::db::batch_item::{self, ManifestEntry};

use super::batch::{known_batch, known_historic_batch};
use crate::{ApiError, AppState};

/// Entries read per statement: large enough that a million lines take a thousand round trips,
/// small enough that a page is a few hundred KiB at most.
const PAGE: i64 = 1000;

/// Media type of NDJSON, the default format.
const NDJSON: &str = "application/x-ndjson";
/// Media type of CSV.
const CSV: &str = "text/csv";

/// Doc-only: one NDJSON line of a manifest.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ManifestLineDoc {
    /// The selected process instance.
    id: String,
    /// `deleted`, `skipped`, `failed` or `pending`.
    state: String,
    /// Why it failed (or was deleted along with its caller); null otherwise.
    reason: Option<String>,
}

/// Sweep extension: every instance of a runtime or historic batch with its outcome, streamed.
#[utoipa::path(
    get,
    path = "/batch/{id}/manifest",
    operation_id = "getBatchManifest",
    tags = ["Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id"), ("Accept" = Option<String>, Header, description = "`text/csv` for CSV (header `id,state,reason`); NDJSON otherwise")),
    responses(
        (status = 200, description = "One line per selected instance, in sequence order", content(
            (ManifestLineDoc = "application/x-ndjson"),
            (String = "text/csv", example = "id,state,reason\npi-1,deleted,\npi-2,failed,\"no such instance, gone\"\n"),
        )),
        (status = 404, description = "No such batch, or the user may not read it", body = ExceptionDto)
    ),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn runtime(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    known_batch(&state, &principal, &id).await?;
    Ok(stream_manifest(state.db.clone(), id, Format::of(&headers)))
}

/// Sweep extension: every instance of a historic batch with its outcome, streamed.
#[utoipa::path(
    get,
    path = "/history/batch/{id}/manifest",
    operation_id = "getHistoricBatchManifest",
    tags = ["Historic Batch", "sweep-extension"],
    params(("id" = String, Path, description = "Batch id"), ("Accept" = Option<String>, Header, description = "`text/csv` for CSV (header `id,state,reason`); NDJSON otherwise")),
    responses(
        (status = 200, description = "One line per selected instance, in sequence order", content(
            (ManifestLineDoc = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 404, description = "No such historic batch, or the user may not read its history", body = ExceptionDto)
    ),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub(crate) async fn historic(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    known_historic_batch(&state, &principal, &id).await?;
    Ok(stream_manifest(state.db.clone(), id, Format::of(&headers)))
}

/// One NDJSON line, fields in the documented order.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    state: &'a str,
    reason: Option<&'a str>,
}

/// How the manifest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// CSV when the caller accepts `text/csv`, NDJSON otherwise.
    fn of(headers: &HeaderMap) -> Self {
        let accepts_csv = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|media| media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(CSV)));
        if accepts_csv { Format::Csv } else { Format::Ndjson }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => NDJSON,
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    fn write(self, out: &mut String, e: &ManifestEntry) {
        match self {
            Format::Ndjson => {
                let line = Line { id: &e.id, state: &e.state, reason: e.reason.as_deref() };
                out.push_str(&serde_json::to_string(&line).unwrap_or_default());
            }
            Format::Csv => {
                for (i, field) in
                    [e.id.as_str(), e.state.as_str(), e.reason.as_deref().unwrap_or("")].iter().enumerate()
                {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(out, field);
                }
            }
        }
        out.push('\n');
    }
}

/// Appends `field` as an RFC 4180 field: quoted, with quotes doubled, when it holds a comma, a
/// quote or a line break.
fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Where the stream stands.
struct Cursor {
    db: DatabaseConnection,
    id: String,
    format: Format,
    after: i64,
    header: bool,
    done: bool,
}

/// The response: the header (CSV), then one chunk per page until a page comes back short.
fn stream_manifest(db: DatabaseConnection, id: String, format: Format) -> Response {
    let cursor = Cursor { db, id, format, after: 0, header: format == Format::Csv, done: false };
    let body = stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let mut out = String::new();
        if std::mem::take(&mut c.header) {
            out.push_str("id,state,reason\n");
        }
        match batch_item::manifest_page(&c.db, &c.id, c.after, PAGE).await {
            Ok(page) => {
                c.done = (page.len() as i64) < PAGE;
                for e in &page {
                    c.format.write(&mut out, e);
                }
                c.after = page.last().map_or(c.after, |e| e.seq);
                Some((Ok::<_, std::io::Error>(Bytes::from(out)), c))
            }
            Err(e) => {
                // The status line is gone: all that is left is to cut the body short.
                tracing::error!(batch.id = %c.id, error = %e, "Manifest of batch {} broke off", c.id);
                c.done = true;
                Some((Err(std::io::Error::other(e.to_string())), c))
            }
        }
    });
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reason: Option<&str>) -> ManifestEntry {
        ManifestEntry { seq: 1, id: "pi-1".into(), state: "failed".into(), reason: reason.map(str::to_owned) }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        let mut out = String::new();
        Format::Csv.write(&mut out, &entry(Some("a, \"b\"\nc")));
        Format::Csv.write(&mut out, &entry(None));
        assert_eq!(out, "pi-1,failed,\"a, \"\"b\"\"\nc\"\npi-1,failed,\n");
    }

    #[test]
    fn ndjson_lines_carry_a_null_reason() {
        let mut out = String::new();
        Format::Ndjson.write(&mut out, &entry(None));
        assert_eq!(out, "{\"id\":\"pi-1\",\"state\":\"failed\",\"reason\":null}\n");
    }

    #[test]
    fn csv_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert_eq!(Format::of(&h), Format::Ndjson);
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/CSV;q=0.9"));
        assert_eq!(Format::of(&h), Format::Csv);
    }
}
