//! Camunda's engine paths: `GET /engine` lists the one engine Sweep serves, `default`, and every
//! endpoint is also served under `/engine/{name}/…` for that name. The named paths forward to
//! the same router, so no endpoint knows about them; any other name answers Camunda's 400
//! `No process engine available`.

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Serialize;
use tower::ServiceExt;

use crate::{ApiError, AppState};

/// The name of the one process engine Sweep serves.
pub const ENGINE_NAME: &str = "default";

/// Camunda's `ProcessEngineDto`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProcessEngineDto {
    /// The engine's name.
    pub name: String,
}

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/engine", get(list))
}

/// The routes `/engine/{name}` and `/engine/{name}/{*rest}`, forwarding to `endpoints` (the
/// router of every endpoint under the base path) with the engine segment removed.
pub(super) fn named(endpoints: Router) -> Router<AppState> {
    let forward = move |request: Request| {
        let endpoints = endpoints.clone();
        async move { forward(endpoints, request).await }
    };
    Router::new().route("/engine/{name}", any(forward.clone())).route("/engine/{name}/{*rest}", any(forward))
}

async fn forward(endpoints: Router, request: Request) -> Response {
    // Nesting under the base path already removed it: the path starts with `/engine/`.
    let path = request.uri().path();
    let after = path.strip_prefix("/engine/").unwrap_or_default();
    let (name, rest) = after.split_once('/').unwrap_or((after, ""));
    if name != ENGINE_NAME {
        return ApiError::InvalidRequest("No process engine available".into()).into_response();
    }
    let target = match request.uri().query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return ApiError::NotFound("Resource not found".into()).into_response();
    };
    // A new request of the same method, headers and body: the extensions of this route (its
    // path parameters above all) must not reach the endpoint, which has parameters of its own.
    let (parts, body) = request.into_parts();
    let mut forwarded = Request::new(body);
    *forwarded.method_mut() = parts.method;
    *forwarded.uri_mut() = uri;
    *forwarded.version_mut() = parts.version;
    *forwarded.headers_mut() = parts.headers;
    match endpoints.oneshot(forwarded).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The process engines this API serves: `default` only.
#[utoipa::path(
    get,
    path = "/engine",
    operation_id = "getProcessEngineNames",
    tag = "Engine",
    description = "Sweep serves one engine, `default`; every path is also served under \
`/engine/default/…`, and other engine names answer 400 `No process engine available`.",
    responses((status = 200, description = "The engines", body = Vec<ProcessEngineDto>))
)]
pub(crate) async fn list() -> axum::Json<Vec<ProcessEngineDto>> {
    axum::Json(vec![ProcessEngineDto { name: ENGINE_NAME.to_owned() }])
}
