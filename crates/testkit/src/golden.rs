//! Golden files: `UPDATE_GOLDEN=1` rewrites them; otherwise a difference or a missing file fails.

use std::path::Path;

/// Whether goldens are being rewritten in this run.
pub fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// Compares `actual` with the golden file at `path`, or rewrites it under `UPDATE_GOLDEN=1`. Returns a
/// description of the difference, if any.
pub fn check_golden(path: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        std::fs::write(path, actual).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(path)
        .map_err(|_| format!("{} is missing: run with UPDATE_GOLDEN=1 and review it", path.display()))?;
    if expected == actual {
        return Ok(());
    }
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return Err(format!("{}:{}:\n  expected {e:?}\n  actual   {a:?}", path.display(), i + 1));
        }
    }
    Err(format!("{}: expected {} lines, got {}", path.display(), expected.lines().count(), actual.lines().count()))
}
