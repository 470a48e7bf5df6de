//! A load driver for the HTTP benchmark (`bench/http.sh`) that never sleeps.
//!
//! `wrk` waits in `epoll_wait` whenever it has caught up with the server, so on loopback
//! every response the server writes has to wake it: the wake-up (an inter-processor
//! interrupt, expensive in a VM) runs inside the *server's* `writev` and is charged to the
//! server. The slower the route, the more often `wrk` is asleep when its answer comes, so
//! the cost lands unevenly: `perf` on `axum_api` measured `sock_def_readable` at 0.23 µs per
//! `/health` request and 3.1 µs per fully verified one. This driver keeps every
//! connection's socket non-blocking and spins over them on its own core, so it is always
//! running when a response arrives and the server pays only for its own work, as it would
//! with clients on other machines.
//!
//! One request in flight per connection (like `wrk`), HTTP/1.1 keep-alive, responses
//! framed by `Content-Length`. Anything but `200` is counted and makes the run fail, so a
//! rejected token cannot pass for a fast route.
//!
//! ```text
//! bench_load URL CONNECTIONS SECONDS [--header "Name: value"]... [--tokens FILE]
//!            [--in-order] [--requests N] [--lines FILE]
//! ```
//! `--tokens FILE` sends `Authorization: Bearer <line>` with a line picked at random per
//! request (`--in-order`: the lines in order, wrapping around). `--lines FILE` adds one
//! line's headers to each request (`Name: value`, several separated by tabs), the lines
//! in order and each exactly once: for credentials that are single-use, like DPoP proofs
//! (the replay store refuses a `jti` twice). The run fails when they run out, rather
//! than reuse one. `--requests N` stops after
//! N answered requests (or SECONDS, whichever comes first): bench/instructions.sh counts a
//! known number of requests. Prints `requests N seconds S rps R p50_us P p99_us Q`: the latency of each
//! request from its first byte written to its response's last byte read.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One keep-alive connection and where it stands in its request/response cycle.
struct Connection {
    stream: TcpStream,
    request: Vec<u8>,
    written: usize,
    response: Vec<u8>,
    sent: Instant,
}

struct Settings {
    host: String,
    path: String,
    connections: usize,
    duration: Duration,
    headers: Vec<String>,
    tokens: Vec<String>,
    in_order: bool,
    requests: Option<u64>,
    /// `--lines`: each request's own headers, tab-separated, each line used once.
    lines: Option<Vec<String>>,
}

fn main() {
    let settings = parse_args().unwrap_or_else(|message| {
        eprintln!("bench_load: {message}");
        eprintln!(
            "usage: bench_load URL CONNECTIONS SECONDS [--header \"Name: value\"]... [--tokens FILE] [--in-order] [--requests N] [--lines FILE]"
        );
        std::process::exit(2);
    });
    match run(&settings) {
        Ok((requests, elapsed, mut latencies)) => {
            let seconds = elapsed.as_secs_f64();
            latencies.sort_unstable();
            println!(
                "requests {requests} seconds {seconds:.3} rps {:.2} p50_us {} p99_us {}",
                requests as f64 / seconds,
                percentile(&latencies, 50),
                percentile(&latencies, 99),
            );
        }
        Err(message) => {
            eprintln!("bench_load: {message}");
            std::process::exit(1);
        }
    }
}

/// The `p`th percentile of sorted microseconds (0 when nothing completed).
fn percentile(sorted: &[u32], p: usize) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn parse_args() -> Result<Settings, String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("no URL")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("the URL must start with http://")?;
    let (host, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let number = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{what} must be a number"))
    };
    let connections = number(args.next(), "CONNECTIONS")? as usize;
    let duration = Duration::from_secs(number(args.next(), "SECONDS")?);
    let (mut headers, mut tokens) = (Vec::new(), Vec::new());
    let (mut in_order, mut requests, mut lines) = (false, None, None);
    while let Some(flag) = args.next() {
        if flag == "--in-order" {
            in_order = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--header" => headers.push(value),
            "--tokens" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?;
                tokens = text.lines().map(str::to_owned).collect();
                if tokens.is_empty() {
                    return Err(format!("{value} has no tokens"));
                }
            }
            "--requests" => requests = Some(number(Some(value), "--requests")?),
            "--lines" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?;
                let all: Vec<String> = text.lines().map(str::to_owned).collect();
                if all.is_empty() {
                    return Err(format!("{value} has no lines"));
                }
                lines = Some(all);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if connections == 0 {
        return Err("CONNECTIONS must be at least 1".into());
    }
    Ok(Settings {
        host: host.to_owned(),
        path: path.to_owned(),
        connections,
        duration,
        headers,
        tokens,
        in_order,
        requests,
        lines,
    })
}

/// A small xorshift generator: picking tokens needs speed, not quality.
struct Rng(u64);

/// Which token the next request carries: at random, or the next in order; and the next
/// unused `--lines` line.
struct Picker {
    rng: Rng,
    in_order: bool,
    next: usize,
    line: usize,
}

impl Picker {
    fn pick(&mut self, n: usize) -> usize {
        if self.in_order {
            self.next = self.next.wrapping_add(1) % n;
            self.next
        } else {
            self.rng.below(n)
        }
    }
}

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Writes the next request into `out`; an error once the `--lines` are used up.
fn request(settings: &Settings, picker: &mut Picker, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    let mut text = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n",
        settings.path, settings.host
    );
    for header in &settings.headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if !settings.tokens.is_empty() {
        let token = &settings.tokens[picker.pick(settings.tokens.len())];
        text.push_str("Authorization: Bearer ");
        text.push_str(token);
        text.push_str("\r\n");
    }
    if let Some(lines) = &settings.lines {
        let line = lines.get(picker.line).ok_or_else(|| {
            format!(
                "the {} --lines ran out: each is sent once (a single-use credential sent twice \
                 would be refused); give more lines or a shorter run",
                lines.len()
            )
        })?;
        picker.line += 1;
        for header in line.split('\t') {
            text.push_str(header);
            text.push_str("\r\n");
        }
    }
    text.push_str("\r\n");
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The length of the first complete response in `buffer`, if there is one; an error for
/// a status other than 200 or a response without `Content-Length`.
fn complete_response(buffer: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..end]).map_err(|_| "response head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("unexpected response: {status}"));
    }
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or("response without Content-Length")?;
    let total = end + 4 + length;
    Ok((buffer.len() >= total).then_some(total))
}

fn run(settings: &Settings) -> Result<(u64, Duration, Vec<u32>), String> {
    let mut rng = Picker {
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        in_order: settings.in_order,
        next: usize::MAX,
        line: 0,
    };
    let mut connections = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        let stream = TcpStream::connect(&settings.host).map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut connection = Connection {
            stream,
            request: Vec::new(),
            written: 0,
            response: Vec::with_capacity(4096),
            sent: Instant::now(),
        };
        request(settings, &mut rng, &mut connection.request)?;
        connections.push(connection);
    }
    let mut chunk = vec![0u8; 64 * 1024];
    let mut completed = 0u64;
    let mut latencies = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    for c in &mut connections {
        c.sent = start;
    }
    let deadline = start + settings.duration;
    let mut sweeps = 0u32;
    loop {
        sweeps = sweeps.wrapping_add(1);
        if sweeps % 64 == 0 && Instant::now() >= deadline {
            break;
        }
        if settings.requests.is_some_and(|limit| completed >= limit) {
            break;
        }
        for c in &mut connections {
            if c.written < c.request.len() {
                match c.stream.write(&c.request[c.written..]) {
                    Ok(0) => return Err("connection closed by the server".into()),
                    Ok(n) => c.written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("write: {e}")),
                }
                continue;
            }
            match c.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed by the server".into()),
                Ok(n) => c.response.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("read: {e}")),
            }
            if let Some(length) = complete_response(&c.response)? {
                if length != c.response.len() {
                    return Err("more bytes than one response: the server pipelined?".into());
                }
                c.response.clear();
                completed += 1;
                let now = Instant::now();
                let micros = now.duration_since(c.sent).as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                c.sent = now;
                request(settings, &mut rng, &mut c.request)?;
                c.written = 0;
            }
        }
    }
    Ok((completed, start.elapsed(), latencies))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Picker, Rng, Settings, complete_response, percentile, request};

    #[test]
    fn lines_are_sent_in_order_each_once_then_the_run_fails() {
        let settings = Settings {
            host: "127.0.0.1:1".into(),
            path: "/me".into(),
            connections: 1,
            duration: Duration::from_secs(1),
            headers: vec!["Authorization: DPoP t".into()],
            tokens: Vec::new(),
            in_order: false,
            requests: None,
            lines: Some(vec!["DPoP: one".into(), "DPoP: two\tX-Extra: 2".into()]),
        };
        let mut picker = Picker {
            rng: Rng(1),
            in_order: false,
            next: 0,
            line: 0,
        };
        let mut out = Vec::new();
        request(&settings, &mut picker, &mut out).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /me HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: DPoP t\r\nDPoP: one\r\n\r\n"
        );
        request(&settings, &mut picker, &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).ends_with("DPoP: two\r\nX-Extra: 2\r\n\r\n"));
        let exhausted = request(&settings, &mut picker, &mut out).unwrap_err();
        assert!(exhausted.contains("ran out"), "{exhausted}");
    }

    #[test]
    fn percentiles_pick_from_the_sorted_latencies() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50), 51);
        assert_eq!(percentile(&sorted, 99), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn frames_by_content_length_and_refuses_other_statuses() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(complete_response(ok), Ok(Some(ok.len())));
        assert_eq!(complete_response(&ok[..ok.len() - 1]), Ok(None));
        assert!(
            complete_response(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").is_err()
        );
        assert!(complete_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}
