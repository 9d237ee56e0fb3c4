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

use policy::plan::{ClusterKind, ClusterPlan, OutboundListener, ProxyPlan};

pub use canonical::CanonicalError;
pub use resources::{
    ALL_TYPES, CLUSTER_TYPE, ENDPOINT_TYPE, EXTENSION_CONFIG_TYPE, LISTENER_TYPE, Resource, ResourceSet,
};

/// Generates the Envoy resources of one proxy plan.
pub fn generate(plan: &ProxyPlan) -> Result<ResourceSet, CanonicalError> {
    generate_shared(plan, None)
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
/// proxies of the same snapshot. Every decision (what is left out, which listener) is the plan's: this
/// only translates.
pub fn generate_shared(plan: &ProxyPlan, shared: Option<&SharedResources>) -> Result<ResourceSet, CanonicalError> {
    let mut set = ResourceSet::default();
    if plan.withheld.is_some() {
        return Ok(set);
    }
    for inbound in &plan.inbounds {
        set.listeners.push(Resource::new(inbound.name.clone(), LISTENER_TYPE, &listeners::inbound(inbound))?);
        let cluster = clusters::inbound_cluster(inbound);
        set.clusters.push(Resource::new(cluster.name.clone(), CLUSTER_TYPE, &cluster)?);
    }
    for outbound in &plan.outbounds {
        let listener = match outbound.listener {
            OutboundListener::LeftOut(_) => continue,
            OutboundListener::Http => listeners::outbound_http(outbound),
            OutboundListener::TcpProxy | OutboundListener::Kafka => {
                let kafka = outbound.listener == OutboundListener::Kafka;
                let (listener, config) = listeners::outbound_tcp(outbound, kafka);
                if let Some(config) = config {
                    set.extension_configs.push(Resource::new(config.name.clone(), EXTENSION_CONFIG_TYPE, &config)?);
                }
                listener
            }
        };
        set.listeners.push(Resource::new(outbound.name.clone(), LISTENER_TYPE, &listener)?);
    }
    if let Some(gateway) = &plan.gateway {
        for listener in gateway.listeners.iter().filter(|l| l.left_out.is_none()) {
            let (l, configs) = listeners::gateway(listener);
            set.listeners.push(Resource::new(listener.name.clone(), LISTENER_TYPE, &l)?);
            for config in configs {
                set.extension_configs.push(Resource::new(config.name.clone(), EXTENSION_CONFIG_TYPE, &config)?);
            }
        }
    }
    for cluster in &plan.clusters {
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
