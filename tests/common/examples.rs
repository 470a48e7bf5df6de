//! Starting the BUILT example binaries (`cargo test` builds them next to the test binary)
//! and waiting until they listen: shared by the contract and resource-metadata suites.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Every example that follows the contract.
pub const EXAMPLES: &[&str] = &["axum_api", "actix_api"];

/// How long an example may take to start listening (generous: a cold, busy machine).
pub const STARTUP: Duration = Duration::from_secs(60);

/// `cargo test` builds the examples next to the test binaries: target/<profile>/examples.
pub fn example_path(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

/// A command for the example `name` on 127.0.0.1:0, with none of the developer's own
/// `TOKENGATE_*` settings, stdout piped (for the `listening on` line).
pub fn example_command(name: &str) -> Command {
    let mut command = Command::new(example_path(name));
    for (var, _) in std::env::vars() {
        if var.starts_with("TOKENGATE_") {
            command.env_remove(var);
        }
    }
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Spawns `command` (logs to the test's stderr) and waits for `listening on URL`;
/// returns the URL, the rest of stdout, and the child (killed when dropped).
pub async fn spawn_listening(
    name: &str,
    mut command: Command,
) -> (String, Lines<BufReader<ChildStdout>>, Child) {
    let mut child = command
        .stderr(Stdio::inherit())
        .env("RUST_LOG", "tokengate=info")
        .spawn()
        .expect("spawn example");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(STARTUP, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("{name} exited before listening");
    })
    .await
    .expect("example did not start in time");
    (base, lines, child)
}
