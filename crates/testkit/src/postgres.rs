//! The real PostgreSQL for tests: the server at `MESHROUTE_TEST_POSTGRES_URL` (trust auth, database
//! `test`), and a schema of one's own that is dropped afterwards. `scripts/test` and
//! `scripts/with-postgres` set the variable, starting a throwaway server when none is given; without it
//! the tests try 127.0.0.1:5432. A missing PostgreSQL fails the test.

/// What a test says when the server does not answer.
pub const UNREACHABLE: &str = "no PostgreSQL answers at MESHROUTE_TEST_POSTGRES_URL (default 127.0.0.1:5432); \
                               run the tests through scripts/test or scripts/with-postgres";

pub fn url() -> String {
    std::env::var("MESHROUTE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The server's host and port, from the URL.
pub fn host_port() -> (String, u16) {
    let url = url();
    let authority = url.split_once("://").map_or(url.as_str(), |(_, r)| r).split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
        None => (host_port.to_owned(), 5432),
    }
}

/// The URL with its host and port replaced (to go through a forwarder).
pub fn url_via(port: u16) -> String {
    let url = url();
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{user}127.0.0.1:{port}/{path}")
}

/// A fresh schema name, dropped with its tables when this goes.
pub struct Schema(pub String);

impl Schema {
    pub fn new(test: &str) -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        Self(format!("t_{test}_{}_{nanos}", std::process::id()))
    }

    /// The database URL with this schema as the search path, to reach its tables directly.
    pub fn url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", url(), self.0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        // A thread of its own: the test may be dropping this inside its own runtime.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")))
                        .execute(&pool)
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}
