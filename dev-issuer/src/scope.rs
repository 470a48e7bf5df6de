//! Scopes (RFC 6749 3.3): their syntax, and what a request may be granted.

use crate::errors::OAuthError;

/// RFC 6749 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The scope to grant for a request asking for `requested` (RFC 6749 3.3): all of
/// `allowed` when it names none, else exactly what it names, if all of it is allowed.
pub(crate) fn grant_scope(
    allowed: &[String],
    requested: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut scope: Vec<String> = Vec::new();
    for token in requested.split(' ') {
        if !is_scope_token(token) {
            return Err(OAuthError::invalid_scope(
                "scope must be space-delimited scope tokens (RFC 6749 3.3)",
            ));
        }
        if !allowed.iter().any(|a| a == token) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {token} is not allowed for this client"
            )));
        }
        if !scope.iter().any(|s| s == token) {
            scope.push(token.to_owned());
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_against_the_allowed_ones() {
        let allowed = vec!["read".to_owned(), "admin".to_owned()];
        assert_eq!(grant_scope(&allowed, None).unwrap(), allowed);
        assert_eq!(grant_scope(&allowed, Some("read read")).unwrap(), ["read"]);
        assert_eq!(
            grant_scope(&allowed, Some("write")).unwrap_err().error,
            "invalid_scope"
        );
        assert_eq!(
            grant_scope(&allowed, Some("read  admin"))
                .unwrap_err()
                .error,
            "invalid_scope"
        );
    }
}
