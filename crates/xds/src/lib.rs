//! meshroute's Envoy configuration: a ProxyPlan becomes Listeners, Clusters and ClusterLoadAssignments,
//! each encoded deterministically with a content-hash version, and renderable as Envoy's canonical JSON.
//! Pure: the same plan gives the same bytes.
//!
//! ```text
//!  ProxyPlan ─► listeners (outbound / gateway tcp_proxy through ECDS, default HTTP, inbound)
//!            ─► extension configs (ECDS: each tcp_proxy's clusters and weights)
//!            ─► clusters (EDS over ADS, external STATIC/STRICT_DNS, inbound STATIC)
//!            ─► endpoints (ClusterLoadAssignment per EDS cluster)
//!                      │ canonical bytes (sorted maps) ─► version = hash(bytes)
//!                      ▼
//!                 ResourceSet ─► ADS server, `meshroute render`, `_config`
//! ```

pub mod canonical;
pub mod clusters;
pub mod kafka;
pub mod listeners;
mod messages;
pub mod resources;

use std::collections::HashSet;

use policy::plan::{ClusterKind, ClusterPlan, Owner, ProxyPlan, Split};
use policy::protocol::Protocol;

pub use canonical::CanonicalError;
pub use resources::{CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE, Resource, ResourceSet};

/// What the receiving Envoy can take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// The Envoy build has contrib extensions (the kafka_broker filter).
    pub kafka_filter: bool,
}

/// Generates the Envoy resources of one proxy plan.
pub fn generate(plan: &ProxyPlan, options: GenerateOptions) -> Result<ResourceSet, CanonicalError> {
    generate_shared(plan, options, None)
}

/// Encoded clusters and endpoints shared by every proxy of one snapshot. A backend's cluster plan is
/// the same `Arc` for every proxy that sends to it (the snapshot makes it once), so its Envoy resources
/// are encoded once too. Holding the plan keeps its address from being reused while it is a key.
#[derive(Default)]
pub struct SharedResources {
    clusters: std::sync::Mutex<std::collections::HashMap<usize, SharedCluster>>,
}

type SharedCluster = (std::sync::Arc<ClusterPlan>, Resource, Option<Resource>);

impl SharedResources {
    pub fn new() -> Self {
        Self::default()
    }

    fn get_or_encode(
        &self,
        cluster: &std::sync::Arc<ClusterPlan>,
        encode: impl FnOnce() -> Result<(Resource, Option<Resource>), CanonicalError>,
    ) -> Result<(Resource, Option<Resource>), CanonicalError> {
        let key = std::sync::Arc::as_ptr(cluster) as usize;
        if let Some((_, c, e)) = self.clusters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok((c.clone(), e.clone()));
        }
        let (c, e) = encode()?;
        self.clusters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, (cluster.clone(), c.clone(), e.clone()));
        Ok((c, e))
    }
}

/// Generates the resources of one proxy plan, reusing clusters and endpoints already encoded for other
/// proxies of the same snapshot.
pub fn generate_shared(
    plan: &ProxyPlan,
    options: GenerateOptions,
    shared: Option<&SharedResources>,
) -> Result<ResourceSet, CanonicalError> {
    let mut set = ResourceSet::default();
    if plan.mtls {
        // Fail closed: plaintext config in an mTLS mesh would quietly drop the mesh's security.
        set.warnings.push(format!(
            "mesh {} has mTLS enabled, which meshroute does not implement yet: no configuration is sent to {}",
            plan.mesh, plan.dataplane
        ));
        return Ok(set);
    }
    let unsupported = unsupported_clusters(&plan.clusters, &mut set.warnings);
    for inbound in &plan.inbounds {
        set.listeners.push(Resource::new(inbound.name.clone(), LISTENER_TYPE, &listeners::inbound(inbound))?);
        let cluster = clusters::inbound_cluster(inbound);
        set.clusters.push(Resource::new(cluster.name.clone(), CLUSTER_TYPE, &cluster)?);
    }
    for outbound in &plan.outbounds {
        if outbound.owner == Owner::Nobody {
            continue;
        }
        let splits: Vec<Split> =
            outbound.splits.iter().filter(|s| !unsupported.contains(&s.cluster)).cloned().collect();
        if splits.is_empty() && !outbound.splits.is_empty() {
            set.warnings.push(format!(
                "{}: every backend needs what is not supported yet; destination left out",
                outbound.name
            ));
            continue;
        }
        let http = outbound.protocol.is_http_family() && outbound.owner != Owner::MeshTcpRoute && !splits.is_empty();
        let listener = if http {
            listeners::outbound_http(outbound, &splits)
        } else {
            let kafka = outbound.protocol == Protocol::Kafka && outbound.owner == Owner::MeshTcpRoute;
            if kafka && !options.kafka_filter {
                set.warnings.push(format!(
                    "{}: the kafka_broker filter is left out because this Envoy build has no contrib extensions; kafka traffic is proxied as plain TCP",
                    outbound.name
                ));
            }
            let (listener, config) = listeners::outbound_tcp(outbound, &splits, kafka && options.kafka_filter);
            if let Some(config) = config {
                set.extension_configs.push(Resource::new(config.name.clone(), EXTENSION_CONFIG_TYPE, &config)?);
            }
            listener
        };
        set.listeners.push(Resource::new(outbound.name.clone(), LISTENER_TYPE, &listener)?);
    }
    if let Some(gateway) = &plan.gateway {
        for listener in &gateway.listeners {
            let (l, configs) = listeners::gateway(listener, &mut set.warnings);
            set.listeners.push(Resource::new(listener.name.clone(), LISTENER_TYPE, &l)?);
            for config in configs {
                set.extension_configs.push(Resource::new(config.name.clone(), EXTENSION_CONFIG_TYPE, &config)?);
            }
        }
    }
    for cluster in plan.clusters.iter().filter(|c| !unsupported.contains(&c.name)) {
        let encode = || encode_cluster(cluster);
        let (c, endpoints) = match shared {
            Some(shared) => shared.get_or_encode(cluster, encode)?,
            None => encode()?,
        };
        set.clusters.push(c);
        set.endpoints.extend(endpoints);
    }
    set.sort();
    Ok(set)
}

/// A cluster and, for EDS clusters, its endpoints.
fn encode_cluster(cluster: &ClusterPlan) -> Result<(Resource, Option<Resource>), CanonicalError> {
    Ok(match &cluster.kind {
        ClusterKind::ExternalService { resolution } => {
            let c = clusters::external_cluster(cluster, *resolution);
            (Resource::new(cluster.name.clone(), CLUSTER_TYPE, &c)?, None)
        }
        ClusterKind::Eds | ClusterKind::MeshExternalService => {
            let c = Resource::new(cluster.name.clone(), CLUSTER_TYPE, &clusters::eds_cluster(cluster))?;
            let cla = clusters::load_assignment(&cluster.name, &cluster.endpoints);
            (c, Some(Resource::new(cluster.name.clone(), ENDPOINT_TYPE, &cla)?))
        }
    })
}

/// Clusters that need what is not implemented yet (zone egress for MeshExternalService, cross-mesh
/// mTLS): left out with a warning rather than sent as config Envoy would wait on or reject.
fn unsupported_clusters(clusters: &[std::sync::Arc<ClusterPlan>], warnings: &mut Vec<String>) -> HashSet<String> {
    let mut names = HashSet::new();
    for c in clusters {
        let why = match (&c.kind, &c.cross_mesh) {
            (ClusterKind::MeshExternalService, _) => {
                Some("MeshExternalService traffic goes through a zone egress".to_owned())
            }
            (_, Some(mesh)) => Some(format!("it is in mesh {mesh} (cross-mesh traffic)")),
            _ => None,
        };
        if let Some(why) = why {
            warnings.push(format!("cluster {}: {why}, which is not supported yet; left out", c.name));
            names.insert(c.name.clone());
        }
    }
    names
}
