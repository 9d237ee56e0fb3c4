//! The generic TargetRef validator shared by every targetRef policy (spec meshtcproute.md §2.7), and the
//! tag checks it uses.

use crate::common::{Tags, TargetRef, TargetRefKind};
use crate::path::{FieldPath, Violations};
use crate::validate::charset;
use crate::validate::messages as msg;

/// What the caller allows: the policy and position decide the kinds.
#[derive(Clone, Copy, Debug)]
pub struct TargetRefRules<'a> {
    pub supported_kinds: &'a [TargetRefKind],
    /// MeshGateway `tags` select listeners; only some positions allow them.
    pub gateway_listener_tags_allowed: bool,
    pub is_inbound_policy: bool,
}

/// Validates one targetRef at `path`, collecting every violation.
pub fn validate_target_ref(path: &FieldPath, r: &TargetRef, rules: &TargetRefRules<'_>) -> Violations {
    let mut v = Violations::new();
    let kind = r.kind.as_str();
    if kind.is_empty() {
        v.add(path.field("kind"), msg::MUST_BE_DEFINED);
        return v;
    }
    if !rules.supported_kinds.contains(&r.kind) {
        v.add(path.field("kind"), msg::not_supported(kind));
        return v;
    }
    let mut check = Checks { path, r, kind, v: &mut v };
    match r.kind {
        TargetRefKind::Mesh => {
            if !r.name_str().is_empty() {
                check.v.add(path.field("name"), msg::name_with_kind_not_supported(kind));
            }
            check.disallow(&[Field::Mesh, Field::Tags, Field::Labels, Field::Namespace, Field::SectionName]);
            check.proxy_types();
        }
        TargetRefKind::Dataplane => {
            check.disallow(&[Field::Tags, Field::Mesh, Field::ProxyTypes]);
            check.labels_exclusive(msg::LABELS_OR_NAME_AND_NAMESPACE);
            if !rules.is_inbound_policy && !r.section_name_str().is_empty() {
                check.v.add(path.field("sectionName"), msg::ONLY_INBOUND_POLICIES);
            }
        }
        TargetRefKind::MeshSubset => {
            check.disallow(&[Field::Name, Field::Mesh]);
            check.v.extend(validate_tags(&path.field("tags"), r.tags_or_empty(), TagValues::Plain));
            check.disallow(&[Field::Labels, Field::Namespace, Field::SectionName]);
            check.proxy_types();
        }
        TargetRefKind::MeshService | TargetRefKind::MeshHttpRoute => {
            check.name_charset();
            check.disallow(&[Field::Mesh, Field::Tags, Field::ProxyTypes]);
            if r.kind == TargetRefKind::MeshHttpRoute {
                check.disallow(&[Field::SectionName]);
            }
            check.name_unless_labels();
            check.labels_exclusive(msg::LABELS_OR_NAME_AND_NAMESPACE);
        }
        TargetRefKind::MeshServiceSubset | TargetRefKind::MeshGateway => {
            check.require_name();
            check.name_charset();
            check.disallow(&[Field::Mesh, Field::ProxyTypes]);
            check.v.extend(validate_tags(&path.field("tags"), r.tags_or_empty(), TagValues::Selector));
            if r.kind == TargetRefKind::MeshGateway && !rules.gateway_listener_tags_allowed {
                check.disallow(&[Field::Tags]);
            }
            check.disallow(&[Field::Labels, Field::Namespace, Field::SectionName]);
        }
        TargetRefKind::MeshExternalService => {
            check.name_charset();
            check.disallow(&[Field::Mesh, Field::Tags, Field::ProxyTypes]);
            check.name_unless_labels();
            check.labels_exclusive(msg::LABELS_OR_NAME);
            check.disallow(&[Field::SectionName]);
        }
        // Kuma 2.13 has no per-field checks for MeshMultiZoneService.
        TargetRefKind::MeshMultiZoneService | TargetRefKind::Unknown(_) => {}
    }
    v
}

#[derive(Clone, Copy)]
enum Field {
    Name,
    Mesh,
    Tags,
    ProxyTypes,
    Namespace,
    Labels,
    SectionName,
}

struct Checks<'a> {
    path: &'a FieldPath,
    r: &'a TargetRef,
    kind: &'a str,
    v: &'a mut Violations,
}

impl Checks<'_> {
    fn is_set(&self, f: Field) -> (&'static str, bool) {
        let r = self.r;
        match f {
            Field::Name => ("name", !r.name_str().is_empty()),
            Field::Mesh => ("mesh", r.mesh.as_deref().is_some_and(|s| !s.is_empty())),
            Field::Tags => ("tags", !r.tags_or_empty().is_empty()),
            Field::ProxyTypes => ("proxyTypes", r.proxy_types.as_ref().is_some_and(|p| !p.is_empty())),
            Field::Namespace => ("namespace", !r.namespace_str().is_empty()),
            Field::Labels => ("labels", !r.labels_or_empty().is_empty()),
            Field::SectionName => ("sectionName", !r.section_name_str().is_empty()),
        }
    }

    /// `<field>: must not be set with kind <Kind>` for each set field, in the order given.
    fn disallow(&mut self, fields: &[Field]) {
        for f in fields {
            let (name, set) = self.is_set(*f);
            if set {
                self.v.add(self.path.field(name), msg::must_not_be_set_with(self.kind));
            }
        }
    }

    fn require_name(&mut self) {
        if self.r.name_str().is_empty() {
            self.v.add(self.path.field("name"), msg::must_be_set_with(self.kind));
        }
    }

    fn name_unless_labels(&mut self) {
        if self.r.labels_or_empty().is_empty() {
            self.require_name();
        }
    }

    fn name_charset(&mut self) {
        if !charset::is_ref_name(self.r.name_str()) {
            self.v.add(self.path.field("name"), msg::NAME_CHARSET);
        }
    }

    fn labels_exclusive(&mut self, message: &str) {
        let r = self.r;
        if !r.labels_or_empty().is_empty() && (!r.name_str().is_empty() || !r.namespace_str().is_empty()) {
            self.v.add(self.path.field("labels"), message);
        }
    }

    fn proxy_types(&mut self) {
        if self.r.proxy_types.as_ref().is_some_and(Vec::is_empty) {
            self.v.add(self.path.field("proxyTypes"), msg::PROXY_TYPES_EMPTY);
        }
    }
}

/// Which values a tag map accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagValues {
    /// `^[a-zA-Z0-9.\-_:]*$` (MeshSubset tags, Dataplane tags).
    Plain,
    /// Also `/` and a lone `*` (selectors: MeshServiceSubset, MeshGateway, `match`).
    Selector,
}

/// Kuma's tag checks over a map at `path`; keys in sorted order.
pub fn validate_tags(path: &FieldPath, tags: &Tags, values: TagValues) -> Violations {
    let mut v = Violations::new();
    for (key, value) in tags {
        if key.is_empty() {
            v.add(path.clone(), msg::TAG_NAME_EMPTY);
        }
        if !charset::is_tag_name(key) {
            v.add(path.key(key), msg::TAG_NAME_CHARSET);
        }
        if value.is_empty() {
            v.add(path.key(key), msg::TAG_VALUE_EMPTY);
        }
        match values {
            TagValues::Plain if !charset::is_tag_value(value) => {
                v.add(path.key(key), msg::TAG_VALUE_CHARSET);
            }
            TagValues::Selector if !charset::is_selector_value(value) => {
                v.add(path.key(key), msg::SELECTOR_VALUE_CHARSET);
            }
            _ => {}
        }
    }
    v
}
