//! A small hostile HTTP/1.1 server for tests: it records every request it receives and answers
//! each one as the test's handler says: raw bytes of its own, the sandbox's answer (forwarded,
//! optionally with extra headers or a replaced body), or a dropped connection.
//!
//! Written on std sockets and threads rather than hyper: a hostile store must be able to send
//! what no well-behaved server library would (`X-Retry-After: 1e30`, a streamed gzip bomb, a
//! connection closed after the store committed), byte for byte.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request had arrived whole (to see how a client paces its requests).
    pub at: Instant,
}

impl Recorded {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
    /// Request line and headers as text, as a store quoting the request would show them.
    pub fn head_text(&self) -> String {
        let mut s = format!("{} {}", self.method, self.target);
        for (k, v) in &self.headers {
            s.push_str(&format!("; {k}: {v}"));
        }
        s
    }
}

/// What the server does with one request.
pub enum Action {
    /// Send these bytes (a whole HTTP response) and close.
    Raw(Vec<u8>),
    /// Forward to the upstream (the sandbox) and pass its answer back unchanged.
    Forward,
    /// Forward, and add these headers to the answer.
    ForwardWithHeaders(Vec<(String, String)>),
    /// Forward (the store commits), then answer with this status and body instead.
    ForwardThenReplace(u16, Vec<u8>),
    /// Forward (the store commits), then close the connection without an answer.
    ForwardThenDrop,
    /// Forward with this target (path and query) instead of the one sent: a store that
    /// ignores a filter is the sandbox asked without it.
    ForwardTo(String),
    /// Forward (the store commits), then answer with the same status and the body the
    /// function makes of the store's (a batch answer reordered, shortened, padded).
    ForwardThenEdit(Edit),
    /// Write the status line and headers, then call the function to stream the body.
    Stream(String, Box<dyn FnOnce(&mut TcpStream) + Send>),
}

type Handler = dyn Fn(&Recorded, usize) -> Action + Send + Sync;

/// What [`Action::ForwardThenEdit`] makes of the store's answer body.
pub type Edit = Box<dyn FnOnce(&[u8]) -> Vec<u8> + Send>;

pub struct Hostile {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// Listen on `ip:0` (127.0.0.1, or 127.0.0.2 for a second origin: all of 127/8 is
    /// loopback on Linux). `handler` gets each request and its 0-based number.
    pub fn start(
        ip: &str,
        upstream: Option<SocketAddr>,
        handler: impl Fn(&Recorded, usize) -> Action + Send + Sync + 'static,
    ) -> Hostile {
        let listener = TcpListener::bind((ip, 0)).expect("binding the hostile server");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let requests = requests.clone();
                    let handler = handler.clone();
                    std::thread::spawn(move || serve(conn, upstream, &requests, &*handler));
                }
            });
        }
        Hostile {
            addr,
            requests,
            stop,
        }
    }

    /// A server that answers everything with `answer` (for a second origin, which must
    /// receive nothing).
    pub fn recorder(ip: &str) -> Hostile {
        Hostile::start(ip, None, |_, _| Action::Raw(response(200, &[], b"[]")))
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// A whole HTTP response with `Content-Length` and `Connection: close`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Hostile\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// A JSON response.
pub fn json(status: u16, body: &str) -> Vec<u8> {
    response(
        status,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn serve(
    mut conn: TcpStream,
    upstream: Option<SocketAddr>,
    requests: &Mutex<Vec<Recorded>>,
    handler: &Handler,
) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let no = {
        let mut all = requests.lock().unwrap();
        all.push(req.clone());
        all.len() - 1
    };
    match handler(&req, no) {
        Action::Raw(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Action::Forward => {
            let answer = forward(&req, upstream.expect("an upstream to forward to"));
            let _ = conn.write_all(&answer);
        }
        Action::ForwardWithHeaders(extra) => {
            let answer = forward(&req, upstream.expect("an upstream to forward to"));
            let at = find(&answer, b"\r\n").expect("a status line");
            let mut out = answer[..at + 2].to_vec();
            for (k, v) in extra {
                out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            out.extend_from_slice(&answer[at + 2..]);
            let _ = conn.write_all(&out);
        }
        Action::ForwardThenReplace(status, body) => {
            forward(&req, upstream.expect("an upstream to forward to"));
            let _ = conn.write_all(&response(
                status,
                &[("Content-Type", "application/json")],
                &body,
            ));
        }
        Action::ForwardThenDrop => {
            forward(&req, upstream.expect("an upstream to forward to"));
        }
        Action::ForwardTo(target) => {
            let req = Recorded { target, ..req };
            let answer = forward(&req, upstream.expect("an upstream to forward to"));
            let _ = conn.write_all(&answer);
        }
        Action::ForwardThenEdit(edit) => {
            let answer = forward(&req, upstream.expect("an upstream to forward to"));
            let (status, body) = answer_parts(&answer);
            let _ = conn.write_all(&response(
                status,
                &[("Content-Type", "application/json")],
                &edit(&body),
            ));
        }
        Action::Stream(head, body) => {
            if conn.write_all(head.as_bytes()).is_ok() {
                body(&mut conn);
            }
        }
    }
    let _ = conn.flush();
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_request(conn: &mut TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    })
}

/// The status and the (de-chunked) body of a whole HTTP/1.1 answer.
pub fn answer_parts(answer: &[u8]) -> (u16, Vec<u8>) {
    let at = find(answer, b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&answer[..at]).to_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut body = answer[at + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut whole = Vec::new();
        let mut rest = &body[..];
        while let Some(end) = find(rest, b"\r\n") {
            let size_text = String::from_utf8_lossy(&rest[..end]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("a chunk size");
            if size == 0 {
                break;
            }
            whole.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 2 + size + 2..];
        }
        body = whole;
    }
    (status, body)
}

/// Send the request to the upstream with `Connection: close` and return its whole answer.
fn forward(req: &Recorded, upstream: SocketAddr) -> Vec<u8> {
    let mut up = TcpStream::connect(upstream).expect("connecting to the upstream");
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target).into_bytes();
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("accept-encoding") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out).unwrap();
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).unwrap();
    answer
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The child's peak resident memory, in KiB (Linux `ru_maxrss`).
    pub max_rss_kib: i64,
}

impl Outcome {
    pub fn expect(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// `VmHWM` of a running process, in KiB (None once it has exited).
fn vm_hwm_kib(pid: libc::pid_t) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `cmd`, killing it after `limit` (a stalled run fails the test instead of hanging it),
/// and measure its peak memory.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Outcome {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let done = Arc::new(AtomicBool::new(false));
    // Peak memory from the child's own VmHWM (the high-water mark of the program after exec),
    // sampled while it runs: wait4's ru_maxrss also counted the test process's pages that the
    // child had before its exec, and read 100-230 MiB for a run that reads 4 KiB once the
    // test binary itself had grown (the whole suite at once). VmHWM only rises, so the last
    // sample is the peak but for the few ms before exit.
    let peak_kib = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let killer = {
        let done = done.clone();
        let peak_kib = peak_kib.clone();
        std::thread::spawn(move || {
            while started.elapsed() < limit {
                if done.load(Ordering::SeqCst) {
                    return false;
                }
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak_kib.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            // Only this child, by its own pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "waiting for the binary");
    done.store(true, Ordering::SeqCst);
    let killed = killer.join().unwrap();
    let outcome = Outcome {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
        max_rss_kib: peak_kib.load(Ordering::SeqCst),
    };
    // The child was reaped by wait4; forget it without waiting again.
    std::mem::forget(child);
    assert!(
        !killed,
        "still running after {limit:?} (stalled?)\n--- stdout\n{}\n--- stderr\n{}",
        outcome.stdout, outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("panicked"),
        "panic:\n{}",
        outcome.stderr
    );
    outcome
}
