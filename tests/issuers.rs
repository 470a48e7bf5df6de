//! The issuers APIs really use, with tokens shaped like their documented examples (claims,
//! header, key set, discovery document), through both adapters: Keycloak, Microsoft
//! Entra ID (multi-tenant, v1 and v2), Auth0, Okta and AWS Cognito.
//!
//! Each issuer is imitated on 127.0.0.1 by [`ShapedIssuer`]: its discovery document at the
//! path the issuer publishes it (`/realms/shop`, `/oauth2/default`, Entra's `/common/v2.0`
//! naming the template), and its JWKS with the members the issuer adds (`x5t`, `x5c`,
//! Entra's `issuer`, Keycloak's encryption key).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::serve;
use serde_json::{Value, json};
use tokengate::testing::TestKey;
use tokengate::{
    Algorithm, ConfigError, KeyFetchError, KeySource, TrustedTenants, Validator, ValidatorBuilder,
};

/// An issuer's discovery documents and JWKS, served on 127.0.0.1.
struct ShapedIssuer {
    /// `http://127.0.0.1:PORT`.
    base: String,
    key: TestKey,
    discovery_hits: Arc<AtomicUsize>,
    jwks_hits: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ShapedIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ShapedIssuer {
    /// Serves, for each `(path, issuer)`, `{path}/.well-known/openid-configuration` naming
    /// `issuer` and `jwks_uri` `{base}/keys` (`{base}` in either is replaced by the base
    /// URL), and at `/keys` the key set holding `key`'s public JWK as `shape` makes it.
    async fn start(
        key: TestKey,
        shape: impl Fn(Value) -> Vec<Value>,
        docs: &[(&str, &str)],
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let jwks = json!({"keys": shape(key.public_jwk())});
        let hits = jwks_hits.clone();
        let mut app = Router::new().route(
            "/keys",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        for (path, issuer) in docs {
            let route = format!(
                "{}/.well-known/openid-configuration",
                path.trim_end_matches('/')
            );
            let doc = json!({
                "issuer": issuer.replace("{base}", &base),
                "jwks_uri": format!("{base}/keys"),
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
            });
            let hits = discovery_hits.clone();
            app = app.route(
                &route,
                get(move || {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let doc = doc.clone();
                    async move { axum::Json(doc) }
                }),
            );
        }
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ShapedIssuer {
            base,
            key,
            discovery_hits,
            jwks_hits,
            server,
        }
    }

    /// `{base}{path}`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token signed by the issuer's key with these header members and claims.
    fn mint(&self, header: Value, claims: Value) -> String {
        self.key.mint_with_header(&header, &claims)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A validator's usual test settings: a short fetch timeout.
fn quick(builder: ValidatorBuilder) -> Validator {
    builder
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// A fake DER certificate chain entry, as JWKS publish in `x5c` (tokengate never reads it).
const X5C: &str = "MIIDBTCCAe2gAwIBAgIQN33ROaIJ6bJBWDCxtmJEbjANBgkqhkiG9w0BAQsFADAt";

// ---------------------------------------------------------------------------------------
// Keycloak

/// Keycloak 24+ realm access token: `typ: JWT` header, `aud` an array with `account`,
/// `azp` the client, `realm_access`/`resource_access` roles, `scope` space-separated.
/// Its JWKS also publishes the realm's RSA-OAEP encryption key, which must be skipped.
#[tokio::test]
async fn keycloak_access_tokens_pass_with_their_documented_shape() {
    let key = TestKey::generate("kc-rs256-1", Algorithm::RS256);
    let realm = ShapedIssuer::start(
        key,
        |jwk| {
            let mut sig = jwk.clone();
            sig["x5c"] = json!([X5C]);
            sig["x5t"] = json!("kZ9WqF4m3nY3FMyBmM8EXpFKkZ4");
            let mut enc = jwk;
            enc["kid"] = json!("kc-enc-1");
            enc["use"] = json!("enc");
            enc["alg"] = json!("RSA-OAEP");
            vec![enc, sig]
        },
        &[("/realms/shop", "{base}/realms/shop")],
    )
    .await;
    let issuer = realm.url("/realms/shop");
    let api = serve(quick(
        Validator::builder().issuer(&issuer).audience("shop-api"),
    ))
    .await;
    let claims = |aud: Value| {
        json!({
            "exp": now() + 300, "iat": now(), "auth_time": now() - 10,
            "jti": "onrtac:8a1c6d4e-2f6c-4d1e-9a5b-0c5e1a7f3b21",
            "iss": issuer, "aud": aud,
            "sub": "f1d6c5e2-7a1b-4c3d-9e8f-112233445566", "typ": "Bearer",
            "azp": "shop-web", "sid": "3c9e2f1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            "acr": "1", "allowed-origins": ["https://shop.example"],
            "realm_access": {"roles": ["default-roles-shop", "offline_access", "admin"]},
            "resource_access": {"shop-api": {"roles": ["orders:write"]},
                                "account": {"roles": ["manage-account", "view-profile"]}},
            "scope": "openid profile email", "email_verified": true,
            "preferred_username": "alice", "email": "alice@shop.example",
        })
    };
    let header = json!({"typ": "JWT"});
    let token = realm.mint(header.clone(), claims(json!(["shop-api", "account"])));
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["preferred_username"], "alice");
    assert_eq!(reply.json()["realm_access"]["roles"][2], "admin");
    // Keycloak's default access token names only `account`: not this API.
    let account_only = realm.mint(header, claims(json!("account")));
    api.get("/me", Some(&account_only))
        .await
        .assert_invalid_token();
    assert_eq!(realm.discovery_hits.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// Microsoft Entra ID

const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ENTRA_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

/// Entra imitated: `/common/v2.0` names the v2 template, `/common` the v1 one (Entra's v1
/// issuer is on `sts.windows.net`; here `{base}/sts/{tenantid}/`). Its JWKS keys carry
/// `x5t`, `x5c` and `issuer`, and no `alg`.
async fn entra() -> ShapedIssuer {
    let key = TestKey::generate("nOo3ZDrODXEK1jKWhXslHR_KXEg", Algorithm::RS256);
    ShapedIssuer::start(
        key,
        |mut jwk| {
            jwk.as_object_mut().unwrap().remove("alg");
            jwk["x5t"] = jwk["kid"].clone();
            jwk["x5c"] = json!([X5C]);
            jwk["issuer"] = json!("https://login.microsoftonline.com/{tenantid}/v2.0");
            vec![jwk]
        },
        &[
            ("/common/v2.0", "{base}/{tenantid}/v2.0"),
            ("/common", "{base}/sts/{tenantid}/"),
        ],
    )
    .await
}

fn entra_v2(entra: &ShapedIssuer, tenants: TrustedTenants) -> Validator {
    quick(
        Validator::builder()
            .issuer_template(entra.url("/{tenantid}/v2.0"), tenants)
            .key_source(KeySource::discovery_at(entra.url("/common/v2.0")))
            .audience(ENTRA_API),
    )
}

fn entra_v1(entra: &ShapedIssuer, tenants: TrustedTenants) -> Validator {
    quick(
        Validator::builder()
            .issuer_template(entra.url("/sts/{tenantid}/"), tenants)
            .key_source(KeySource::discovery_at(entra.url("/common")))
            .audience(format!("api://{ENTRA_API}")),
    )
}

/// A v2.0 access token as Entra documents it: `typ: JWT` with `x5t` (no `at+jwt`), `aud`
/// the API's client id, `tid`, `oid`, `scp`, `ver: 2.0`.
fn entra_v2_claims(entra: &ShapedIssuer, iss_tenant: &str, tid: Value) -> Value {
    json!({
        "aud": ENTRA_API, "iss": entra.url(&format!("/{iss_tenant}/v2.0")),
        "iat": now(), "nbf": now(), "exp": now() + 3600,
        "aio": "AWQAm/8TAAAA", "azp": "0fc1a5b8-3b9d-4c2e-8f5a-6d7e8f9a0b1c", "azpacr": "0",
        "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@microsoft.com", "rh": "I",
        "scp": "access_as_user", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": tid, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
    })
}

/// A v1.0 access token: `iss` on `sts.windows.net`, `aud` the App ID URI, `appid`, `ver: 1.0`.
fn entra_v1_claims(entra: &ShapedIssuer, tid: &str) -> Value {
    json!({
        "aud": format!("api://{ENTRA_API}"), "iss": entra.url(&format!("/sts/{tid}/")),
        "iat": now(), "nbf": now(), "exp": now() + 3600,
        "acr": "1", "aio": "AVQAq/8TAAAA", "amr": ["pwd"],
        "appid": "0fc1a5b8-3b9d-4c2e-8f5a-6d7e8f9a0b1c", "appidacr": "0",
        "family_name": "Lincoln", "given_name": "Abe", "ipaddr": "203.0.113.7",
        "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "rh": "I", "scp": "access_as_user", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
        "tid": tid, "unique_name": "abeli@microsoft.com", "upn": "abeli@microsoft.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0",
    })
}

fn entra_header(entra: &ShapedIssuer) -> Value {
    json!({"typ": "JWT", "x5t": entra.key.kid()})
}

#[tokio::test]
async fn entra_v2_tokens_of_a_trusted_tenant_pass_with_keys_from_the_common_discovery() {
    let entra = entra().await;
    let validator = entra_v2(&entra, TrustedTenants::list([TENANT]));
    assert!(
        validator.ready().await.is_ok(),
        "the common document names the template"
    );
    let api = serve(validator).await;
    let token = entra.mint(
        entra_header(&entra),
        entra_v2_claims(&entra, TENANT, json!(TENANT)),
    );
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["tid"], TENANT);
    assert_eq!(reply.json()["scp"], "access_as_user");
    assert_eq!(entra.discovery_hits.load(Ordering::SeqCst), 1);
}

/// Every way a token could slip past the template: an untrusted `tid`, an `iss` of another
/// tenant than its `tid`, a `tid` with characters that would change the URL, no `tid`, a
/// v1 token on a v2-only configuration.
#[tokio::test]
async fn entra_tokens_that_slip_out_of_the_template_are_refused() {
    let entra = entra().await;
    let api = serve(entra_v2(&entra, TrustedTenants::list([TENANT]))).await;
    let header = entra_header(&entra);
    let refused = [
        // A tenant not in the list, with its own (Entra-signed) issuer.
        entra_v2_claims(&entra, OTHER_TENANT, json!(OTHER_TENANT)),
        // `tid` trusted, `iss` another tenant's.
        entra_v2_claims(&entra, OTHER_TENANT, json!(TENANT)),
        // `iss` trusted, `tid` another tenant's.
        entra_v2_claims(&entra, TENANT, json!(OTHER_TENANT)),
        // `tid`s that would reach another part of the URL.
        entra_v2_claims(
            &entra,
            &format!("{TENANT}/v2.0?x="),
            json!(format!("{TENANT}/v2.0?x=")),
        ),
        entra_v2_claims(
            &entra,
            &format!("{TENANT}/.."),
            json!(format!("{TENANT}/..")),
        ),
        entra_v2_claims(&entra, "..", json!("..")),
        entra_v2_claims(&entra, "a%2Fb", json!("a%2Fb")),
        entra_v2_claims(&entra, "{tenantid}", json!("{tenantid}")),
        entra_v2_claims(&entra, "", json!("")),
        entra_v2_claims(&entra, TENANT, json!([TENANT])),
        entra_v2_claims(&entra, TENANT, json!(null)),
        // A v1 token of the trusted tenant.
        {
            let mut v1 = entra_v1_claims(&entra, TENANT);
            v1["aud"] = json!(ENTRA_API);
            v1
        },
    ];
    for claims in refused {
        let token = entra.mint(header.clone(), claims.clone());
        let reply = api.get("/me", Some(&token)).await;
        assert_eq!(
            (reply.status, reply.error().as_deref()),
            (401, Some("invalid_token")),
            "{claims}"
        );
    }
    let mut no_tid = entra_v2_claims(&entra, TENANT, json!(TENANT));
    no_tid.as_object_mut().unwrap().remove("tid");
    api.get("/me", Some(&entra.mint(header.clone(), no_tid)))
        .await
        .assert_invalid_token();
    // The trusted tenant's own token still passes.
    let ok = entra.mint(header, entra_v2_claims(&entra, TENANT, json!(TENANT)));
    assert_eq!(api.get("/me", Some(&ok)).await.status, 200);
}

/// v1 and v2 at once: one template each, joined by `any_of`; a predicate of trusted
/// tenants. Each token goes to the template it fits, with that template's audience.
#[tokio::test]
async fn entra_v1_and_v2_tokens_pass_side_by_side_with_a_tenant_predicate() {
    let entra = entra().await;
    let trusted = || TrustedTenants::predicate(|tid| tid == TENANT);
    let both =
        Validator::any_of([entra_v2(&entra, trusted()), entra_v1(&entra, trusted())]).unwrap();
    let api = serve(both).await;
    let header = entra_header(&entra);
    let v1 = entra.mint(header.clone(), entra_v1_claims(&entra, TENANT));
    let reply = api.get("/me", Some(&v1)).await;
    assert_eq!(
        (reply.status, reply.json()["ver"].as_str()),
        (200, Some("1.0")),
        "{reply:?}"
    );
    let v2 = entra.mint(
        header.clone(),
        entra_v2_claims(&entra, TENANT, json!(TENANT)),
    );
    assert_eq!(api.get("/me", Some(&v2)).await.status, 200);
    // The predicate refuses the other tenant on both.
    let other_v1 = entra.mint(header.clone(), entra_v1_claims(&entra, OTHER_TENANT));
    api.get("/me", Some(&other_v1)).await.assert_invalid_token();
    // A v1 token keeps the v1 audience: the v2 one is not accepted on it.
    let mut v1_for_v2_aud = entra_v1_claims(&entra, TENANT);
    v1_for_v2_aud["aud"] = json!(ENTRA_API);
    api.get("/me", Some(&entra.mint(header, v1_for_v2_aud)))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn entra_templates_are_checked_at_build() {
    let list = || TrustedTenants::list([TENANT]);
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let common = "https://login.microsoftonline.com/common/v2.0";
    let base = || Validator::builder().audience(ENTRA_API);
    // Discovery from a template cannot work: the key source must be named.
    let err = base()
        .issuer_template(template, list())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::IssuerTemplate(_)), "{err}");
    assert!(err.to_string().contains("discovery_at"), "{err}");
    // The placeholder in a plain issuer is a mistake, named.
    let err = base().issuer(template).build().unwrap_err();
    assert!(err.to_string().contains("issuer_template"), "{err}");
    // No placeholder, an empty list, introspection: refused.
    let at = || KeySource::discovery_at(common);
    for builder in [
        base().issuer_template(common, list()).key_source(at()),
        base()
            .issuer_template(template, TrustedTenants::list(Vec::<String>::new()))
            .key_source(at()),
        base()
            .issuer_template(template, list())
            .key_source(at())
            .introspection("id", "secret"),
    ] {
        assert!(matches!(
            builder.build(),
            Err(ConfigError::IssuerTemplate(_))
        ));
    }
    let ok = base()
        .issuer_template(template, list())
        .key_source(at())
        .build()
        .unwrap();
    assert_eq!(ok.issuer(), template);
}

/// Entra's common document configured as a plain issuer: the mismatch names the template
/// and says how to configure it.
#[tokio::test]
async fn entra_common_as_a_plain_issuer_says_to_use_the_template() {
    let entra = entra().await;
    let validator = quick(
        Validator::builder()
            .issuer(entra.url("/common/v2.0"))
            .audience(ENTRA_API),
    );
    let not_ready = validator.ready().await.unwrap_err();
    let text = not_ready.to_string();
    assert!(text.contains("did you mean issuer_template("), "{text}");
    assert!(text.contains(&entra.url("/{tenantid}/v2.0")), "{text}");
    assert_eq!(entra.jwks_hits.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------
// Auth0

/// Auth0's issuer ends with a slash (`https://tenant.auth0.com/`), and its access tokens
/// name the API and `/userinfo`, with `permissions` (RBAC) and `scope`.
async fn auth0() -> ShapedIssuer {
    let key = TestKey::generate("r0H3N2Ux4zMbLQ3nTz1W8", Algorithm::RS256);
    ShapedIssuer::start(
        key,
        |mut jwk| {
            jwk["x5c"] = json!([X5C]);
            jwk["x5t"] = json!("Fb1u1G9rjJIUaY9Qx8bCHVbZtHk");
            vec![jwk]
        },
        &[("/", "{base}/")],
    )
    .await
}

#[tokio::test]
async fn auth0_access_tokens_pass_with_the_trailing_slash_issuer() {
    let auth0 = auth0().await;
    let issuer = auth0.url("/");
    let api = serve(quick(
        Validator::builder()
            .issuer(&issuer)
            .audience("https://orders.example.com"),
    ))
    .await;
    let claims = json!({
        "iss": issuer, "sub": "auth0|65f1c0a7e4b0a1b2c3d4e5f6",
        "aud": ["https://orders.example.com", format!("{issuer}userinfo")],
        "iat": now(), "exp": now() + 86400, "azp": "xZ8pQ2wR5tY7uI9oP1aS3dF5gH7jK9lM",
        "scope": "openid profile email read:orders", "permissions": ["read:orders", "write:orders"],
    });
    let token = auth0.mint(json!({"typ": "JWT"}), claims.clone());
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["permissions"][1], "write:orders");
    // The same token with the slash dropped from `iss` is another issuer's.
    let mut no_slash = claims;
    no_slash["iss"] = json!(issuer.trim_end_matches('/'));
    api.get("/me", Some(&auth0.mint(json!({"typ": "JWT"}), no_slash)))
        .await
        .assert_invalid_token();
    // A machine-to-machine token (client credentials): `sub` is `{client}@clients`.
    let m2m = json!({
        "iss": issuer, "sub": "xZ8pQ2wR5tY7uI9oP1aS3dF5gH7jK9lM@clients",
        "aud": "https://orders.example.com", "iat": now(), "exp": now() + 86400,
        "azp": "xZ8pQ2wR5tY7uI9oP1aS3dF5gH7jK9lM", "gty": "client-credentials",
        "scope": "read:orders", "permissions": ["read:orders"],
    });
    assert_eq!(
        api.get("/me", Some(&auth0.mint(json!({"typ": "JWT"}), m2m)))
            .await
            .status,
        200
    );
}

/// Configured without the slash, Auth0's discovery document disagrees: exact comparison
/// stays, nothing is fetched, and `ready()` names both values and says "did you mean".
/// Requests get 503 meanwhile, never a pass.
#[tokio::test]
async fn auth0_without_the_trailing_slash_is_a_named_mismatch() {
    let auth0 = auth0().await;
    let configured = auth0.base.clone();
    let validator = quick(
        Validator::builder()
            .issuer(&configured)
            .audience("https://orders.example.com"),
    );
    let not_ready = validator.ready().await.unwrap_err();
    let (_, cause) = not_ready.causes().next().unwrap();
    match cause {
        KeyFetchError::IssuerMismatch {
            configured: c,
            found,
            ..
        } => {
            assert_eq!(c, &configured);
            assert_eq!(found.as_deref(), Some(&*auth0.url("/")));
        }
        other => panic!("not a mismatch: {other:?}"),
    }
    let text = not_ready.to_string();
    assert!(
        text.contains(&format!(
            "did you mean issuer({:?})? (issuers are compared exactly: the trailing slash counts)",
            auth0.url("/")
        )),
        "{text}"
    );
    let api = serve(validator).await;
    let token = auth0.mint(
        json!({"typ": "JWT"}),
        json!({"iss": configured, "aud": "https://orders.example.com", "exp": now() + 60}),
    );
    assert_eq!(api.get("/me", Some(&token)).await.status, 503);
    assert_eq!(auth0.jwks_hits.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------
// Okta

/// Okta's custom authorization server: issuer `https://{org}.okta.com/oauth2/default`
/// (no slash), `aud` `api://default`, `cid`, `uid`, `scp` an array, `ver: 1`; its access
/// tokens' header has only `kid` and `alg` (Okta documents no `typ`).
async fn okta() -> ShapedIssuer {
    let key = TestKey::generate("Vu0Bq1f1m4q9mHk2cU7Kx3J1tK5l0Q", Algorithm::RS256);
    ShapedIssuer::start(
        key,
        |jwk| vec![jwk],
        &[("/oauth2/default", "{base}/oauth2/default")],
    )
    .await
}

#[tokio::test]
async fn okta_access_tokens_pass_with_their_documented_shape() {
    let okta = okta().await;
    let issuer = okta.url("/oauth2/default");
    let api = serve(quick(
        Validator::builder()
            .issuer(&issuer)
            .audience("api://default"),
    ))
    .await;
    let claims = json!({
        "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE", "iss": issuer,
        "aud": "api://default", "iat": now(), "exp": now() + 3600,
        "cid": "0oa1bcd2efGH3ijk4l5m", "uid": "00u1abcd2EFGH3ijk4l5",
        "scp": ["openid", "email", "orders:read"], "auth_time": now() - 60,
        "sub": "alice@example.com", "groups": ["Everyone", "Admins"],
    });
    let reply = api
        .get("/me", Some(&okta.mint(json!({}), claims.clone())))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["groups"][1], "Admins");
    // With `typ: JWT` too (what Okta's org authorization server and many libraries set).
    assert_eq!(
        api.get("/me", Some(&okta.mint(json!({"typ": "JWT"}), claims)))
            .await
            .status,
        200
    );
}

/// Okta the other way round: configured with a slash its issuer does not have.
#[tokio::test]
async fn okta_with_a_trailing_slash_is_a_named_mismatch() {
    let okta = okta().await;
    let configured = okta.url("/oauth2/default/");
    let validator = quick(
        Validator::builder()
            .issuer(&configured)
            .audience("api://default"),
    );
    let text = validator.ready().await.unwrap_err().to_string();
    assert!(
        text.contains(&format!("configured {configured:?}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "did you mean issuer({:?})?",
            okta.url("/oauth2/default")
        )),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// AWS Cognito

const POOL: &str = "/eu-west-1_AbCdEf123";
const COGNITO_CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";

async fn cognito() -> ShapedIssuer {
    let key = TestKey::generate(
        "aBcDeF1234567890abcdef1234567890abcdef12345=",
        Algorithm::RS256,
    );
    ShapedIssuer::start(key, |jwk| vec![jwk], &[(POOL, &format!("{{base}}{POOL}"))]).await
}

/// A Cognito user pool access token as AWS documents it: no `aud`, `client_id`,
/// `token_use: access`, `scope` space-separated, `cognito:groups`, `version: 2`.
fn cognito_access(pool: &ShapedIssuer, client_id: &str) -> Value {
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-example", "cognito:groups": ["admin"],
        "iss": pool.url(POOL), "version": 2, "client_id": client_id,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "cccccccc-dddd-eeee-ffff-aaaaaaaaaaaa", "token_use": "access",
        "scope": "aws.cognito.signin.user.admin phone openid profile email",
        "auth_time": now(), "exp": now() + 3600, "iat": now(),
        "jti": "abcd1234-ef56-7890-abcd-ef1234567890", "username": "alice",
    })
}

/// A Cognito ID token: `aud` is the client id, `token_use: id`.
fn cognito_id(pool: &ShapedIssuer) -> Value {
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-example", "cognito:groups": ["admin"],
        "email_verified": true, "iss": pool.url(POOL), "cognito:username": "alice",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "aud": COGNITO_CLIENT,
        "event_id": "cccccccc-dddd-eeee-ffff-aaaaaaaaaaaa", "token_use": "id",
        "auth_time": now(), "exp": now() + 3600, "iat": now(),
        "jti": "abcd1234-ef56-7890-abcd-ef1234567890", "email": "alice@example.com",
    })
}

fn cognito_validator(pool: &ShapedIssuer) -> Validator {
    quick(
        Validator::builder()
            .issuer(pool.url(POOL))
            .cognito_client_ids([COGNITO_CLIENT]),
    )
}

#[tokio::test]
async fn cognito_access_tokens_pass_by_client_id() {
    let pool = cognito().await;
    let api = serve(cognito_validator(&pool)).await;
    let token = pool.mint(json!({}), cognito_access(&pool, COGNITO_CLIENT));
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["cognito:groups"][0], "admin");
    assert_eq!(reply.json()["client_id"], COGNITO_CLIENT);
    // A machine-to-machine token (client credentials): no user, resource-server scopes.
    let mut m2m = cognito_access(&pool, COGNITO_CLIENT);
    for user in [
        "username",
        "cognito:groups",
        "origin_jti",
        "event_id",
        "auth_time",
    ] {
        m2m.as_object_mut().unwrap().remove(user);
    }
    m2m["sub"] = json!(COGNITO_CLIENT);
    m2m["scope"] = json!("orders/read orders/write");
    assert_eq!(
        api.get("/me", Some(&pool.mint(json!({}), m2m)))
            .await
            .status,
        200
    );
}

/// The ID token of the very client (its `aud` is the client id), a token without
/// `token_use`, another app client's access token, one without `client_id`: refused.
#[tokio::test]
async fn cognito_id_tokens_and_other_clients_are_refused() {
    let pool = cognito().await;
    let api = serve(cognito_validator(&pool)).await;
    let mut no_use = cognito_access(&pool, COGNITO_CLIENT);
    no_use.as_object_mut().unwrap().remove("token_use");
    let mut no_client = cognito_access(&pool, COGNITO_CLIENT);
    no_client.as_object_mut().unwrap().remove("client_id");
    let mut id_with_client = cognito_id(&pool);
    id_with_client["client_id"] = json!(COGNITO_CLIENT);
    for claims in [
        cognito_id(&pool),
        id_with_client,
        no_use,
        no_client,
        cognito_access(&pool, "7abcdefghijklmnopqrstuvwx"),
    ] {
        let reply = api
            .get("/me", Some(&pool.mint(json!({}), claims.clone())))
            .await;
        assert_eq!(
            (reply.status, reply.error().as_deref()),
            (401, Some("invalid_token")),
            "{claims}"
        );
    }
    // The plain audience check does not take Cognito's ID token either way round: an
    // API configured with the client id as its audience still refuses access tokens.
    let by_aud = serve(quick(
        Validator::builder()
            .issuer(pool.url(POOL))
            .audience(COGNITO_CLIENT),
    ))
    .await;
    by_aud
        .get(
            "/me",
            Some(&pool.mint(json!({}), cognito_access(&pool, COGNITO_CLIENT))),
        )
        .await
        .assert_invalid_token();
}

#[test]
fn cognito_mode_is_never_an_absent_audience_check() {
    let base = || {
        Validator::builder()
            .issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")
    };
    assert_eq!(base().build().unwrap_err(), ConfigError::MissingAudience);
    assert!(
        base()
            .build()
            .unwrap_err()
            .to_string()
            .contains("cognito_client_ids"),
        "the message names the Cognito mode"
    );
    assert_eq!(
        base().cognito_client_ids([""]).build().unwrap_err(),
        ConfigError::MissingAudience
    );
    assert_eq!(
        base()
            .cognito_client_ids(Vec::<String>::new())
            .build()
            .unwrap_err(),
        ConfigError::MissingAudience
    );
    assert_eq!(
        base()
            .audience("api")
            .cognito_client_ids([COGNITO_CLIENT])
            .build()
            .unwrap_err(),
        ConfigError::AudienceAndCognitoClientIds
    );
    assert!(base().cognito_client_ids([COGNITO_CLIENT]).build().is_ok());
}

/// An exact issuer and a template side by side: each token goes to its own; a token whose
/// `iss` is the template's own text (which `any_of` indexes, like any issuer) is still
/// refused by the template's check.
#[tokio::test]
async fn exact_issuers_and_templates_share_one_any_of() {
    let entra = entra().await;
    let auth0 = auth0().await;
    let both = Validator::any_of([
        entra_v2(&entra, TrustedTenants::list([TENANT])),
        quick(
            Validator::builder()
                .issuer(auth0.url("/"))
                .audience("https://orders.example.com"),
        ),
    ])
    .unwrap();
    let api = serve(both).await;
    let v2 = entra.mint(
        entra_header(&entra),
        entra_v2_claims(&entra, TENANT, json!(TENANT)),
    );
    assert_eq!(api.get("/me", Some(&v2)).await.status, 200);
    let from_auth0 = auth0.mint(
        json!({"typ": "JWT"}),
        json!({"iss": auth0.url("/"), "aud": "https://orders.example.com", "exp": now() + 60}),
    );
    assert_eq!(api.get("/me", Some(&from_auth0)).await.status, 200);
    let mut literal = entra_v2_claims(&entra, TENANT, json!(TENANT));
    literal["iss"] = json!(entra.url("/{tenantid}/v2.0"));
    api.get("/me", Some(&entra.mint(entra_header(&entra), literal)))
        .await
        .assert_invalid_token();
    // Auth0's key never vouches for an Entra tenant, nor Entra's for Auth0.
    let forged = auth0.mint(
        json!({"typ": "JWT"}),
        entra_v2_claims(&entra, TENANT, json!(TENANT)),
    );
    api.get("/me", Some(&forged)).await.assert_invalid_token();
    let forged = entra.mint(
        entra_header(&entra),
        json!({"iss": auth0.url("/"), "aud": "https://orders.example.com", "exp": now() + 60}),
    );
    api.get("/me", Some(&forged)).await.assert_invalid_token();
}
