//! Where runs store their manifests: the embedded S3 server (default) or a real S3 bucket.
//!
//! [`Backend::start`] starts the one [`BackendChoice`] names (read from the environment by
//! [`crate::config::Settings`]).
//! Every run gets its own prefix from [`Backend::new_prefix`].
//!
//! For a simulated world, [`SimS3`] is an in-process store with the behaviour fusio's S3 client
//! shows against the embedded server; both keep their objects in the one
//! [`object_model::ObjectModel`]. [`StoreFs`] holds either fusio's S3 client or a [`SimS3`], so
//! one manifest type covers both worlds.

pub mod embedded;
pub mod object_model;
pub mod preflight;
pub mod sim_store;
pub mod store_fs;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fusio::remotes::aws::fs::{AmazonS3, AmazonS3Builder};
use fusio::remotes::aws::AwsCredential;

use crate::config_error::ConfigError;
pub use embedded::EmbeddedServer;
pub use object_model::FaultMode;
pub use sim_store::{SimS3, SimStoreMode};
pub use store_fs::StoreFs;

/// Region used for a real S3 backend when `AWS_REGION` is unset.
pub const DEFAULT_REGION: &str = "ap-southeast-1";

/// Connection settings for one S3 endpoint and bucket. Its `Debug` output leaves the secret
/// key and session token out.
#[derive(Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Region to sign for.
    pub region: String,
    /// Custom endpoint (path-style), e.g. MinIO or the embedded server.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Optional session token.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl S3Settings {
    /// Builds a fusio `AmazonS3` client with static credentials (never the default chain, so
    /// no metadata endpoint is probed). Takes ~80 ms for TLS setup: build before spawning.
    pub fn fusio_client(&self) -> AmazonS3 {
        let mut builder = AmazonS3Builder::new(self.bucket.clone())
            .region(self.region.clone())
            .credential(AwsCredential {
                key_id: self.access_key.clone(),
                secret_key: self.secret_key.clone(),
                token: self.session_token.clone(),
            })
            .sign_payload(true);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.endpoint(endpoint.clone());
        }
        builder.build()
    }
}

/// Which kind of store a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The in-process S3 server on 127.0.0.1.
    Embedded,
    /// AWS S3 or an S3-compatible server.
    S3,
    /// No server: every simulated run gets a fresh in-process store ([`SimS3`]).
    Simulated,
}

impl BackendKind {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::S3 => "s3",
            Self::Simulated => "simulated",
        }
    }
}

/// Reads the S3 server's requests in flight (the embedded server's gauge; the host probe
/// samples it).
pub type InFlight = Arc<dyn Fn() -> usize + Send + Sync>;

/// Which store runs use (`FUSIO_CHAOS_BACKEND`, else `s3` when AWS keys are set).
#[derive(Clone, Debug)]
pub enum BackendChoice {
    /// The in-process S3 server on 127.0.0.1.
    Embedded,
    /// A real bucket (AWS S3 or an S3-compatible server).
    S3(S3Settings),
}

/// A store that runs can create manifests in.
pub struct Backend {
    kind: BackendKind,
    settings: S3Settings,
    server: Option<EmbeddedServer>,
}

impl Backend {
    /// Starts the backend `choice` names. For `s3`, runs the [`preflight`] checks first and
    /// refuses a bucket whose results would be meaningless.
    pub async fn start(choice: &BackendChoice) -> Result<Self, BackendError> {
        match choice {
            BackendChoice::Embedded => Self::embedded().await,
            BackendChoice::S3(settings) => Self::s3(settings.clone()).await,
        }
    }

    /// Starts an embedded S3 server on 127.0.0.1.
    pub async fn embedded() -> Result<Self, BackendError> {
        let server = EmbeddedServer::start()
            .await
            .map_err(|e| BackendError::Start(format!("embedded S3 server: {e}")))?;
        let (access_key, secret_key) = server.credentials();
        let settings = S3Settings {
            bucket: embedded::EMBEDDED_BUCKET.to_string(),
            region: embedded::EMBEDDED_REGION.to_string(),
            endpoint: Some(server.endpoint()),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            session_token: None,
        };
        Ok(Self {
            kind: BackendKind::Embedded,
            settings,
            server: Some(server),
        })
    }

    /// No server and no bucket: for invocations whose runs are all simulated, each on a fresh
    /// in-process store ([`RunStore::simulated`]). Its [`S3Settings`] name no bucket anyone
    /// can reach: the endpoint is a closed port on 127.0.0.1, so a client built from them by
    /// mistake fails at once instead of reaching out.
    pub fn simulated() -> Self {
        Self {
            kind: BackendKind::Simulated,
            settings: S3Settings {
                bucket: "simulated".into(),
                region: embedded::EMBEDDED_REGION.to_string(),
                endpoint: Some("http://127.0.0.1:9".into()),
                access_key: "simulated".into(),
                secret_key: "simulated".into(),
                session_token: None,
            },
            server: None,
        }
    }

    /// The store a run of this backend uses: S3 over HTTP, or for the simulated backend a
    /// fresh in-process store (replayable only inside [`crate::world::sim::run`]).
    pub fn run_store(&self) -> RunStore {
        if self.kind == BackendKind::Simulated {
            return RunStore::simulated(SimStoreMode::default());
        }
        RunStore::S3 {
            settings: self.settings.clone(),
            in_flight: self
                .server
                .as_ref()
                .map(|s| Arc::new(s.in_flight_reader()) as InFlight),
        }
    }

    /// Uses a real bucket after the [`preflight`] checks pass.
    pub async fn s3(settings: S3Settings) -> Result<Self, BackendError> {
        preflight::run(&settings).await?;
        Ok(Self {
            kind: BackendKind::S3,
            settings,
            server: None,
        })
    }

    /// Which kind of backend this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Endpoint, bucket and credentials.
    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    /// The embedded server, when this backend is embedded.
    pub fn embedded_server(&self) -> Option<&EmbeddedServer> {
        self.server.as_ref()
    }

    /// A one-line description for run headers, e.g. `embedded (http://127.0.0.1:41234)`.
    pub fn describe(&self) -> String {
        match self.kind {
            BackendKind::Embedded => format!(
                "embedded S3 server ({})",
                self.settings.endpoint.as_deref().unwrap_or("?")
            ),
            BackendKind::Simulated => "simulated in-process S3 store, one per run".to_string(),
            BackendKind::S3 => format!(
                "s3 bucket {} in {}{}",
                self.settings.bucket,
                self.settings.region,
                self.settings
                    .endpoint
                    .as_ref()
                    .map(|e| format!(" via {e}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// A fresh prefix `perf-test-{name}-{unix_ts}-{random}` (no trailing slash).
    pub fn new_prefix(&self, name: &str) -> String {
        new_prefix(name)
    }
}

/// A fresh prefix `perf-test-{name}-{unix_ts}-{random}x`.
///
/// fusio drops trailing slashes when listing, so listing `a/` also returns `ab/...`: no prefix
/// may be a string prefix of another. The random part is 16 hex digits (8 random, 8 from a
/// process-wide counter) closed by `x`, and the name cannot contain `/`, so two prefixes made
/// here never share their first `/`-separated segment and neither lists the other's objects.
// A shared bucket needs a prefix no other run has: the host's time and OS randomness.
#[allow(clippy::disallowed_methods)]
pub fn new_prefix(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: u32 = rand::random();
    format!("perf-test-{}-{ts}-{random:08x}{n:08x}x", clean_name(name))
}

/// `name` with every character but ASCII letters, digits and `-` replaced by `_`.
fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where one run's manifests live.
#[derive(Clone)]
pub enum RunStore {
    /// S3 over HTTP: the embedded server (with its requests-in-flight gauge) or a bucket.
    S3 {
        /// Endpoint, bucket and credentials.
        settings: S3Settings,
        /// The embedded server's requests-in-flight gauge (`None` on real S3).
        in_flight: Option<InFlight>,
    },
    /// A simulated run's own in-process store.
    Simulated(SimS3),
}

impl RunStore {
    /// A fresh, empty in-process store answering as `mode`, whose objects take their times
    /// from the run's clock.
    pub fn simulated(mode: SimStoreMode) -> Self {
        Self::Simulated(SimS3::with_mode_and_clock(
            mode,
            Arc::new(crate::world::clock::system_time),
        ))
    }

    /// A client of this store for one manifest (for S3: a new HTTP client, ~80 ms).
    pub fn client(&self) -> StoreFs {
        match self {
            Self::S3 { settings, .. } => StoreFs::S3(settings.fusio_client()),
            Self::Simulated(sim) => StoreFs::Sim(sim.clone()),
        }
    }

    /// Whether this is a simulated run's store.
    pub fn is_simulated(&self) -> bool {
        matches!(self, Self::Simulated(_))
    }

    /// The simulated store, if this is one.
    pub fn sim(&self) -> Option<&SimS3> {
        match self {
            Self::Simulated(sim) => Some(sim),
            Self::S3 { .. } => None,
        }
    }

    /// The embedded server's requests-in-flight gauge, for the host probe.
    pub fn in_flight(&self) -> Option<InFlight> {
        match self {
            Self::S3 { in_flight, .. } => in_flight.clone(),
            Self::Simulated(_) => None,
        }
    }

    /// A prefix for run `name`: fresh and unique on S3 ([`new_prefix`]); on a simulated run's
    /// own store, a fixed one (`perf-test-{name}-simx`), so keys replay exactly.
    pub fn new_prefix(&self, name: &str) -> String {
        match self {
            Self::S3 { .. } => new_prefix(name),
            Self::Simulated(_) => format!("perf-test-{}-simx", clean_name(name)),
        }
    }
}

/// Why a backend could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A bad or missing environment variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The backend could not start or be reached.
    #[error("cannot start backend: {0}")]
    Start(String),
    /// The bucket failed the preflight; results would be meaningless.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
}
