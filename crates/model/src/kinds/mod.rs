//! The spec types of every resource kind, one file per family.

pub mod dataplane;
pub mod gateway;
pub mod legacy;
pub mod mesh;
pub mod routes;
pub mod secret;
pub mod services;
