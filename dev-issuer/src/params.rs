//! Request parameters as RFC 6749 3.1 and 3.2 read them.

use axum::Form;
use axum::extract::rejection::FormRejection;

use crate::errors::OAuthError;

/// Request parameters, in order, duplicates kept so that they can be refused.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The parameters of a form-encoded POST body (the token and introspection endpoints),
    /// refused as `invalid_request` when the body is not a form or repeats a parameter.
    pub(crate) fn from_form(
        form: Result<Form<Vec<(String, String)>>, FormRejection>,
    ) -> Result<Params, OAuthError> {
        let Ok(Form(pairs)) = form else {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        };
        let params = Params(pairs);
        if let Some(name) = params.duplicated() {
            return Err(OAuthError::invalid_request(format!(
                "{name} is given more than once"
            )));
        }
        Ok(params)
    }

    /// The value of `name`; "parameters sent without a value MUST be treated as if they
    /// were omitted" (RFC 6749 3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == name).count()
    }

    /// The first parameter given more than once: "request and response parameters MUST
    /// NOT be included more than once" (RFC 6749 3.1, 3.2).
    pub(crate) fn duplicated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !seen.insert(*n))
    }
}
