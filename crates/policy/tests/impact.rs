//! `Impact` is never too narrow: over every golden input, removing (and re-adding) any one resource changes
//! the plan only of proxies `Impact` says it affects. It is also not trivially wide: some changes leave
//! proxies out.

use std::path::Path;

use model::{Kind, Resource};
use policy::impact::Impact;
use policy::{MeshSnapshot, PlanOptions, plan_proxy};

fn inputs() -> Vec<(String, Vec<Resource>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".input.yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let resources =
                model::parse_resources(&text).expect("yaml").into_iter().map(|d| d.expect("parsed").resource).collect();
            (path.file_name().expect("name").to_string_lossy().into_owned(), resources)
        })
        .collect()
}

fn mesh_of(r: &Resource) -> &str {
    if r.kind() == Kind::Mesh { &r.meta.name } else { &r.meta.mesh }
}

/// Checks one change `before` → `after` in `mesh`; returns (proxies affected, proxies in the mesh).
fn check(case: &str, mesh: &str, before: &[Resource], after: &[Resource], changed: &Resource) -> (usize, usize) {
    let old = MeshSnapshot::build(mesh, before.iter().cloned());
    let new = MeshSnapshot::build(mesh, after.iter().cloned());
    let impact = Impact::new(&old, &new, &[(changed.kind(), changed.meta.name.clone())]);
    let mut affected = 0;
    for name in new.index.dataplanes().map(|d| &d.meta.name) {
        let was = old.index.dataplane(name).is_some().then(|| plan_proxy(&old, name, PlanOptions::default()));
        let is = plan_proxy(&new, name, PlanOptions::default());
        if impact.affects(name) {
            affected += 1;
        } else {
            assert_eq!(
                was.as_ref(),
                Some(&is),
                "{case}: changing {:?} {} changed the plan of {name}, which Impact left out",
                changed.kind(),
                changed.meta.name
            );
        }
    }
    (affected, new.index.dataplanes().count())
}

#[test]
fn impact_covers_every_plan_a_change_alters() {
    let mut narrowed = 0;
    let mut checked = 0;
    for (case, resources) in inputs() {
        for (i, changed) in resources.iter().enumerate() {
            let mut without = resources.clone();
            without.remove(i);
            let mesh = mesh_of(changed);
            for (before, after) in [(&resources, &without), (&without, &resources)] {
                let (affected, total) = check(&case, mesh, before, after, changed);
                checked += 1;
                if affected < total {
                    narrowed += 1;
                }
            }
        }
    }
    eprintln!("{checked} changes checked, {narrowed} narrowed to part of the mesh");
    assert!(checked > 200, "only {checked} changes checked");
    assert!(narrowed * 4 > checked, "Impact narrowed only {narrowed} of {checked} changes");
}
