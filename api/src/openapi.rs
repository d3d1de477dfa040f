//! Sweep's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the DTOs' `ToSchema` derives, so it follows the code. It is served at
//! `<base path>/openapi.json`, and Swagger UI (its assets compiled into the binary) at `/docs`.
//! Both are open, like `/health`: they change nothing and hold no data.
//!
//! Paths are relative to the server `<base path>` (`/engine-rest` by default). Sweep's extensions
//! carry `x-sweep-extension: true` and the tag `sweep-extension`. The answers every endpoint
//! under the base path may give (400, 401, 403, 503) are added to each operation by
//! [`CommonResponses`]; the annotations list the ones particular to an operation.

use std::collections::BTreeMap;

use axum::response::IntoResponse;
use shared::camunda::{AuthorizationExceptionDto, ExceptionDto, MissingAuthorizationDto};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder, Server};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    batch, batch_steering, engine, history_batch, history_job_log, incident, job, job_definition, job_priority,
    manifest, process_instance, process_instance_delete,
};

/// Tag of Sweep's extensions.
pub const EXTENSION_TAG: &str = "sweep-extension";

/// The document's description.
const DESCRIPTION: &str = "Sweep serves Camunda 7's REST API for deleting process instances in bulk \
(`POST /process-instance/delete` and the Batch API around it), with Camunda's names, date format \
(`2016-04-12T15:29:33.000+0200`) and error bodies `{\"type\", \"message\", \"code\"}`. Operations \
tagged `sweep-extension` (and marked `x-sweep-extension: true`) are Sweep's own additions. \
Every operation needs a user: HTTP Basic against Camunda's users (`auth.mode = basic`) or a \
bearer JWT (`auth.mode = oidc`). Missing or wrong credentials answer 401 without a body. \
Outside the base path, and not described here: `GET /health/live`, `GET /health/ready`, `GET /metrics` \
(Prometheus), the batch pages under `/ui` and this document's Swagger UI at `/docs`.";

/// The document of the REST API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Sweep", description = DESCRIPTION, license(name = "Apache-2.0", identifier = "Apache-2.0")),
    paths(
        process_instance_delete::delete_async,
        process_instance_delete::delete_async_historic_query_based,
        process_instance::list_get,
        process_instance::list_post,
        process_instance::count_get,
        process_instance::count_post,
        process_instance::get_one,
        batch::list,
        batch::count,
        batch::statistics,
        batch::statistics_count,
        batch::find,
        batch::delete,
        batch::set_suspended,
        batch::items,
        batch::items_count,
        batch::retry_failed_items,
        batch::events,
        batch_steering::steer,
        manifest::runtime,
        manifest::historic,
        history_batch::list,
        history_batch::count,
        history_batch::find,
        history_batch::delete,
        history_job_log::list,
        history_job_log::count,
        incident::list,
        incident::count,
        job::list,
        job::count,
        job::find,
        job::delete,
        job::set_retries,
        job::set_definition_retries,
        job_definition::list,
        job_definition::count,
        job_definition::find,
        engine::list,
        job_priority::set_job_priority,
        job_priority::set_definition_priority,
        document,
    ),
    components(schemas(
        ExceptionDto,
        shared::batch::create::DeleteProcessInstancesDto,
        AuthorizationExceptionDto,
        MissingAuthorizationDto,
        batch::ItemStateDoc,
    )),
    modifiers(&CommonResponses),
    tags(
        (name = "Process Instance", description = "Camunda's process-instance API: bulk deletion and runtime queries"),
        (name = "Batch", description = "Camunda's Batch API"),
        (name = "Historic Batch", description = "Camunda's historic batches"),
        (name = "Job", description = "Camunda's job API, which shows Sweep's batch execution jobs"),
        (name = "Job Definition", description = "Camunda's job-definition API: the three job definitions of each batch"),
        (name = "Incident", description = "Camunda's incident API: the `failedJob` incidents of batch jobs"),
        (name = "Historic Job Log", description = "Camunda's historic job log of batch jobs"),
        (name = "Engine", description = "Camunda's engine list; every path is also served under `/engine/default`"),
        (name = "sweep-extension", description = "Sweep's additions, which Camunda 7 does not have"),
        (name = "OpenAPI", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The document as served under `base_path`.
pub fn document_for(base_path: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let url = if base_path.is_empty() { "/" } else { base_path };
    doc.servers = Some(vec![Server::new(url)]);
    doc
}

/// Serves [`ApiDoc`] (open: it holds no data).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tags = ["OpenAPI", "sweep-extension"],
    description = "This OpenAPI 3.1 document. Needs no user.",
    security(()),
    responses((status = 200, description = "The document", body = Object, content_type = "application/json")),
    extensions(("x-sweep-extension" = json!(true)))
)]
pub async fn document(axum::extract::State(state): axum::extract::State<crate::AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], json_for(&state.settings.http.base_path))
}

/// Adds the security schemes and, to every operation but the document's own, the answers any
/// endpoint under the base path may give.
struct CommonResponses;

fn exception(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ExceptionDto"))))
                .build(),
        )
        .build()
        .into()
}

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("Camunda's users (`auth.mode = basic`, the default)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A JWT from the configured issuer (`auth.mode = oidc`)"))
                    .build(),
            ),
        );
        doc.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("basic", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
        let common: BTreeMap<&str, RefOr<Response>> = BTreeMap::from([
            ("400", exception("Invalid request: a query parameter, a path segment or the body is malformed")),
            (
                "401",
                ResponseBuilder::new()
                    .description("No or wrong credentials; no body, `WWW-Authenticate: Basic realm=\"default\"`")
                    .build()
                    .into(),
            ),
            (
                "403",
                ResponseBuilder::new()
                    .description("The user lacks an authorization (`AuthorizationException`)")
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "AuthorizationExceptionDto",
                            ))))
                            .build(),
                    )
                    .build()
                    .into(),
            ),
            ("503", exception("The database is out of reach for now; retry after `Retry-After` seconds")),
        ]);
        for (path, item) in doc.paths.paths.iter_mut() {
            if path == "/openapi.json" {
                continue;
            }
            for operation in operations(item) {
                for (status, response) in &common {
                    operation.responses.responses.entry((*status).to_owned()).or_insert_with(|| response.clone());
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head, &mut item.options]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// Swagger UI at `/docs`, from the assets compiled into the binary, showing the document at
/// `<base path>/openapi.json` (which it does not serve itself).
pub fn swagger_ui(base_path: &str) -> axum::Router<crate::AppState> {
    let url = format!("{base_path}/openapi.json");
    let config = utoipa_swagger_ui::Config::new([url]);
    axum::Router::from(utoipa_swagger_ui::SwaggerUi::new("/docs").config(config))
}

/// The document's JSON for `base_path`, served as it is.
pub fn json_for(base_path: &str) -> String {
    document_for(base_path).to_json().expect("the OpenAPI document serializes")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(METHOD, path)` of every `.route(…)` in `src/routes/*.rs` but the files of the routes
    /// outside the base path (health and metrics, the batch pages).
    fn routed() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".rs") && !["mod.rs", "health.rs", "ui.rs"].contains(&name.as_str()) {
                sources.push(std::fs::read_to_string(&path).unwrap());
            }
        }
        let mut routes = BTreeSet::new();
        for source in &sources {
            for call in source.split(".route(\"").skip(1) {
                let (path, rest) = call.split_once('"').unwrap();
                // Up to the end of the line, or to the next `.route(` on the same line.
                let args = rest.split_once('\n').map_or(rest, |(args, _)| args);
                for method in ["get", "post", "put", "delete", "patch"] {
                    if args.contains(&format!(" {method}(")) || args.contains(&format!(".{method}(")) {
                        routes.insert((method.to_uppercase(), path.to_owned()));
                    }
                }
            }
        }
        assert!(routes.len() > 20, "route parsing found only {routes:?}");
        routes
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut paths = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                paths.insert((method.to_uppercase(), path.clone()));
            }
        }
        paths
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let mut documented = documented();
        assert!(documented.remove(&("GET".to_owned(), "/openapi.json".to_owned())));
        let routed = routed();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(undocumented.is_empty(), "routes without a documented path: {undocumented:?}");
        assert!(unrouted.is_empty(), "documented paths without a route: {unrouted:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_operation_ids_and_common_errors() {
        let doc = serde_json::to_value(document_for("/engine-rest")).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        assert_eq!(doc["servers"][0]["url"], "/engine-rest");
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                if path != "/openapi.json" {
                    for status in ["400", "401", "403"] {
                        assert!(op["responses"][status].is_object(), "{method} {path}: no {status}");
                    }
                }
                let tagged = op["tags"].as_array().unwrap().iter().any(|t| t == EXTENSION_TAG);
                assert_eq!(
                    tagged,
                    op["x-sweep-extension"] == true,
                    "{method} {path}: tag and x-sweep-extension differ"
                );
            }
        }
        assert_eq!(doc["components"]["securitySchemes"]["basic"]["scheme"], "basic");
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1).map(|r| r.split('"').next().unwrap()) {
            let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference}"));
            assert!(doc["components"]["schemas"][name].is_object(), "{reference} does not exist");
        }
    }
}
