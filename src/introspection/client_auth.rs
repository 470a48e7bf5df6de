//! How the resource server authenticates to the introspection endpoint (RFC 7662
//! section 2.1 requires some authentication; RFC 6749 section 2.3.1 defines the two
//! methods here).

use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::http::form_urlencode;

/// How the resource server authenticates to the introspection endpoint (RFC 7662
/// section 2.1 requires some authentication; RFC 6749 section 2.3.1 defines these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded client id and secret (the default; the
    /// method every server must support).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// The client the resource server is at the introspection endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    /// Redacted in `Debug`; exposed only to build the request.
    pub(crate) client_secret: SecretString,
    pub(crate) auth: ClientAuth,
}

impl Credentials {
    /// Authenticates `request`, whose form is `form`, as RFC 6749 section 2.3.1 says for
    /// the configured method. `None`: the credentials cannot be put in a header.
    pub(super) fn authenticate<'a>(
        &'a self,
        request: RequestBuilder,
        form: &mut Vec<(&str, &'a str)>,
    ) -> Option<RequestBuilder> {
        match self.auth {
            ClientAuth::ClientSecretBasic => {
                let credentials = format!(
                    "{}:{}",
                    form_urlencode(&self.client_id),
                    form_urlencode(self.client_secret.expose_secret())
                );
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                // Sensitive, as `RequestBuilder::basic_auth` marks it: kept out of
                // debug output and of HTTP/2 header compression tables.
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
                value.set_sensitive(true);
                Some(request.header(AUTHORIZATION, value))
            }
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", self.client_secret.expose_secret()));
                Some(request)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(auth: ClientAuth) -> Credentials {
        Credentials {
            client_id: "my api".into(),
            client_secret: "s:cret".into(),
            auth,
        }
    }

    #[test]
    fn basic_puts_the_encoded_pair_in_a_sensitive_header_and_post_in_the_form() {
        let client = reqwest::Client::new();
        let basic = credentials(ClientAuth::ClientSecretBasic);
        let mut form = vec![("token", "t")];
        let request = basic
            .authenticate(client.post("https://issuer.example/introspect"), &mut form)
            .unwrap()
            .build()
            .unwrap();
        let header = &request.headers()[AUTHORIZATION];
        assert!(header.is_sensitive());
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode("my+api:s%3Acret");
        assert_eq!(header.to_str().unwrap(), format!("Basic {encoded}"));
        assert_eq!(form, [("token", "t")], "nothing secret in the form");

        let post = credentials(ClientAuth::ClientSecretPost);
        let mut form = vec![("token", "t")];
        let request = post
            .authenticate(client.post("https://issuer.example/introspect"), &mut form)
            .unwrap()
            .build()
            .unwrap();
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(
            form,
            [
                ("token", "t"),
                ("client_id", "my api"),
                ("client_secret", "s:cret")
            ]
        );
    }
}
