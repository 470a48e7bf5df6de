//! The authorization endpoint (RFC 6749 4.1.1, 4.1.2; RFC 7636 4.3, 4.4; RFC 9207):
//! exact redirect URIs, `state` passed through, PKCE `S256` required, and every refusal
//! where RFC 6749 4.1.2.1 says it goes.

mod common;

use std::collections::HashMap;

use tokengate_dev_issuer::client::{
    CallbackError, Pkce, check_callback, form_urlencode, new_state,
};

use common::*;

#[tokio::test]
async fn a_bad_redirect_uri_at_authorize_is_a_400_page_never_a_redirect() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let attacker = "http://127.0.0.1:9/callback.evil";
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // Not registered, or only nearly: exact string comparison (RFC 6749 3.1.2.3).
        with(
            good.clone(),
            "redirect_uri",
            Some("https://evil.example/callback"),
        ),
        with(good.clone(), "redirect_uri", Some(attacker)),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:9/callback/"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:9/callback?x=1"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:10/callback"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("HTTP://127.0.0.1:9/callback"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://localhost:9/callback"),
        ),
        // Registered, but for another client.
        with(
            with(good.clone(), "client_id", Some(OTHER_APP.0)),
            "redirect_uri",
            Some(OTHER_REDIRECT),
        ),
        // APP has two redirect URIs: it must name one.
        with(good.clone(), "redirect_uri", None),
        // Duplicated.
        [good.clone(), vec![("redirect_uri", attacker)]].concat(),
        // The client itself is unknown or missing: no redirect URI can be trusted.
        with(good.clone(), "client_id", Some("nobody")),
        with(good.clone(), "client_id", None),
    ];
    for case in cases {
        let (status, location, body) = authorize(&server, &case).await;
        assert_eq!(status, 400, "{case:?}");
        assert_eq!(location, None, "{case:?}");
        assert!(body.contains("development authorization server"), "{body}");
        assert!(!body.contains("code="), "{body}");
    }
    // Even with other errors in the request, a bad redirect URI gets the page.
    let bad = with(
        with(good.clone(), "redirect_uri", Some(attacker)),
        "code_challenge_method",
        Some("plain"),
    );
    let (status, location, _) = authorize(&server, &bad).await;
    assert_eq!((status, location), (400, None));
    // The one registered URI may be left out when it is the only one.
    let single = with(
        with(good.clone(), "client_id", Some(OTHER_APP.0)),
        "redirect_uri",
        None,
    );
    let query = redirected(&server, &single).await;
    assert!(query.contains_key("code"), "{query:?}");
}

#[tokio::test]
async fn state_is_passed_through_verbatim_and_the_client_checks_it() {
    let server = start().await;
    let pkce = Pkce::new();
    // Any characters come back exactly as sent.
    let state = "a b&c=d/é+%25?#";
    let query = redirected(&server, &params(state, &pkce)).await;
    assert_eq!(query["state"], state);
    assert_eq!(query["iss"], server.issuer());

    // With no state, none comes back; the client, which always sends one, refuses that.
    let sent = new_state();
    let (_, location, _) = authorize(&server, &with(params(&sent, &pkce), "state", None)).await;
    let location = location.unwrap();
    assert!(
        !query_keys(&location).contains(&"state".to_owned()),
        "{location}"
    );
    assert_eq!(
        check_callback(&location, REDIRECT, &sent, Some(server.issuer())),
        Err(CallbackError::MissingState)
    );

    // A response to someone else's request (another state) is refused too.
    let theirs = new_state();
    let (_, location, _) = authorize(&server, &params(&theirs, &pkce)).await;
    let location = location.unwrap();
    assert_eq!(
        check_callback(&location, REDIRECT, &sent, Some(server.issuer())),
        Err(CallbackError::StateMismatch)
    );
    // And with our state, from our server, the code is accepted.
    assert!(check_callback(&location, REDIRECT, &theirs, Some(server.issuer())).is_ok());
    // From another authorization server (RFC 9207 mix-up): refused.
    assert_eq!(
        check_callback(&location, REDIRECT, &theirs, Some("http://127.0.0.1:1")),
        Err(CallbackError::IssuerMismatch)
    );

    // Error redirects carry the state as well (RFC 6749 4.1.2.1).
    let query = redirected(&server, &with(params(&sent, &pkce), "code_challenge", None)).await;
    assert_eq!(query["state"], sent);
}

fn query_keys(location: &str) -> Vec<String> {
    query(location).into_keys().collect()
}

#[tokio::test]
async fn pkce_is_required_and_plain_is_refused() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let plain_challenge = "a".repeat(43);
    let cases = [
        with(good.clone(), "code_challenge_method", Some("plain")),
        // RFC 7636 4.3: no method means plain.
        with(good.clone(), "code_challenge_method", None),
        with(good.clone(), "code_challenge_method", Some("S512")),
        with(good.clone(), "code_challenge", None),
        with(
            with(good.clone(), "code_challenge", None),
            "code_challenge_method",
            None,
        ),
        with(good.clone(), "code_challenge", Some("too-short")),
        with(
            with(good.clone(), "code_challenge", Some(&plain_challenge)),
            "code_challenge_method",
            Some("plain"),
        ),
    ];
    for case in cases {
        let query = redirected(&server, &case).await;
        assert_eq!(query["error"], "invalid_request", "{case:?}: {query:?}");
        assert_eq!(query["state"], state, "{case:?}");
        assert!(!query.contains_key("code"), "{case:?}: {query:?}");
        assert_eq!(
            check_callback(
                &format!("{REDIRECT}?{}", form_urlencode(&as_pairs(&query))),
                REDIRECT,
                &state,
                None
            )
            .map_err(|e| matches!(e, CallbackError::Refused { .. })),
            Err(true)
        );
    }
}

fn as_pairs(query: &HashMap<String, String>) -> Vec<(&str, &str)> {
    query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn other_authorization_request_errors_redirect_with_their_rfc_6749_codes() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let cases = [
        (
            with(good.clone(), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(good.clone(), "response_type", None), "invalid_request"),
        (
            with(good.clone(), "scope", Some("read write")),
            "invalid_scope",
        ),
        (
            [good.clone(), vec![("scope", "admin")]].concat(),
            "invalid_request",
        ),
    ];
    for (case, error) in cases {
        let query = redirected(&server, &case).await;
        assert_eq!(query["error"], error, "{case:?}: {query:?}");
        assert!(!query.contains_key("code"), "{query:?}");
    }
}
