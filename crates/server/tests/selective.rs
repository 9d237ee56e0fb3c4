//! A change wakes only the proxies it can affect: each proxy's generation watch is bumped for changes to
//! policies that apply to it, to Dataplanes it reaches, to itself, or to its Mesh, and never for another
//! mesh.

use std::collections::BTreeSet;

use server::ControlPlane;
use tokio::sync::watch;

fn dataplane(mesh: &str, name: &str, service: &str, extra_tag: &str, outbound: &str) -> String {
    let outbound = if outbound.is_empty() {
        String::new()
    } else {
        format!(", outbound: [{{port: 7200, tags: {{kuma.io/service: {outbound}}}}}]")
    };
    format!(
        "---\ntype: Dataplane\nmesh: {mesh}\nname: {name}\nnetworking: {{address: 127.0.0.1, inbound: [{{port: 7001, tags: {{kuma.io/service: {service}{extra_tag}}}}}]{outbound}}}\n"
    )
}

fn route(name: &str, top_service: &str, to: &str, backend: &str) -> String {
    format!(
        "---\ntype: MeshTCPRoute\nmesh: default\nname: {name}\nspec:\n  targetRef: {{kind: MeshService, name: {top_service}}}\n  to:\n  - targetRef: {{kind: MeshService, name: {to}}}\n    rules: [{{default: {{backendRefs: [{{kind: MeshService, name: {backend}}}]}}}}]\n"
    )
}

struct World {
    control: std::sync::Arc<ControlPlane>,
    watches: Vec<(&'static str, watch::Receiver<u64>)>,
}

impl World {
    fn load(&self, text: &str) {
        let resources =
            model::parse_resources(text).expect("yaml").into_iter().map(|d| d.expect("valid").resource).collect();
        self.control.replace_resources(resources);
    }

    /// The proxies woken since the last call.
    fn woken(&mut self) -> BTreeSet<&'static str> {
        self.watches
            .iter_mut()
            .filter_map(|(id, w)| {
                let changed = w.has_changed().expect("open");
                w.borrow_and_update();
                changed.then_some(*id)
            })
            .collect()
    }
}

const PROXIES: [&str; 5] = ["default.web", "default.backend-1", "default.db", "default.reports", "other.x"];

fn base(backend_tag: &str, other_tag: &str) -> String {
    [
        "---\ntype: Mesh\nname: default\n".to_owned(),
        "---\ntype: Mesh\nname: other\n".to_owned(),
        dataplane("default", "web", "web", "", "backend"),
        dataplane("default", "backend-1", "backend", backend_tag, ""),
        dataplane("default", "db", "db", "", ""),
        dataplane("default", "reports", "reports", "", "db"),
        dataplane("other", "x", "x", other_tag, ""),
    ]
    .concat()
}

#[test]
fn changes_wake_only_the_proxies_they_can_affect() {
    let control = ControlPlane::without_dp_auth();
    let mut world = World {
        watches: PROXIES
            .iter()
            .map(|id| (*id, control.subscribe_proxy(&server::proxy_id::ProxyId::parse(id).expect("id"))))
            .collect(),
        control,
    };
    world.load(&base("", ""));
    assert_eq!(world.woken(), PROXIES.into_iter().collect(), "the first load reaches everyone");

    world.load(&base("", ""));
    assert!(world.woken().is_empty(), "an identical load wakes no one");

    // A policy applies to the proxies its top-level targetRef selects: web only.
    let with_route = format!("{}{}", base("", ""), route("web-to-db", "web", "backend", "db"));
    world.load(&with_route);
    assert_eq!(world.woken(), ["default.web"].into());

    // A changed backend Dataplane wakes itself, web (outbound to it) and nobody else.
    let changed_backend = format!("{}{}", base(", version: v2", ""), route("web-to-db", "web", "backend", "db"));
    world.load(&changed_backend);
    assert_eq!(world.woken(), ["default.backend-1", "default.web"].into());

    // db is reached by reports (outbound) and by web (a backendRef of a policy that applies to web).
    let changed_db = changed_backend.replace("kuma.io/service: db}", "kuma.io/service: db, version: v2}");
    world.load(&changed_db);
    assert_eq!(world.woken(), ["default.db", "default.reports", "default.web"].into());

    // Another mesh's change wakes only that mesh's proxies.
    let other_changed = changed_db.replace("kuma.io/service: x}", "kuma.io/service: x, version: v2}");
    world.load(&other_changed);
    assert_eq!(world.woken(), ["other.x"].into());

    // Removing the policy wakes the proxy it applied to.
    let without_route =
        base(", version: v2", ", version: v2").replace("kuma.io/service: db}", "kuma.io/service: db, version: v2}");
    world.load(&without_route);
    assert_eq!(world.woken(), ["default.web"].into());

    // A Mesh change reaches every proxy of that mesh.
    world.load(&without_route.replace("type: Mesh\nname: default\n", "type: Mesh\nname: default\nlabels: {team: a}\n"));
    assert_eq!(world.woken(), ["default.backend-1", "default.db", "default.reports", "default.web"].into());
}
