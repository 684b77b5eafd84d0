//! The OpenAPI 3.1 description of `/api/v1`.

use serde_json::{json, Value};

fn param(name: &str, desc: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": "string"}})
}

fn get(summary: &str, params: Vec<Value>) -> Value {
    json!({"get": {
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {}}},
            "400": {"description": "A bad parameter, named in `error`"},
            "401": {"description": "No session or token"},
            "404": {"description": "No such item"}
        }
    }})
}

fn id(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

/// The document.
pub fn document() -> Value {
    let page = || {
        vec![
            param("cursor", "next_cursor of the previous page"),
            param("limit", "1..500, default 50"),
        ]
    };
    let mut alerts = page();
    for (n, d) in [
        ("since", "event time at or after (RFC 3339 or YYYY-MM-DD)"),
        ("until", "event time before"),
        ("priority", "at or above this priority (emergency .. debug)"),
        ("rule", "rule name"),
        (
            "source",
            "event source (aws_cloudtrail, k8s_audit, syscall, ...)",
        ),
        ("principal", "who (ARN, Kubernetes or Linux user)"),
        ("resource", "what was acted on"),
        ("account", "AWS account id"),
        ("region", "AWS region"),
        ("q", "words, all required (full text)"),
        (
            "suppressed",
            "true to include alerts suppressed by throttling",
        ),
    ] {
        alerts.push(param(n, d));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Harrier console API", "version": "1"},
        "components": {"securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": crate::SESSION_COOKIE},
            "token": {"type": "http", "scheme": "bearer"}
        }},
        "security": [{"session": []}, {"token": []}],
        "paths": {
            "/api/v1/overview": get("Open incidents, alerts by day and priority, posture score and trend, outputs and sources", vec![]),
            "/api/v1/alerts": get("Alerts, newest first (keyset pages)", alerts),
            "/api/v1/alerts/{id}": {"get": {"summary": "One alert with its raw event", "parameters": [id("id")], "responses": {"200": {"description": "OK"}, "401": {"description": "No session or token"}, "404": {"description": "No such alert"}}}},
            "/api/v1/incidents": get("Incidents, most recently active first", page()),
            "/api/v1/incidents/{id}": {"get": {"summary": "One incident with its timeline", "parameters": [id("id")], "responses": {"200": {"description": "OK"}, "401": {"description": "No session or token"}, "404": {"description": "No such incident"}}}},
            "/api/v1/posture": get("Latest posture scan of an account: score, trend, frameworks, changes, failing checks with their fixes", vec![param("account", "AWS account id"), param("scan", "scan id"), param("offset", "first failing finding (next_offset of the previous page)"), param("limit", "failing findings per page, 1..500, default 200")]),
            "/api/v1/images": get("Scanned images", vec![]),
            "/api/v1/images/{digest}": {"get": {"summary": "One image's scan: malware, vulnerabilities with fixed versions, practice, layers", "parameters": [id("digest"), param("download", "any value: as an attachment")], "responses": {"200": {"description": "OK"}, "401": {"description": "No session or token"}, "404": {"description": "No such image"}}}},
            "/api/v1/images/{digest}/sbom": {"get": {"summary": "One image's SBOM (CycloneDX JSON), when it was recorded", "parameters": [id("digest")], "responses": {"200": {"description": "OK"}, "401": {"description": "No session or token"}, "404": {"description": "No SBOM"}}}},
            "/api/v1/rules": get("Loaded rules and how often each fired", vec![]),
            "/api/v1/session": get("Who is calling, and the session's CSRF token", vec![]),
            "/api/v1/users": {
                "get": {"summary": "Users (admin)", "responses": {"200": {"description": "OK"}, "401": {"description": "No session or token"}, "403": {"description": "Not an admin"}}},
                "post": {"summary": "Add or update a user (admin; X-CSRF-Token with a session)", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}, "password": {"type": "string", "minLength": 12}, "role": {"enum": ["viewer", "admin"]}}}}}}, "responses": {"201": {"description": "Saved"}, "400": {"description": "Bad body"}, "401": {"description": "No session or token"}, "403": {"description": "Not an admin, or a missing or wrong CSRF token"}}}
            },
            "/api/v1/openapi.json": get("This document", vec![])
        }
    })
}
