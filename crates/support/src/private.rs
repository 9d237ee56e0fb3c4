//! Files only their owner may read: the data directory (0700), keys, tokens and databases (0600), and
//! fresh private folders for what `meshroute proxy` writes (a random name made with `mkdir`, so a path
//! another user prepared — a folder or a symlink — is never used).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Makes `dir` (and its parents) if missing, and makes it 0700 either way.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Writes `bytes` to `path` with `mode`, replacing what was there; a symlink at `path` is replaced, not
/// followed (the file is written beside it and renamed over it).
pub fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", random_suffix()?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// A new folder under `parent` named `<prefix>-<random>`, 0700; it did not exist before (mkdir fails
/// on anything already there, a symlink included).
pub fn fresh_dir(parent: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    for _ in 0..8 {
        let dir = parent.join(format!("{prefix}-{}", random_suffix()?));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("could not make a fresh folder"))
}

/// Sets a path's permission bits (no-op off Unix).
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn random_suffix() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn private_files_and_folders() {
        let root = std::env::temp_dir().join(format!("support-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        private_dir(&root.join("data")).expect("dir");
        assert_eq!(mode(&root.join("data")), 0o700);
        // A symlink planted where a key goes is replaced, and its target is left alone.
        let target = root.join("elsewhere");
        std::fs::write(&target, "keep").expect("target");
        std::os::unix::fs::symlink(&target, root.join("data/key")).expect("symlink");
        write_private(&root.join("data/key"), b"secret", 0o600).expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
        assert_eq!(std::fs::read_to_string(root.join("data/key")).expect("key"), "secret");
        assert_eq!(mode(&root.join("data/key")), 0o600);
        let a = fresh_dir(&root, "proxy").expect("fresh");
        let b = fresh_dir(&root, "proxy").expect("fresh");
        assert_ne!(a, b);
        assert_eq!(mode(&a), 0o700);
        std::fs::remove_dir_all(&root).expect("clean up");
    }
}
