//! Requirements as values (issue 15 items 1 and 2) over real HTTP, through both adapters:
//! per route (`RequireLayer` / `Require`), on the whole gate (`Gate::require`) and in a
//! handler (`claims.require(..)?`), with tokens shaped like each issuer's documented
//! access tokens, and the shapes an attacker would try instead.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tokengate::require::{ClaimPath, Requirement, RoleSource};
use tokengate::testing::MockIssuer;
use tokengate::{Gate, Validator};

use common::both::{ActixRoutes, Both, serve_both};

/// The routes under test: each path guarded by its requirement.
fn routes() -> Vec<(&'static str, Requirement)> {
    vec![
        ("/scope", Requirement::scope("admin")),
        ("/orders", Requirement::any_scope(["admin", "orders:write"])),
        (
            "/both-scopes",
            Requirement::all_scopes(["orders:read", "orders:write"]),
        ),
        ("/tenant", Requirement::claim("tenant").equals("acme")),
        ("/region", Requirement::claim("region").one_of(["eu", "ch"])),
        ("/mfa", Requirement::claim("amr").contains("mfa")),
        (
            "/keycloak-realm",
            Requirement::role(RoleSource::keycloak_realm(), "order-admin"),
        ),
        (
            "/keycloak-client",
            Requirement::role(RoleSource::keycloak_client("orders-api"), "admin"),
        ),
        (
            "/entra-roles",
            Requirement::any_role(
                RoleSource::entra_roles(),
                ["Orders.Admin", "Orders.Support"],
            ),
        ),
        (
            "/entra-groups",
            Requirement::role(
                RoleSource::entra_groups(),
                "6f0c2b9e-6d1f-4bb2-8e3a-4b5c0f0e7a11",
            ),
        ),
        (
            "/auth0-permissions",
            Requirement::role(RoleSource::auth0_permissions(), "write:orders"),
        ),
        (
            "/auth0-namespaced",
            Requirement::role(RoleSource::namespaced("https://example.com/roles"), "admin"),
        ),
        (
            "/okta-groups",
            Requirement::role(RoleSource::okta_groups(), "Admins"),
        ),
        (
            "/cognito-groups",
            Requirement::role(RoleSource::cognito_groups(), "admin"),
        ),
        (
            "/custom",
            Requirement::all([
                Requirement::any_scope(["admin", "orders:write"]),
                Requirement::custom("email verified", |claims| {
                    claims.get("email_verified").and_then(Value::as_bool) == Some(true)
                }),
            ]),
        ),
        (
            "/auth0-scope",
            Requirement::any_scope_in(RoleSource::auth0_permissions(), ["write:orders", "admin"]),
        ),
        (
            "/rfc8693-scope",
            Requirement::scope_in(RoleSource::space_delimited("scope"), "admin"),
        ),
        (
            "/nested",
            Requirement::claim(ClaimPath::new(["org", "id"])).equals("42"),
        ),
    ]
}

/// The requirement a handler checks itself, with `claims.require(..)?`.
fn in_handler() -> Requirement {
    Requirement::claim("tenant").equals("acme")
}

async fn ok() -> &'static str {
    "ok"
}

fn axum_app(gate: Gate) -> Router {
    use tokengate_tower::{Claims, Rejection, RequireLayer, RequireScopeLayer, TokenGateLayer};
    let mut router = Router::new();
    for (path, requirement) in routes() {
        router = router.merge(
            Router::new()
                .route(path, get(ok))
                .layer(RequireLayer::new(requirement)),
        );
    }
    router
        .route(
            "/handler",
            get(|Claims(c): Claims| async move {
                c.require(&in_handler())?;
                Ok::<_, Rejection>("ok")
            }),
        )
        .route("/shortcut", get(ok).layer(RequireScopeLayer::new("admin")))
        .route("/open", get(ok))
        .layer(TokenGateLayer::new(gate))
}

fn actix_app(gate: Gate) -> ActixRoutes {
    use actix_web::web;
    use tokengate_actix::{Claims, Rejection, Require, RequireScope, TokenGate};
    Arc::new(move |cfg: &mut web::ServiceConfig| {
        let mut scope = web::scope("").wrap(TokenGate::new(gate.clone()));
        for (path, requirement) in routes() {
            scope = scope.service(web::resource(path).wrap(Require::new(requirement)).to(ok));
        }
        cfg.service(
            scope
                .route(
                    "/handler",
                    web::get().to(|Claims(c): Claims| async move {
                        c.require(&in_handler())?;
                        Ok::<_, Rejection>("ok")
                    }),
                )
                .service(
                    web::resource("/shortcut")
                        .wrap(RequireScope::new("admin"))
                        .to(ok),
                )
                .route("/open", web::get().to(ok)),
        );
    })
}

fn validator(issuer: &MockIssuer) -> Validator {
    common::builder_for(issuer).build().unwrap()
}

async fn serve(gate: Gate) -> Both {
    serve_both(axum_app(gate.clone()), actix_app(gate)).await
}

/// A token of the mock issuer (its `iss`, `aud` and key) with these claims on top.
fn token(issuer: &MockIssuer, claims: Value) -> String {
    let mut builder = issuer.token();
    for (name, value) in claims.as_object().unwrap() {
        builder = builder.claim(name, value.clone());
    }
    builder.sign()
}

const SCOPE_DESCRIPTION: &str = "The access token lacks a required scope";
const REQUIREMENT_DESCRIPTION: &str =
    "The access token does not meet a requirement of this resource";

#[track_caller]
fn assert_missing_scopes(reply: &common::Reply, scopes: &str) {
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(
            r#"Bearer error="insufficient_scope", error_description="{SCOPE_DESCRIPTION}", scope="{scopes}""#
        )),
    );
}

#[track_caller]
fn assert_not_met(reply: &common::Reply) {
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(
            r#"Bearer error="insufficient_scope", error_description="{REQUIREMENT_DESCRIPTION}""#
        )),
    );
}

#[tokio::test]
async fn any_of_scopes_names_every_scope_that_would_satisfy_the_route() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    let read = issuer.token().scope("orders:read").sign();
    assert_missing_scopes(&api.bearer("/orders", &read).await, "admin orders:write");
    assert_missing_scopes(
        &api.bearer("/both-scopes", &read).await,
        "orders:read orders:write",
    );
    assert_missing_scopes(&api.bearer("/scope", &read).await, "admin");
    assert_missing_scopes(&api.bearer("/shortcut", &read).await, "admin");
    for scope in ["orders:write", "admin", "orders:read admin"] {
        let token = issuer.token().scope(scope).sign();
        assert_eq!(api.bearer("/orders", &token).await.status, 200, "{scope}");
    }
    let both = issuer.token().scope("orders:write orders:read").sign();
    assert_eq!(api.bearer("/both-scopes", &both).await.status, 200);
    assert_eq!(api.bearer("/open", &read).await.status, 200);
}

#[tokio::test]
async fn scope_lookalikes_and_shapes_that_are_not_scopes_never_grant() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    for claims in [
        json!({"scope": "administrator ADMIN orders:writer orders,write"}),
        json!({"scope": ""}),
        // A scope in a claim that is not a scope claim.
        json!({"scopes": "admin", "permissions": ["admin"], "roles": ["admin"]}),
        // `scope` wins over `scp`: an `scp` cannot add to a `scope`.
        json!({"scope": "orders:read", "scp": ["admin"]}),
    ] {
        let token = token(&issuer, claims.clone());
        assert_missing_scopes(&api.bearer("/orders", &token).await, "admin orders:write");
    }
    // An array element with a space would be two grants the issuer never made: refused as
    // a malformed token, not split.
    for claims in [
        json!({"scp": ["orders:read admin"]}),
        json!({"scope": ["admin", 1]}),
    ] {
        let reply = api.bearer("/orders", &token(&issuer, claims)).await;
        reply.assert_invalid_token();
    }
}

#[tokio::test]
async fn scopes_are_read_in_each_issuers_shape() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    // RFC 9068 / Keycloak / Auth0 / Cognito: `scope`, space-separated.
    let rfc = token(&issuer, json!({"scope": "openid orders:write"}));
    // Microsoft Entra ID: `scp`, space-separated.
    let entra = token(&issuer, json!({"scp": "User.Read orders:write"}));
    // Okta: `scp`, an array.
    let okta = token(&issuer, json!({"scp": ["openid", "orders:write"]}));
    for token in [rfc, entra, okta] {
        assert_eq!(api.bearer("/orders", &token).await.status, 200);
    }
}

#[tokio::test]
async fn claim_values_are_compared_as_json_and_never_echoed() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    let good = token(
        &issuer,
        json!({"tenant": "acme", "region": "ch", "amr": ["pwd", "mfa"], "org": {"id": "42"}}),
    );
    for path in ["/tenant", "/region", "/mfa", "/nested", "/handler"] {
        assert_eq!(api.bearer(path, &good).await.status, 200, "{path}");
    }
    for (path, claims) in [
        ("/tenant", json!({"tenant": "globex-secret"})),
        ("/tenant", json!({"tenant": ["acme"]})),
        ("/tenant", json!({"tenant": {"name": "acme"}})),
        ("/tenant", json!({"tenant": "ACME"})),
        ("/tenant", json!({"tenant": ""})),
        ("/tenant", json!({"Tenant": "acme"})),
        ("/region", json!({"region": ["eu"]})),
        ("/region", json!({"region": "us"})),
        ("/mfa", json!({"amr": "mfa"})),
        ("/mfa", json!({"amr": ["pwd"]})),
        ("/nested", json!({"org": {"id": 42}})),
        ("/nested", json!({"org.id": "42"})),
        ("/nested", json!({"org": "42"})),
        ("/handler", json!({"tenant": "globex-secret"})),
    ] {
        let reply = api.bearer(path, &token(&issuer, claims.clone())).await;
        assert_not_met(&reply);
        assert!(!reply.body.contains("globex"), "{claims}");
    }
}

#[tokio::test]
async fn keycloak_roles_come_from_the_realm_or_from_the_right_client() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    // Keycloak's access token layout (realm roles, per-client roles, azp).
    let keycloak = |realm: Value, resource: Value| {
        token(
            &issuer,
            json!({
                "typ": "Bearer", "azp": "orders-api", "scope": "openid email profile",
                "preferred_username": "alice", "email_verified": true,
                "realm_access": realm, "resource_access": resource,
            }),
        )
    };
    let admin = keycloak(
        json!({"roles": ["offline_access", "uma_authorization", "order-admin"]}),
        json!({"orders-api": {"roles": ["admin"]}, "account": {"roles": ["manage-account"]}}),
    );
    assert_eq!(api.bearer("/keycloak-realm", &admin).await.status, 200);
    assert_eq!(api.bearer("/keycloak-client", &admin).await.status, 200);
    for (realm, resource) in [
        // The role in another client's resource_access.
        (
            json!({"roles": ["admin"]}),
            json!({"billing": {"roles": ["admin", "order-admin"]}}),
        ),
        // Wrong shapes: a string, a nested object, a number in the array.
        (
            json!({"roles": "order-admin"}),
            json!({"orders-api": {"roles": "admin"}}),
        ),
        (json!(["order-admin"]), json!({"orders-api": ["admin"]})),
        (
            json!({"roles": ["order-admin", 7]}),
            json!({"orders-api": {"roles": ["admin", null]}}),
        ),
        (
            json!({"roles": ["Order-Admin", ""]}),
            json!({"orders-api": {"roles": ["ADMIN", " admin"]}}),
        ),
    ] {
        let token = keycloak(realm.clone(), resource.clone());
        assert_not_met(&api.bearer("/keycloak-realm", &token).await);
        assert_not_met(&api.bearer("/keycloak-client", &token).await);
    }
    // A client role at the top level, where Keycloak never puts it.
    let top = token(
        &issuer,
        json!({"roles": ["admin", "order-admin"], "orders-api": {"roles": ["admin"]}}),
    );
    assert_not_met(&api.bearer("/keycloak-client", &top).await);
}

#[tokio::test]
async fn entra_auth0_okta_and_cognito_roles_are_read_where_each_puts_them() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    let group = "6f0c2b9e-6d1f-4bb2-8e3a-4b5c0f0e7a11";
    // Microsoft Entra ID v2.0 access token: roles, groups (object ids), scp, tid, oid.
    let entra = token(
        &issuer,
        json!({"ver": "2.0", "tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
               "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "scp": "Orders.Read", "roles": ["Orders.Support"], "groups": [group]}),
    );
    assert_eq!(api.bearer("/entra-roles", &entra).await.status, 200);
    assert_eq!(api.bearer("/entra-groups", &entra).await.status, 200);
    // Auth0: permissions (RBAC) and a namespaced custom claim from an action.
    let auth0 = token(
        &issuer,
        json!({"azp": "my-client", "scope": "openid read:orders", "permissions": ["read:orders", "write:orders"],
               "https://example.com/roles": ["admin"]}),
    );
    assert_eq!(api.bearer("/auth0-permissions", &auth0).await.status, 200);
    assert_eq!(api.bearer("/auth0-namespaced", &auth0).await.status, 200);
    // Okta: groups, scp as an array, cid, uid.
    let okta = token(
        &issuer,
        json!({"ver": 1, "cid": "0oa1", "uid": "00u1", "scp": ["openid", "orders:read"], "groups": ["Everyone", "Admins"]}),
    );
    assert_eq!(api.bearer("/okta-groups", &okta).await.status, 200);
    // AWS Cognito access token: cognito:groups, scope, client_id, token_use.
    let cognito = token(
        &issuer,
        json!({"cognito:groups": ["admin"], "token_use": "access", "client_id": "1example23456789",
               "scope": "aws.cognito.signin.user.admin orders/write", "username": "alice"}),
    );
    assert_eq!(api.bearer("/cognito-groups", &cognito).await.status, 200);

    // Each issuer's claim in the other issuers' places, and wrong shapes.
    for (path, claims) in [
        ("/entra-roles", json!({"roles": "Orders.Admin"})),
        (
            "/entra-roles",
            json!({"scp": "Orders.Admin", "wids": ["Orders.Admin"]}),
        ),
        ("/entra-roles", json!({"roles": ["orders.admin"]})),
        ("/entra-groups", json!({"groups": group})),
        ("/entra-groups", json!({"_claim_names": {"groups": "src1"}})),
        (
            "/auth0-permissions",
            json!({"scope": "write:orders", "permissions": "write:orders"}),
        ),
        (
            "/auth0-namespaced",
            json!({"roles": ["admin"], "https://example.com/roles/": ["admin"]}),
        ),
        (
            "/auth0-namespaced",
            json!({"https://example.com/roles": {"admin": true}}),
        ),
        ("/okta-groups", json!({"groups": "Admins"})),
        (
            "/okta-groups",
            json!({"groups": ["admins"], "scp": ["Admins"]}),
        ),
        ("/cognito-groups", json!({"cognito:groups": "admin"})),
        (
            "/cognito-groups",
            json!({"groups": ["admin"], "cognito:roles": ["admin"]}),
        ),
        ("/cognito-groups", json!({"cognito:groups": [["admin"]]})),
    ] {
        let reply = api.bearer(path, &token(&issuer, claims.clone())).await;
        assert_not_met(&reply);
    }
}

#[tokio::test]
async fn a_custom_check_combines_with_scopes() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    let good = token(
        &issuer,
        json!({"scope": "orders:write", "email_verified": true}),
    );
    assert_eq!(api.bearer("/custom", &good).await.status, 200);
    // Scope missing, check passes: insufficient_scope naming the alternatives.
    let no_scope = token(
        &issuer,
        json!({"scope": "orders:read", "email_verified": true}),
    );
    assert_missing_scopes(
        &api.bearer("/custom", &no_scope).await,
        "admin orders:write",
    );
    // Scope present, check fails (a string is not `true`): the fixed description.
    for verified in [json!("true"), json!(false), json!(1), Value::Null] {
        let bad = token(
            &issuer,
            json!({"scope": "admin", "email_verified": verified}),
        );
        assert_not_met(&api.bearer("/custom", &bad).await);
    }
}

#[tokio::test]
async fn a_gate_requirement_guards_every_route_and_still_refuses_bad_tokens_first() {
    let issuer = MockIssuer::start().await;
    let gate = Gate::new(validator(&issuer))
        .require(Requirement::claim("tenant").equals("acme"))
        .require(Requirement::any_scope(["orders:read", "admin"]));
    let api = serve(gate).await;
    let good = token(&issuer, json!({"tenant": "acme", "scope": "orders:read"}));
    assert_eq!(api.bearer("/open", &good).await.status, 200);
    let other_tenant = token(&issuer, json!({"tenant": "globex", "scope": "orders:read"}));
    assert_not_met(&api.bearer("/open", &other_tenant).await);
    let no_scope = token(&issuer, json!({"tenant": "acme", "scope": "profile"}));
    assert_missing_scopes(&api.bearer("/open", &no_scope).await, "orders:read admin");
    // The route's own requirement still applies inside the gate's.
    assert_missing_scopes(&api.bearer("/orders", &good).await, "admin orders:write");
    // A token that is not valid is 401 whatever its claims.
    let expired = issuer
        .token()
        .claim("tenant", "acme")
        .scope("orders:read")
        .expires_in(-3600)
        .sign();
    api.bearer("/open", &expired).await.assert_invalid_token();
    // No token: the bare challenge.
    let (reply, _) = api.get("/open", &[]).await;
    assert_eq!(
        (reply.status, reply.challenge.as_deref()),
        (401, Some("Bearer"))
    );
}

#[tokio::test]
async fn an_optional_gate_applies_its_requirement_to_the_tokens_sent() {
    let issuer = MockIssuer::start().await;
    let gate = Gate::new(validator(&issuer))
        .optional()
        .require(Requirement::claim("tenant").equals("acme"));
    let api = serve(gate).await;
    let (anonymous, _) = api.get("/open", &[]).await;
    assert_eq!(anonymous.status, 200);
    let other = token(&issuer, json!({"tenant": "globex"}));
    assert_not_met(&api.bearer("/open", &other).await);
    // A per-route requirement behind an optional gate and no token: 401, not a pass.
    let (route, _) = api.get("/tenant", &[]).await;
    assert_eq!(
        (route.status, route.challenge.as_deref()),
        (401, Some("Bearer"))
    );
}

#[tokio::test]
async fn a_gate_requirement_applies_to_dpop_tokens_after_their_proof() {
    use tokengate::Algorithm;
    use tokengate::binding::dpop::Dpop;
    use tokengate::testing::DpopKey;
    const PUBLIC: &str = "https://api.example.test";
    let issuer = MockIssuer::start().await;
    // Each adapter its own gate (and replay store), so one proof serves both.
    let gate = || {
        Gate::new(validator(&issuer))
            .dpop(Dpop::new(PUBLIC).unwrap())
            .require(Requirement::scope("admin"))
    };
    let api = serve_both(axum_app(gate()), actix_app(gate())).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let api = &api;
    let send = |token: String, proof: String| async move {
        let authorization = format!("DPoP {token}");
        api.get(
            "/open",
            &[("authorization", &authorization), ("dpop", &proof)],
        )
        .await
        .0
    };
    let reader = issuer
        .token()
        .scope("read")
        .claim("cnf", client.cnf())
        .sign();
    let proof = client.proof("GET", &format!("{PUBLIC}/open"), &reader);
    let reply = send(reader.clone(), proof).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer, DPoP algs=")
            && challenge.ends_with(r#"error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin""#),
        "{challenge}"
    );
    // A proof for another URL: the proof is refused first, whatever the scopes.
    let wrong = client.proof("GET", &format!("{PUBLIC}/elsewhere"), &reader);
    let reply = send(reader, wrong).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    let admin = issuer
        .token()
        .scope("admin")
        .claim("cnf", client.cnf())
        .sign();
    let proof = client.proof("GET", &format!("{PUBLIC}/open"), &admin);
    assert_eq!(send(admin, proof).await.status, 200);
}

#[tokio::test]
async fn scopes_read_from_a_named_claim_are_refused_as_insufficient_scope() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(validator(&issuer))).await;
    let auth0 = token(
        &issuer,
        json!({"scope": "openid write:orders", "permissions": ["read:orders"]}),
    );
    // The scope is in `scope`, but the route reads Auth0's `permissions`.
    assert_missing_scopes(
        &api.bearer("/auth0-scope", &auth0).await,
        "write:orders admin",
    );
    let writer = token(
        &issuer,
        json!({"permissions": ["read:orders", "write:orders"]}),
    );
    assert_eq!(api.bearer("/auth0-scope", &writer).await.status, 200);
    let wrong_shape = token(&issuer, json!({"permissions": "write:orders"}));
    assert_missing_scopes(
        &api.bearer("/auth0-scope", &wrong_shape).await,
        "write:orders admin",
    );
    // RFC 8693 `scope` only: an `scp` does not count there (it does for `/scope`).
    let okta = token(&issuer, json!({"scp": ["admin"]}));
    assert_missing_scopes(&api.bearer("/rfc8693-scope", &okta).await, "admin");
    assert_eq!(api.bearer("/scope", &okta).await.status, 200);
    let rfc = token(&issuer, json!({"scope": "read admin"}));
    assert_eq!(api.bearer("/rfc8693-scope", &rfc).await.status, 200);
}
