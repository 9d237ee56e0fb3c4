//! meshroute's resource model: every Kuma resource kind MeshTCPRoute needs, read and written in Kuma's
//! Universal and Kubernetes forms, and validated with Kuma's exact field paths and messages.
//!
//! ```text
//!  YAML / JSON text ─► node (positions) ─► format (Universal | Kubernetes envelope) ─► Resource
//!                                                                                      │
//!        Kind descriptors (wire name, REST path, short name, scope) ◄── every layer ───┤
//!                                                                                      ▼
//!                                          validate ─► Report { errors: [path: message], warnings }
//! ```
//!
//! Later layers (policy engine, Envoy generation, store, API, CLI) read these types and the descriptors;
//! nothing downstream re-validates.

pub mod common;
pub mod defaults;
pub mod format;
pub mod kind;
pub mod kinds;
pub mod kri;
pub mod node;
mod open_enum;
pub mod path;
pub mod resource;
pub mod schema;
pub mod validate;

pub use common::{BackendRef, Tags, TargetRef, TargetRefKind};
pub use format::{Format, ParseError, ParsedResource, parse_resources, to_format, to_kubernetes, to_universal};
pub use kind::{Kind, KindDescriptor, Spec};
pub use path::{FieldPath, Violation, Violations};
pub use resource::{Meta, Resource};
pub use validate::{Report, Valid, validate};
