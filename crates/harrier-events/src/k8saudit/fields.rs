//! The `k8s_audit` field table: every field of Falco's k8saudit plugin (0.18), plus `json.*`,
//! `jevt.*` and `evt.*`. Semantics: docs/fields.md.

use crate::field::{common, ArgSpec, FieldInfo, FieldType, SourceInfo};

pub(super) const USER_GROUPS: u16 = 1;
pub(super) const URI_PARAM: u16 = 2;
pub(super) const TARGET_POD_NAME: u16 = 3;
pub(super) const SUBJECTS: u16 = 4;
pub(super) const SUBJECT_USERS: u16 = 5;
pub(super) const SUBJECT_SAS: u16 = 6;
pub(super) const SUBJECT_SA_NS: u16 = 7;
pub(super) const SUBJECT_GROUPS: u16 = 8;
pub(super) const HAS_NAME: u16 = 9;
pub(super) const C0_IMAGE: u16 = 10;
pub(super) const C0_REPO: u16 = 11;
pub(super) const ANY_PRIVILEGED: u16 = 12;
pub(super) const ROLE_RULES: u16 = 13;
pub(super) const RULES_APIGROUPS: u16 = 14;
pub(super) const RULES_NONRES: u16 = 15;
pub(super) const RULES_VERBS: u16 = 16;
pub(super) const RULES_RESOURCES: u16 = 17;
pub(super) const SERVICE_PORTS: u16 = 18;
pub(super) const SUPP_GROUPS: u16 = 19;
pub(super) const VOL_HOSTPATH: u16 = 20;
pub(super) const VOL_FLEX: u16 = 21;
pub(super) const VOL_TYPE: u16 = 22;
pub(super) const VOL_HOSTPATH_KEY: u16 = 23;
pub(super) const SOURCEIPS: u16 = 24;
pub(super) const SOURCE_PUBLIC: u16 = 25;
pub(super) const JSON_VALUE: u16 = 60;
pub(super) const IMAGE_TAGS: u16 = 64;
pub(super) const JSON_OBJ: u16 = 61;
pub(super) const JSON_RAWTIME: u16 = 62;
pub(super) const JSON_PATH: u16 = 63;

/// Number of `ka.*` fields: they are absent for a record without `auditID`.
pub(super) const KA_FIELDS: usize = 102;

/// Every field of the `k8s_audit` source.
pub static FIELDS: [FieldInfo; 116] = [
    FieldInfo::json("ka.auditid", &["auditID"], "the audit event id"),
    FieldInfo::json("ka.stage", &["stage"], "the audit stage (RequestReceived, ResponseStarted, ResponseComplete, Panic)"),
    FieldInfo::json("ka.auth.decision", &["annotations", "authorization.k8s.io/decision"], "the authorization decision (allow, forbid)"),
    FieldInfo::json("ka.auth.reason", &["annotations", "authorization.k8s.io/reason"], "the authorization reason"),
    FieldInfo::json("ka.auth.openshift.decision", &["annotations", "authentication.openshift.io/decision"], "the OpenShift authentication decision"),
    FieldInfo::json("ka.auth.openshift.username", &["annotations", "authentication.openshift.io/username"], "the OpenShift authenticated user name"),
    FieldInfo::json("ka.validations.admission.policy.failure", &["annotations", "validation.policy.admission.k8s.io/validation_failure"], "validating admission policy failures"),
    FieldInfo::json("ka.security.pod.violations", &["annotations", "pod-security.kubernetes.io/audit-violations"], "pod security admission violations"),
    FieldInfo::json("ka.cluster.name", &["annotations", "cluster_name"], "the cluster name annotation, where a pipeline adds one"),
    FieldInfo::json("ka.user.name", &["user", "username"], "the user name performing the request"),
    FieldInfo::special("ka.user.groups", FieldType::StringList, ArgSpec::None, USER_GROUPS, "the groups of the user performing the request"),
    FieldInfo::json("ka.impuser.name", &["impersonatedUser", "username"], "the impersonated user name"),
    FieldInfo::json("ka.verb", &["verb"], "the action being performed (get, list, create, update, patch, delete...)"),
    FieldInfo::json("ka.uri", &["requestURI"], "the request URI as sent from client to server"),
    FieldInfo::special("ka.uri.param", FieldType::String, ArgSpec::RequiredKey, URI_PARAM, "the first value of a query parameter of the request URI"),
    FieldInfo::json("ka.target.name", &["objectRef", "name"], "the target object name"),
    FieldInfo::json("ka.target.namespace", &["objectRef", "namespace"], "the target object namespace"),
    FieldInfo::json("ka.target.resource", &["objectRef", "resource"], "the target object resource (pods, secrets...)"),
    FieldInfo::json("ka.target.subresource", &["objectRef", "subresource"], "the target object subresource (exec, attach, status...)"),
    FieldInfo::special("ka.target.pod.name", FieldType::String, ArgSpec::None, TARGET_POD_NAME, "the name of a pod created (resource pods, no subresource)"),
    FieldInfo::special("ka.req.binding.subjects", FieldType::StringList, ArgSpec::None, SUBJECTS, "the subjects of a role binding, each as JSON"),
    FieldInfo::special("ka.req.binding.subjects.user_names", FieldType::StringList, ArgSpec::None, SUBJECT_USERS, "the user names of a role binding's subjects"),
    FieldInfo::special("ka.req.binding.subjects.serviceaccount_names", FieldType::StringList, ArgSpec::None, SUBJECT_SAS, "the service account names of a role binding's subjects"),
    FieldInfo::special("ka.req.binding.subjects.serviceaccount_ns_names", FieldType::StringList, ArgSpec::None, SUBJECT_SA_NS, "namespace:name of a role binding's service account subjects"),
    FieldInfo::special("ka.req.binding.subjects.group_names", FieldType::StringList, ArgSpec::None, SUBJECT_GROUPS, "the group names of a role binding's subjects"),
    FieldInfo::json("ka.req.binding.role", &["requestObject", "roleRef", "name"], "the role a binding refers to"),
    FieldInfo::special("ka.req.binding.subject.has_name", FieldType::String, ArgSpec::RequiredKey, HAS_NAME, "deprecated: always true"),
    FieldInfo::json("ka.req.configmap.name", &["objectRef", "name"], "the configmap name"),
    FieldInfo::json("ka.req.configmap.obj", &["requestObject", "data"], "the configmap data, as JSON"),
    FieldInfo::special("ka.req.container.image", FieldType::String, ArgSpec::None, C0_IMAGE, "deprecated: the image of the first container"),
    FieldInfo::special("ka.req.container.image.repository", FieldType::String, ArgSpec::None, C0_REPO, "deprecated: the repository of the first container's image"),
    FieldInfo::json("ka.req.container.host_network", &["requestObject", "spec", "hostNetwork"], "deprecated alias of ka.req.pod.host_network"),
    FieldInfo::special("ka.req.container.privileged", FieldType::String, ArgSpec::None, ANY_PRIVILEGED, "true when any container of the pod is privileged"),
    FieldInfo::special("ka.req.role.rules", FieldType::StringList, ArgSpec::None, ROLE_RULES, "the rules of a role, each as JSON"),
    FieldInfo::special("ka.req.role.rules.apiGroups", FieldType::StringList, ArgSpec::OptionalIndex, RULES_APIGROUPS, "the API groups of a role's rules ([N]: rule N)"),
    FieldInfo::special("ka.req.role.rules.nonResourceURLs", FieldType::StringList, ArgSpec::OptionalIndex, RULES_NONRES, "the non-resource URLs of a role's rules"),
    FieldInfo::special("ka.req.role.rules.verbs", FieldType::StringList, ArgSpec::OptionalIndex, RULES_VERBS, "the verbs of a role's rules"),
    FieldInfo::special("ka.req.role.rules.resources", FieldType::StringList, ArgSpec::OptionalIndex, RULES_RESOURCES, "the resources of a role's rules"),
    FieldInfo::json("ka.req.service.type", &["requestObject", "spec", "type"], "the service type"),
    FieldInfo::special("ka.req.service.ports", FieldType::StringList, ArgSpec::OptionalIndex, SERVICE_PORTS, "the service ports, as one JSON array"),
    FieldInfo::json("ka.req.pod.host_ipc", &["requestObject", "spec", "hostIPC"], "the pod's hostIPC flag"),
    FieldInfo::json("ka.req.pod.host_network", &["requestObject", "spec", "hostNetwork"], "the pod's hostNetwork flag"),
    FieldInfo::json("ka.req.pod.host_pid", &["requestObject", "spec", "hostPID"], "the pod's hostPID flag"),
    FieldInfo::json("ka.req.pod.run_as_user", &["requestObject", "spec", "securityContext", "runAsUser"], "the pod's runAsUser"),
    FieldInfo::json("ka.req.pod.run_as_group", &["requestObject", "spec", "securityContext", "runAsGroup"], "the pod's runAsGroup"),
    FieldInfo::json("ka.req.pod.fs_group", &["requestObject", "spec", "securityContext", "fsGroup"], "the pod's fsGroup"),
    FieldInfo::special("ka.req.pod.supplemental_groups", FieldType::StringList, ArgSpec::None, SUPP_GROUPS, "the pod's supplemental groups"),
    FieldInfo::special("ka.req.pod.volumes.hostpath", FieldType::StringList, ArgSpec::OptionalIndex, VOL_HOSTPATH, "the host paths of the pod's hostPath volumes"),
    FieldInfo::special("ka.req.pod.volumes.flexvolume_driver", FieldType::StringList, ArgSpec::OptionalIndex, VOL_FLEX, "the drivers of the pod's flexVolume volumes"),
    FieldInfo::special("ka.req.pod.volumes.volume_type", FieldType::StringList, ArgSpec::OptionalIndex, VOL_TYPE, "the types of the pod's volumes"),
    FieldInfo::special("ka.req.volume.hostpath", FieldType::String, ArgSpec::RequiredKey, VOL_HOSTPATH_KEY, "deprecated: true when a hostPath volume matches the path (trailing * for a prefix)"),
    FieldInfo::json("ka.resp.name", &["responseObject", "metadata", "name"], "the name of the object in the response"),
    FieldInfo::json("ka.response.code", &["responseStatus", "code"], "the response code"),
    FieldInfo::json("ka.response.reason", &["responseStatus", "reason"], "the response reason"),
    FieldInfo::json("ka.useragent", &["userAgent"], "the user agent of the client"),
    FieldInfo::special("ka.sourceips", FieldType::StringList, ArgSpec::OptionalIndex, SOURCEIPS, "the source IPs of the request ([N]: the Nth)"),
    FieldInfo::special("ka.sourceips.public", FieldType::String, ArgSpec::None, SOURCE_PUBLIC, "`true` when the request came from an internet-routable address (its first source IP is not private, loopback, link-local, carrier-grade NAT or unique-local), else `false`; absent without a source IP"),
    FieldInfo::special("ka.req.pod.containers.name", FieldType::StringList, ArgSpec::OptionalIndex, 100, "the name of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.image", FieldType::StringList, ArgSpec::OptionalIndex, 101, "the image of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.image.repository", FieldType::StringList, ArgSpec::OptionalIndex, 102, "the image repository of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.command", FieldType::StringList, ArgSpec::OptionalIndex, 103, "the command line of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.args", FieldType::StringList, ArgSpec::OptionalIndex, 104, "the arguments of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.privileged", FieldType::StringList, ArgSpec::OptionalIndex, 105, "the privileged flag of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.allow_privilege_escalation", FieldType::StringList, ArgSpec::OptionalIndex, 106, "the allowPrivilegeEscalation flag of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.read_only_fs", FieldType::StringList, ArgSpec::OptionalIndex, 107, "the readOnlyRootFilesystem flag of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 108, "the runAsUser of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.eff_run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 109, "the effective runAsUser (container, else pod, else 0) of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 110, "the runAsGroup of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.eff_run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 111, "the effective runAsGroup (container, else pod, else 0) of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.proc_mount", FieldType::StringList, ArgSpec::OptionalIndex, 112, "the procMount of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.add_capabilities", FieldType::StringList, ArgSpec::OptionalIndex, 113, "the added capabilities, as a JSON array of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.containers.host_port", FieldType::StringList, ArgSpec::OptionalIndex, 114, "the host ports (or container ports) of each of the pod's containers"),
    FieldInfo::special("ka.req.pod.initContainers.name", FieldType::StringList, ArgSpec::OptionalIndex, 120, "the name of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.image", FieldType::StringList, ArgSpec::OptionalIndex, 121, "the image of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.image.repository", FieldType::StringList, ArgSpec::OptionalIndex, 122, "the image repository of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.command", FieldType::StringList, ArgSpec::OptionalIndex, 123, "the command line of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.args", FieldType::StringList, ArgSpec::OptionalIndex, 124, "the arguments of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.privileged", FieldType::StringList, ArgSpec::OptionalIndex, 125, "the privileged flag of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.allow_privilege_escalation", FieldType::StringList, ArgSpec::OptionalIndex, 126, "the allowPrivilegeEscalation flag of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.read_only_fs", FieldType::StringList, ArgSpec::OptionalIndex, 127, "the readOnlyRootFilesystem flag of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 128, "the runAsUser of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.eff_run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 129, "the effective runAsUser (container, else pod, else 0) of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 130, "the runAsGroup of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.eff_run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 131, "the effective runAsGroup (container, else pod, else 0) of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.proc_mount", FieldType::StringList, ArgSpec::OptionalIndex, 132, "the procMount of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.add_capabilities", FieldType::StringList, ArgSpec::OptionalIndex, 133, "the added capabilities, as a JSON array of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.initContainers.host_port", FieldType::StringList, ArgSpec::OptionalIndex, 134, "the host ports (or container ports) of each of the pod's init containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.name", FieldType::StringList, ArgSpec::OptionalIndex, 140, "the name of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.image", FieldType::StringList, ArgSpec::OptionalIndex, 141, "the image of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.image.repository", FieldType::StringList, ArgSpec::OptionalIndex, 142, "the image repository of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.command", FieldType::StringList, ArgSpec::OptionalIndex, 143, "the command line of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.args", FieldType::StringList, ArgSpec::OptionalIndex, 144, "the arguments of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.privileged", FieldType::StringList, ArgSpec::OptionalIndex, 145, "the privileged flag of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.allow_privilege_escalation", FieldType::StringList, ArgSpec::OptionalIndex, 146, "the allowPrivilegeEscalation flag of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.read_only_fs", FieldType::StringList, ArgSpec::OptionalIndex, 147, "the readOnlyRootFilesystem flag of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 148, "the runAsUser of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.eff_run_as_user", FieldType::StringList, ArgSpec::OptionalIndex, 149, "the effective runAsUser (container, else pod, else 0) of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 150, "the runAsGroup of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.eff_run_as_group", FieldType::StringList, ArgSpec::OptionalIndex, 151, "the effective runAsGroup (container, else pod, else 0) of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.proc_mount", FieldType::StringList, ArgSpec::OptionalIndex, 152, "the procMount of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.ephemeralContainers.add_capabilities", FieldType::StringList, ArgSpec::OptionalIndex, 153, "the added capabilities, as a JSON array of each of the pod's ephemeral containers"),
    FieldInfo::special("ka.req.pod.containers.image.tag", FieldType::StringList, ArgSpec::OptionalIndex, IMAGE_TAGS, "the tag of each container image: latest when none is given, digest when pinned by digest (Harrier)"),
    FieldInfo::special("json.value", FieldType::String, ArgSpec::RequiredPointer, JSON_VALUE, "the value at a JSON pointer into the event"),
    FieldInfo::special("jevt.value", FieldType::String, ArgSpec::RequiredPointer, JSON_VALUE, "alias of json.value"),
    FieldInfo::special("json.obj", FieldType::String, ArgSpec::None, JSON_OBJ, "the whole event as compact JSON"),
    FieldInfo::special("jevt.obj", FieldType::String, ArgSpec::None, JSON_OBJ, "alias of json.obj"),
    FieldInfo::special("json.rawtime", FieldType::String, ArgSpec::None, JSON_RAWTIME, "the event time (stageTimestamp) in nanoseconds"),
    FieldInfo::special("jevt.rawtime", FieldType::String, ArgSpec::None, JSON_RAWTIME, "alias of json.rawtime"),
    FieldInfo::special("json.path", FieldType::StringList, ArgSpec::RequiredPath, JSON_PATH, "every value at a dotted path, through arrays (Sigma field semantics)"),
    common::FIELDS[0],
    common::FIELDS[1],
    common::FIELDS[2],
    common::FIELDS[3],
    common::FIELDS[4],
    common::FIELDS[5],
    common::FIELDS[6],
];

/// The `k8s_audit` source.
pub static SOURCE: SourceInfo = SourceInfo {
    name: "k8s_audit",
    fields: &FIELDS,
    type_field: Some("ka.target.resource"),
    type_path: Some(&["objectRef", "resource"]),
    second_field: None,
    missing: &[],
};
