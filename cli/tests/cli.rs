//! The `tokengate` binary against a mock issuer on 127.0.0.1: exit 0 with every check
//! listed for a valid token, 1 naming the failing check and its values for a refused one,
//! 2 on a usage error; never the token's signature.

use std::process::Stdio;

use tokengate::testing::MockIssuer;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Runs the binary with `args` (and `stdin`, if given): (exit code, stdout, stderr).
async fn tokengate(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokengate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes")
        .unwrap();
    (
        output.status.code().expect("exited"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The line of check `name` in an explanation.
fn line<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{output}"))
}

fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

#[tokio::test]
async fn a_valid_token_exits_0_with_every_check_listed() {
    let issuer = MockIssuer::start().await;
    let token = issuer.token().subject("alice").scope("read admin").sign();
    let (code, out, err) = tokengate(
        &[
            "--issuer",
            issuer.issuer(),
            "--audience",
            issuer.audience(),
            "--scope",
            "admin",
            &token,
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    for check in [
        "size",
        "header",
        "key",
        "signature",
        "claims",
        "iss",
        "aud",
        "exp",
        "nbf",
        "binding",
        "scope",
    ] {
        assert!(line(&out, check).starts_with("ok "), "{check}:\n{out}");
    }
    assert!(line(&out, "header").contains("\"RS256\""), "{out}");
    assert!(line(&out, "iss").contains(issuer.issuer()), "{out}");
    assert!(out.contains("valid: sub \"alice\""), "{out}");
    assert!(
        !out.contains(signature(&token)) && !out.contains(&token),
        "{out}"
    );
}

#[tokio::test]
async fn a_token_on_stdin_with_its_scheme_is_read() {
    let issuer = MockIssuer::start().await;
    let token = issuer.token().sign();
    let input = format!("Bearer {token}\n");
    let args = ["--issuer", issuer.issuer(), "--audience", issuer.audience()];
    let (code, out, err) = tokengate(&args, Some(&input)).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = tokengate(
        &[
            "--jwks",
            &issuer.jwks_url(),
            "--audience",
            issuer.audience(),
            "-",
        ],
        Some(&token),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("proves nothing"), "{out}");
}

#[tokio::test]
async fn refused_tokens_exit_1_naming_the_check_and_the_values() {
    let issuer = MockIssuer::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired_at = now - 3600;
    let cases = [
        (
            issuer.token().claim("exp", expired_at).sign(),
            "exp",
            vec![
                format!("exp {expired_at}"),
                "leeway 60 s".to_owned(),
                "now".to_owned(),
            ],
        ),
        (
            issuer.token().audience("billing-api").sign(),
            "aud",
            vec!["billing-api".to_owned(), issuer.audience().to_owned()],
        ),
        (
            issuer.token().claim("iss", "https://evil.example").sign(),
            "iss",
            vec![
                "https://evil.example".to_owned(),
                issuer.issuer().to_owned(),
            ],
        ),
        (
            issuer.token().header("kid", "retired-2019").sign(),
            "key",
            vec!["retired-2019".to_owned(), "unknown_key".to_owned()],
        ),
    ];
    for (token, check, values) in cases {
        let (code, out, err) = tokengate(
            &[
                "--issuer",
                issuer.issuer(),
                "--audience",
                issuer.audience(),
                &token,
            ],
            None,
        )
        .await;
        assert_eq!(code, 1, "{check}: {out}{err}");
        let failed = line(&out, check);
        assert!(failed.starts_with("FAILED"), "{check}:\n{out}");
        for value in &values {
            assert!(failed.contains(value.as_str()), "{value} in {failed}");
        }
        assert!(out.contains("refused: invalid_token"), "{out}");
        assert!(!out.contains(signature(&token)), "{out}");
    }
    // A scope not granted: the token is valid, the requirement is not met.
    let token = issuer.token().scope("read").sign();
    let args = [
        "--issuer",
        issuer.issuer(),
        "--audience",
        issuer.audience(),
        "--scope",
        "admin",
        &token,
    ];
    let (code, out, _) = tokengate(&args, None).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "scope").starts_with("FAILED") && out.contains("insufficient_scope"),
        "{out}"
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let issuer = MockIssuer::start().await;
    for args in [
        vec!["--audience", "api", "a.b.c"],
        vec!["--issuer", issuer.issuer(), "a.b.c"],
        vec!["--issuer", "ftp://nowhere", "--audience", "api", "a.b.c"],
        vec![
            "--issuer",
            issuer.issuer(),
            "--audience",
            "api",
            "--bogus",
            "a.b.c",
        ],
    ] {
        let (code, out, err) = tokengate(&args, None).await;
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("usage: tokengate"), "{err}");
    }
    let (code, _, err) = tokengate(
        &["--issuer", issuer.issuer(), "--audience", "api"],
        Some("  \n"),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no token"), "{err}");
    let (code, out, _) = tokengate(&["--help"], None).await;
    assert_eq!(code, 0);
    assert!(out.contains("exit status"));
}
