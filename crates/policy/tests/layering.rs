//! The engine's modules depend one way (index ← compiled ← snapshot ← selection/rules ← outbounds,
//! backends, gateway → plan): no module imports one that imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → the modules of this crate it names through `crate::<module>`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .expect("src")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
        .filter(|m| m != "lib")
        .collect();
    modules
        .iter()
        .map(|m| {
            let text = std::fs::read_to_string(src.join(format!("{m}.rs"))).expect("readable");
            let named = text
                .match_indices("crate::")
                .map(|(i, _)| {
                    text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>()
                })
                .filter(|n| modules.contains(n) && n != m)
                .collect();
            (m.clone(), named)
        })
        .collect()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports();
    assert!(graph.len() >= 10, "expected the engine's modules, found {graph:?}");
    for start in graph.keys() {
        // Everything reachable from `start`; reaching `start` again is a cycle.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            assert_ne!(m, start, "{start} reaches itself through its imports: {graph:#?}");
            if seen.insert(m.clone()) {
                stack.extend(graph[m].iter());
            }
        }
    }
    // The index is the bottom layer: lookups only, no policies, rules or plans.
    for low in ["compiled", "snapshot", "rules", "selection", "plan"] {
        assert!(!graph["index"].contains(low), "index imports {low}");
    }
}
