//! Finds the protobuf descriptor set that `envoy-types` generated its code from and copies it into
//! OUT_DIR: JSON rendering and deterministic encoding read it. The crate ships the file but does not
//! export it, so it is looked up in cargo's registry sources, at the exact version the workspace pins.

use std::path::PathBuf;

const ENVOY_TYPES: &str = "envoy-types-0.7.7";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let registry = cargo_home.join("registry").join("src");
    let found = std::fs::read_dir(&registry)
        .into_iter()
        .flatten()
        .flatten()
        .map(|index| index.path().join(ENVOY_TYPES).join("src/generated/types.bin"))
        .find(|p| p.is_file());
    let Some(source) = found else {
        panic!("{ENVOY_TYPES}/src/generated/types.bin not found under {}", registry.display());
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("envoy_types.bin");
    std::fs::copy(&source, &out).expect("copy the descriptor set");
    println!("cargo:rerun-if-changed={}", source.display());
}
