//! Two servers on 127.0.0.1 with the same routes, one per adapter (axum through
//! `tokengate-tower`, actix-web through `tokengate-actix`), and a client that asks both
//! and asserts they answer alike: status, challenge, content type and body. For the
//! policy, rejection-body and cookie suites, whose routes differ from the examples'.

use std::time::Duration;

use super::{Reply, reply};

/// The routes of one actix app, as a `configure` callback.
pub type ActixRoutes = std::sync::Arc<dyn Fn(&mut actix_web::web::ServiceConfig) + Send + Sync>;

/// Both servers, stopped when dropped.
pub struct Both {
    pub axum: String,
    pub actix: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Both {
    fn drop(&mut self) {
        self.server.abort();
        drop(self.handle.stop(false));
    }
}

/// Serves `router` with axum and `routes` with actix-web.
pub async fn serve_both(router: axum::Router, routes: ActixRoutes) -> Both {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix = format!("http://{}", std_listener.local_addr().unwrap());
    let actix_server = actix_web::HttpServer::new(move || {
        let routes = routes.clone();
        actix_web::App::new().configure(move |cfg| routes(cfg))
    })
    .workers(1)
    .disable_signals()
    .listen(std_listener)
    .unwrap()
    .run();
    let handle = actix_server.handle();
    tokio::spawn(actix_server);
    Both {
        axum,
        actix,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        server,
        handle,
    }
}

/// What a reply says, for comparing the adapters.
fn seen(
    reply: &Reply,
    content_type: &Option<String>,
) -> (u16, Option<String>, Option<String>, String) {
    (
        reply.status,
        reply.challenge.clone(),
        content_type.clone(),
        reply.body.clone(),
    )
}

impl Both {
    /// GET `path` with `Authorization: Bearer {token}`, from both; axum's reply.
    pub async fn bearer(&self, path: &str, token: &str) -> Reply {
        let header = format!("Bearer {token}");
        self.get(path, &[("authorization", &header)]).await.0
    }

    /// GET `path` with these raw headers from both adapters; asserts they agree on status,
    /// challenge, content type and body. Axum's reply and content type.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (Reply, Option<String>) {
        let (axum, axum_type) = self.send(&self.axum, path, headers).await;
        let (actix, actix_type) = self.send(&self.actix, path, headers).await;
        assert_eq!(
            seen(&axum, &axum_type),
            seen(&actix, &actix_type),
            "the adapters disagree on GET {path} {headers:?}"
        );
        (axum, axum_type)
    }

    async fn send(
        &self,
        base: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (Reply, Option<String>) {
        let mut request = self.client.get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        (reply(response).await, content_type)
    }
}
