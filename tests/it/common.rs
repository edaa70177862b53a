//! Test helpers: a sandbox store on 127.0.0.1:0, a temp working directory, and the real
//! binary run against them. Every run checks that the token never reaches stdout or stderr;
//! every store checks, when dropped, that the collection `DELETE /customers` (or V3's
//! `DELETE /v3/customers` without `id:in`) was never sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bc_customers::sandbox::{Sandbox, SandboxConfig};

pub struct Store {
    pub sb: Sandbox,
    pub dir: tempfile::TempDir,
    pub token: String,
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panic with the whole output unless the exit code is `code`.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A config with a token unique to the test, so a leak cannot go unnoticed.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        token: format!("tok-{:016x}", fastrand::u64(..)),
        ..SandboxConfig::default()
    }
}

impl Store {
    pub fn new(cfg: SandboxConfig) -> Store {
        let token = cfg.token.clone();
        let sb = Sandbox::spawn(cfg).expect("sandbox starts");
        Store {
            sb,
            dir: tempfile::tempdir().unwrap(),
            token,
        }
    }

    pub fn empty() -> Store {
        Store::new(config())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    /// Run the binary in the temp dir with the store's settings in the environment.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    /// The binary with `args`, in the store's directory, pointed at its sandbox (for tests
    /// that start it and stop it themselves).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bc-customers"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BIGCOMMERCE_API_URL", self.sb.base_url())
            .env("BIGCOMMERCE_STORE_HASH", self.sb.store_hash())
            .env("BIGCOMMERCE_ACCESS_TOKEN", &self.token);
        cmd
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        self.run_full(args, stdin, &[])
    }

    /// Run with some environment settings replaced (a wrong token, another store hash).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_full(args, None, env)
    }

    fn run_full(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("binary runs");
        if let Some(input) = stdin {
            use std::io::Write;
            let mut s = child.stdin.take().unwrap();
            s.write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !run.stdout.contains(&self.token) && !run.stderr.contains(&self.token),
            "the access token leaked into the output:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }

    /// A results or export file as rows of column → value (asserting the token is not in it).
    /// Every store customer's id, in the sandbox's order (ascending).
    pub fn ids(&self) -> Vec<u64> {
        self.ids_where(|_| true)
    }

    /// The ids of the store customers (as the API renders them) that `keep` keeps.
    pub fn ids_where(&self, keep: impl Fn(&serde_json::Value) -> bool) -> Vec<u64> {
        self.sb
            .customers()
            .iter()
            .filter(|c| keep(c))
            .map(|c| c["id"].as_u64().unwrap())
            .collect()
    }

    /// What `field` reads of each store customer (as the API renders it), by id.
    pub fn by_id<T>(&self, field: impl Fn(&serde_json::Value) -> T) -> HashMap<u64, T> {
        self.sb
            .customers()
            .iter()
            .map(|c| (c["id"].as_u64().unwrap(), field(c)))
            .collect()
    }

    pub fn csv(&self, name: &str) -> Vec<HashMap<String, String>> {
        read_csv(&self.path(name), &self.token)
    }

    pub fn count(&self, route: &str) -> u64 {
        self.sb.counters().by_route.get(route).copied().unwrap_or(0)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(
                self.sb.counters().collection_deletes,
                0,
                "the collection DELETE /customers was sent"
            );
            assert_eq!(
                self.sb.counters().v3_unfiltered_deletes,
                0,
                "DELETE /v3/customers was sent without id:in"
            );
        }
    }
}

pub fn read_csv(path: &Path, token: &str) -> Vec<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        !text.contains(token),
        "the access token leaked into {}",
        path.display()
    );
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The `_result` column of a results file.
pub fn results_of(rows: &[HashMap<String, String>]) -> Vec<String> {
    rows.iter().map(|r| r["_result"].clone()).collect()
}

pub fn sample(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .unwrap()
}

/// A CSV of `n` new customers with unique emails.
pub fn new_customers_csv(n: usize, tag: &str) -> String {
    let mut s = String::from("email,first_name,last_name,phone,store_credit\n");
    for i in 0..n {
        s.push_str(&format!(
            "{tag}{i}@example.com,First{i},Last{i},555-{i:04},{}.5\n",
            i % 7
        ));
    }
    s
}

/// The store's customer with this email (case-insensitive), if it has one.
pub fn find_customer(store: &Store, email: &str) -> Option<serde_json::Value> {
    store
        .sb
        .customers()
        .into_iter()
        .find(|c| c["email"].as_str().unwrap().eq_ignore_ascii_case(email))
}

/// The store's customer with this email; a test that expects it fails naming it.
pub fn customer(store: &Store, email: &str) -> serde_json::Value {
    find_customer(store, email).unwrap_or_else(|| panic!("no customer {email}"))
}
