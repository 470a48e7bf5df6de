//! `tokengate`: why is this token accepted or refused? Each check in order, with the
//! values it compared, made by tokengate's own validator ([`Validator::explain`]).
//!
//! ```text
//! tokengate --issuer https://login.example.com --audience https://api.example.com TOKEN
//! echo "$TOKEN" | tokengate --issuer https://login.example.com --audience api
//! tokengate --jwks https://login.example.com/keys --audience api --scope admin TOKEN
//! ```
//!
//! Exit status: 0 when the token is valid (and grants every `--scope`), 1 when it is
//! refused, 2 on a usage or configuration error. Never prints the token, its signature,
//! a key or a secret.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use tokengate::Validator;

const USAGE: &str = "\
usage: tokengate [OPTIONS] [TOKEN]

Explains, check by check, whether TOKEN (a JWT access token; read from stdin when
absent or `-`; a leading `Bearer ` is ignored) is valid for this API.

options:
  --issuer URL       the issuer to trust (keys found by OIDC / RFC 8414 discovery)
  --jwks URL         the JWKS URL (skips discovery); without --issuer, the token's own
                     iss is trusted, and said so
  --audience AUD     this API's audience (repeatable: any of them)
  --scope SCOPE      a scope the token must grant (repeatable)
  --leeway SECONDS   clock skew tolerated on exp and nbf (default 60)
  -h, --help         this text
  -V, --version      the version

exit status: 0 valid, 1 refused, 2 usage or configuration error";

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    issuer: Option<String>,
    jwks: Option<String>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    leeway: Option<Duration>,
    token: Option<String>,
}

/// A usage error: the message, printed with the usage line, exit status 2.
struct Usage(String);

enum Parsed {
    Run(Args),
    Help,
    Version,
}

fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Parsed, Usage> {
    let mut args = Args::default();
    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        // `--name=value` or `--name value`.
        let (name, inline) = match argument.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (argument.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| arguments.next())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Usage(format!("{name} needs {what}")))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--issuer" => args.issuer = Some(value("a URL")?),
            "--jwks" => args.jwks = Some(value("a URL")?),
            "--audience" => args.audiences.push(value("an audience")?),
            "--scope" => args.scopes.push(value("a scope")?),
            "--leeway" => {
                let seconds = value("a number of seconds")?;
                let seconds = seconds.parse::<u64>().map_err(|_| {
                    Usage(format!(
                        "--leeway must be a whole number of seconds, not {seconds:?}"
                    ))
                })?;
                args.leeway = Some(Duration::from_secs(seconds));
            }
            option if option.starts_with('-') && option != "-" => {
                return Err(Usage(format!("unknown option {option}")));
            }
            _ if args.token.is_some() => return Err(Usage("more than one token".to_owned())),
            _ => args.token = Some(argument),
        }
    }
    if args.issuer.is_none() && args.jwks.is_none() {
        return Err(Usage("--issuer or --jwks is required".to_owned()));
    }
    if args.audiences.is_empty() {
        return Err(Usage("--audience is required".to_owned()));
    }
    Ok(Parsed::Run(args))
}

/// The token: the argument, or stdin; surrounding whitespace and a `Bearer ` prefix
/// dropped (as pasted from a request).
fn read_token(argument: Option<String>) -> Result<String, Usage> {
    let raw = match argument.filter(|t| t != "-") {
        Some(token) => token,
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| Usage(format!("cannot read the token from stdin: {e}")))?;
            input
        }
    };
    let token = raw.trim();
    let token = match token.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if token.eq_ignore_ascii_case("bearer") => "",
        _ => token,
    };
    if token.is_empty() {
        return Err(Usage(
            "no token given (as an argument or on stdin)".to_owned(),
        ));
    }
    Ok(token.to_owned())
}

/// The token's unverified `iss`, only to configure a validator from `--jwks` alone: the
/// validator then checks the token against it like any other.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("tokengate: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(arguments: impl IntoIterator<Item = String>) -> Result<ExitCode, Usage> {
    let args = match parse(arguments)? {
        Parsed::Help => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Parsed::Version => {
            println!("tokengate {}", env!("CARGO_PKG_VERSION"));
            return Ok(ExitCode::SUCCESS);
        }
        Parsed::Run(args) => args,
    };
    let token = read_token(args.token)?;
    let (issuer, from_token) = match (args.issuer, &args.jwks) {
        (Some(issuer), _) => (issuer, false),
        (None, _) => match unverified_issuer(&token) {
            Some(issuer) => (issuer, true),
            None => return Err(Usage("the token names no iss: give --issuer".to_owned())),
        },
    };
    let mut builder = Validator::builder().issuer(&issuer);
    for audience in &args.audiences {
        builder = builder.audience(audience);
    }
    if let Some(jwks) = &args.jwks {
        builder = builder.jwks_url(jwks);
    }
    if let Some(leeway) = args.leeway {
        builder = builder.leeway(leeway);
    }
    // Nothing is remembered between runs anyway.
    builder = builder.token_cache_size(0);
    let validator = builder
        .build()
        .map_err(|e| Usage(format!("configuration error: {e}")))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start: {e}")))?;
    let mut explanation = runtime.block_on(validator.explain(&token));
    for scope in &args.scopes {
        explanation = explanation.require_scope(scope);
    }

    match &args.jwks {
        Some(jwks) => println!("issuer {issuer:?}, keys from {jwks}"),
        None => println!("issuer {issuer:?}, keys by discovery"),
    }
    if from_token {
        println!("(no --issuer given: the issuer is the token's own iss, so iss proves nothing)");
    }
    println!(
        "audience one of {:?}, a token of {} bytes (never shown)",
        args.audiences,
        token.len()
    );
    println!();
    println!("{explanation}");
    Ok(if explanation.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Parsed, Usage> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn options_take_their_value_inline_or_next_and_repeat() {
        let Ok(Parsed::Run(a)) = args("--issuer=https://i --audience a --audience=b --scope s tok")
        else {
            panic!("parses");
        };
        assert_eq!(a.issuer.as_deref(), Some("https://i"));
        assert_eq!(a.audiences, ["a", "b"]);
        assert_eq!(a.scopes, ["s"]);
        assert_eq!(a.token.as_deref(), Some("tok"));
    }

    #[test]
    fn usage_errors_name_the_problem() {
        for (line, message) in [
            ("--audience a tok", "--issuer or --jwks"),
            ("--issuer https://i tok", "--audience"),
            ("--issuer https://i --audience", "--audience needs"),
            ("--issuer https://i --audience a --leeway soon", "--leeway"),
            (
                "--issuer https://i --audience a --frobnicate",
                "unknown option",
            ),
            (
                "--issuer https://i --audience a one two",
                "more than one token",
            ),
        ] {
            match args(line) {
                Err(Usage(m)) => assert!(m.contains(message), "{line}: {m}"),
                Ok(_) => panic!("{line} must be refused"),
            }
        }
    }

    #[test]
    fn a_pasted_authorization_value_is_a_token() {
        assert_eq!(
            read_token(Some("  Bearer a.b.c \n".into())).ok().as_deref(),
            Some("a.b.c")
        );
        assert!(read_token(Some("Bearer ".into())).is_err());
    }
}
