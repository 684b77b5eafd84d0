//! The `aws_cloudtrail` field table: every field of Falco's CloudTrail plugin, plus `evt.*`
//! and `json.*`.

use crate::field::{common, ArgSpec, Extract, FieldInfo, FieldType, SourceInfo};

pub(super) const fn s(
    name: &'static str,
    path: &'static [&'static str],
    desc: &'static str,
) -> FieldInfo {
    FieldInfo {
        name,
        ty: FieldType::String,
        arg: ArgSpec::None,
        extract: Extract::Str(path),
        desc,
    }
}
pub(super) const fn j(
    name: &'static str,
    path: &'static [&'static str],
    desc: &'static str,
) -> FieldInfo {
    FieldInfo {
        name,
        ty: FieldType::String,
        arg: ArgSpec::None,
        extract: Extract::Json(path),
        desc,
    }
}
pub(super) const fn b(
    name: &'static str,
    path: &'static [&'static str],
    desc: &'static str,
) -> FieldInfo {
    FieldInfo {
        name,
        ty: FieldType::String,
        arg: ArgSpec::None,
        extract: Extract::Bool(path),
        desc,
    }
}
pub(super) const fn x(
    name: &'static str,
    ty: FieldType,
    arg: ArgSpec,
    code: u16,
    desc: &'static str,
) -> FieldInfo {
    FieldInfo {
        name,
        ty,
        arg,
        extract: Extract::Special(code),
        desc,
    }
}

pub(super) const SHORTSRC: u16 = 1;
pub(super) const USER: u16 = 2;
pub(super) const ORIGINALUSER: u16 = 3;
pub(super) const ACCOUNTID: u16 = 4;
pub(super) const INFO: u16 = 5;
pub(super) const READONLY: u16 = 6;
pub(super) const RESOURCES: u16 = 7;
pub(super) const S3_URI: u16 = 8;
pub(super) const S3_BYTES: u16 = 9;
pub(super) const S3_BYTES_IN: u16 = 10;
pub(super) const S3_BYTES_OUT: u16 = 11;
pub(super) const S3_CNT_GET: u16 = 12;
pub(super) const S3_CNT_PUT: u16 = 13;
pub(super) const S3_CNT_OTHER: u16 = 14;
pub(super) const EC2_NAME: u16 = 15;
pub(super) const EC2_IMAGEID: u16 = 16;
pub(super) const EC2_IMAGEIDS: u16 = 17;
pub(super) const JSON_VALUE: u16 = 18;
pub(super) const ALWAYS_ABSENT: u16 = 19;

pub(super) const RP: &str = "requestParameters";

/// Every field of the `aws_cloudtrail` source.
pub static FIELDS: [FieldInfo; 95] = [
    s(
        "ct.id",
        &["eventID"],
        "the unique ID of the CloudTrail event (eventID)",
    ),
    s(
        "ct.error",
        &["errorCode"],
        "the error code from the event; absent if there was no error",
    ),
    s(
        "ct.errormessage",
        &["errorMessage"],
        "the description of an error, if any",
    ),
    s(
        "ct.time",
        &["eventTime"],
        "the timestamp of the event (eventTime)",
    ),
    s(
        "ct.src",
        &["eventSource"],
        "the source of the event (eventSource), e.g. iam.amazonaws.com",
    ),
    x(
        "ct.shortsrc",
        FieldType::String,
        ArgSpec::None,
        SHORTSRC,
        "eventSource without '.amazonaws.com'",
    ),
    s(
        "ct.name",
        &["eventName"],
        "the name of the event (eventName)",
    ),
    x(
        "ct.user",
        FieldType::String,
        ArgSpec::None,
        USER,
        "the user of the event, by identity type",
    ),
    x(
        "ct.originaluser",
        FieldType::String,
        ArgSpec::None,
        ORIGINALUSER,
        "the user who originated the request (session name for assumed roles)",
    ),
    x(
        "ct.user.accountid",
        FieldType::String,
        ArgSpec::None,
        ACCOUNTID,
        "the account id of the identity, falling back to recipientAccountId",
    ),
    s(
        "ct.user.identitytype",
        &["userIdentity", "type"],
        "the kind of identity (Root, IAMUser, AssumedRole, AWSService, ...)",
    ),
    s(
        "ct.user.principalid",
        &["userIdentity", "principalId"],
        "a unique identifier for the calling entity",
    ),
    s(
        "ct.user.arn",
        &["userIdentity", "arn"],
        "the ARN of the calling identity",
    ),
    s(
        "ct.region",
        &["awsRegion"],
        "the region of the event (awsRegion)",
    ),
    s(
        "ct.response.subnetid",
        &["responseElements", "subnetId"],
        "the subnet ID in the response",
    ),
    s(
        "ct.response.reservationid",
        &["responseElements", "reservationId"],
        "the reservation ID in the response",
    ),
    j(
        "ct.response",
        &["responseElements"],
        "the whole responseElements, as JSON text",
    ),
    s(
        "ct.request.availabilityzone",
        &[RP, "availabilityZone"],
        "requestParameters.availabilityZone",
    ),
    s(
        "ct.request.cluster",
        &[RP, "cluster"],
        "requestParameters.cluster",
    ),
    s(
        "ct.request.functionname",
        &[RP, "functionName"],
        "requestParameters.functionName",
    ),
    s(
        "ct.request.groupname",
        &[RP, "groupName"],
        "requestParameters.groupName",
    ),
    s("ct.request.host", &[RP, "Host"], "requestParameters.Host"),
    s("ct.request.name", &[RP, "name"], "requestParameters.name"),
    s(
        "ct.request.policy",
        &[RP, "policy"],
        "requestParameters.policy",
    ),
    s(
        "ct.request.reason",
        &[RP, "reason"],
        "requestParameters.reason",
    ),
    s(
        "ct.request.target",
        &[RP, "target"],
        "requestParameters.target",
    ),
    x(
        "ct.request.documentname",
        FieldType::String,
        ArgSpec::None,
        ALWAYS_ABSENT,
        "requestParameters.documentName (always absent, as in Falco's plugin)",
    ),
    s(
        "ct.request.serialnumber",
        &[RP, "serialNumber"],
        "requestParameters.serialNumber",
    ),
    s(
        "ct.request.servicename",
        &[RP, "serviceName"],
        "requestParameters.serviceName",
    ),
    s(
        "ct.request.subnetid",
        &[RP, "subnetId"],
        "requestParameters.subnetId",
    ),
    s(
        "ct.request.taskdefinition",
        &[RP, "taskDefinition"],
        "requestParameters.taskDefinition",
    ),
    s(
        "ct.request.username",
        &[RP, "userName"],
        "requestParameters.userName",
    ),
    j(
        "ct.request",
        &[RP],
        "the whole requestParameters, as JSON text",
    ),
    s(
        "ct.srcip",
        &["sourceIPAddress"],
        "the IP address that made the request",
    ),
    s(
        "ct.useragent",
        &["userAgent"],
        "the user agent of the request",
    ),
    x(
        "ct.info",
        FieldType::String,
        ArgSpec::None,
        INFO,
        "one-line summary: who, from where, what",
    ),
    b(
        "ct.managementevent",
        &["managementEvent"],
        "whether this is a management event",
    ),
    x(
        "ct.readonly",
        FieldType::String,
        ArgSpec::None,
        READONLY,
        "whether the call only reads (readOnly)",
    ),
    s("ct.requestid", &["requestID"], "the request ID"),
    s(
        "ct.eventtype",
        &["eventType"],
        "the event type (AwsApiCall, AwsConsoleSignIn, ...)",
    ),
    s("ct.apiversion", &["apiVersion"], "the API version"),
    x(
        "ct.resources",
        FieldType::String,
        ArgSpec::None,
        RESOURCES,
        "the resources list, each as JSON, joined by ','",
    ),
    s(
        "ct.recipientaccountid",
        &["recipientAccountId"],
        "the account that received the event",
    ),
    j(
        "ct.serviceeventdetails",
        &["serviceEventDetails"],
        "serviceEventDetails, as JSON text",
    ),
    s(
        "ct.sharedeventid",
        &["sharedEventID"],
        "the shared event ID",
    ),
    s(
        "ct.vpcendpointid",
        &["vpcEndpointId"],
        "the VPC endpoint used",
    ),
    s(
        "ct.eventcategory",
        &["eventCategory"],
        "the event category (Management, Data, Insight)",
    ),
    s(
        "ct.addendum.reason",
        &["addendum", "reason"],
        "addendum.reason",
    ),
    s(
        "ct.addendum.updatedfields",
        &["addendum", "updatedFields"],
        "addendum.updatedFields",
    ),
    s(
        "ct.addendum.originalrequestid",
        &["addendum", "originalRequestID"],
        "addendum.originalRequestID",
    ),
    s(
        "ct.addendum.originaleventid",
        &["addendum", "originalEventID"],
        "addendum.originalEventID",
    ),
    b(
        "ct.sessioncredentialfromconsole",
        &["sessionCredentialFromConsole"],
        "whether the credentials came from the console",
    ),
    j(
        "ct.edgedevicedetails",
        &["edgeDeviceDetails"],
        "edgeDeviceDetails",
    ),
    s(
        "ct.tlsdetails.tlsversion",
        &["tlsDetails", "tlsVersion"],
        "TLS version of the request",
    ),
    s(
        "ct.tlsdetails.ciphersuite",
        &["tlsDetails", "cipherSuite"],
        "TLS cipher suite of the request",
    ),
    s(
        "ct.tlsdetails.clientprovidedhostheader",
        &["tlsDetails", "clientProvidedHostHeader"],
        "host header sent by the client",
    ),
    j(
        "ct.additionaleventdata",
        &["additionalEventData"],
        "additionalEventData, as JSON text",
    ),
    x(
        "s3.uri",
        FieldType::String,
        ArgSpec::None,
        S3_URI,
        "s3://bucket/key of the request",
    ),
    s(
        "s3.bucket",
        &[RP, "bucketName"],
        "the bucket name of the request",
    ),
    s("s3.key", &[RP, "key"], "the object key of the request"),
    x(
        "s3.bytes",
        FieldType::U64,
        ArgSpec::None,
        S3_BYTES,
        "bytes transferred in plus out",
    ),
    x(
        "s3.bytes.in",
        FieldType::U64,
        ArgSpec::None,
        S3_BYTES_IN,
        "bytes transferred in",
    ),
    x(
        "s3.bytes.out",
        FieldType::U64,
        ArgSpec::None,
        S3_BYTES_OUT,
        "bytes transferred out",
    ),
    x(
        "s3.cnt.get",
        FieldType::U64,
        ArgSpec::None,
        S3_CNT_GET,
        "1 for GetObject events",
    ),
    x(
        "s3.cnt.put",
        FieldType::U64,
        ArgSpec::None,
        S3_CNT_PUT,
        "1 for PutObject events",
    ),
    x(
        "s3.cnt.other",
        FieldType::U64,
        ArgSpec::None,
        S3_CNT_OTHER,
        "1 for events other than GetObject and PutObject",
    ),
    x(
        "ec2.name",
        FieldType::String,
        ArgSpec::None,
        EC2_NAME,
        "the Name tag of the instance in the request",
    ),
    x(
        "ec2.imageid",
        FieldType::String,
        ArgSpec::None,
        EC2_IMAGEID,
        "the first image ID (deprecated: use ec2.imageids)",
    ),
    x(
        "ec2.imageids",
        FieldType::StringList,
        ArgSpec::OptionalIndex,
        EC2_IMAGEIDS,
        "image IDs of the instances launched",
    ),
    s(
        "ecr.repository",
        &[RP, "repositoryName"],
        "the ECR repository of the request",
    ),
    s(
        "ecr.imagetag",
        &[RP, "imageTag"],
        "the image tag of the request",
    ),
    s("iam.role", &[RP, "roleName"], "the IAM role of the request"),
    s(
        "iam.policy",
        &[RP, "policyName"],
        "the IAM policy of the request",
    ),
    x(
        "json.value",
        FieldType::String,
        ArgSpec::RequiredPointer,
        JSON_VALUE,
        "the value at a JSON pointer into the record",
    ),
    x(
        "json.path",
        FieldType::StringList,
        ArgSpec::RequiredPath,
        JSON_PATH,
        "every value at a dotted path, through arrays (Sigma field semantics)",
    ),
    x(
        "jevt.value",
        FieldType::String,
        ArgSpec::RequiredPointer,
        JSON_VALUE,
        "alias of json.value",
    ),
    common::FIELDS[0],
    common::FIELDS[1],
    common::FIELDS[2],
    common::FIELDS[3],
    common::FIELDS[4],
    common::FIELDS[5],
    common::FIELDS[6],
    x(
        "json.obj",
        FieldType::String,
        ArgSpec::None,
        20,
        "the whole record as compact JSON text",
    ),
    x(
        "json.rawtime",
        FieldType::String,
        ArgSpec::None,
        21,
        "eventTime as written",
    ),
    x(
        "iam.policy.grants",
        FieldType::String,
        ArgSpec::None,
        POLICY_GRANTS,
        "what the permission policy put or attached allows: admin, iam_full, iam_escalation or none",
    ),
    x(
        "iam.policy.actions",
        FieldType::StringList,
        ArgSpec::OptionalIndex,
        POLICY_ACTIONS,
        "the action patterns the policy document allows (NotAction patterns prefixed 'NOT ')",
    ),
    x(
        "iam.trust.exposure",
        FieldType::String,
        ArgSpec::None,
        TRUST_EXPOSURE,
        "who a role trust policy lets in: any, external (another account) or internal",
    ),
    x(
        "ec2.ingress.world",
        FieldType::String,
        ArgSpec::None,
        INGRESS_WORLD,
        "true when a security-group request opens ingress to a /0 CIDR (IPv4 or IPv6)",
    ),
    x(
        "ec2.ingress.world_ports",
        FieldType::StringList,
        ArgSpec::OptionalIndex,
        INGRESS_WORLD_PORTS,
        "ports opened to the world: tcp/22, udp/0-65535, all",
    ),
    x(
        "ec2.ingress.admin_port",
        FieldType::String,
        ArgSpec::None,
        INGRESS_ADMIN_PORT,
        "true when a remote-administration port (22, 3389, 5985-5986, 23, 2375, 6443) is open to the world",
    ),
    x(
        "s3.public_access",
        FieldType::String,
        ArgSpec::None,
        S3_PUBLIC,
        "how public an ACL or bucket policy request makes the bucket: write, read or none",
    ),
    x(
        "ec2.groupid",
        FieldType::String,
        ArgSpec::None,
        EC2_GROUPID,
        "the security group of the request (groupId, or GroupId of ModifySecurityGroupRules)",
    ),
    x(
        "ct.user.kind",
        FieldType::String,
        ArgSpec::None,
        USER_KIND,
        "person (root, IAM user, SSO or federated user), role, service or account",
    ),
    x(
        "ct.user.mfa",
        FieldType::String,
        ArgSpec::None,
        USER_MFA,
        "true/false: whether the session (or console login) used MFA",
    ),

];

pub(super) const JSON_OBJ: u16 = 20;
pub(super) const POLICY_GRANTS: u16 = 22;
pub(super) const POLICY_ACTIONS: u16 = 23;
pub(super) const TRUST_EXPOSURE: u16 = 24;
pub(super) const INGRESS_WORLD: u16 = 25;
pub(super) const INGRESS_WORLD_PORTS: u16 = 26;
pub(super) const INGRESS_ADMIN_PORT: u16 = 27;
pub(super) const S3_PUBLIC: u16 = 28;
pub(super) const USER_KIND: u16 = 29;
pub(super) const USER_MFA: u16 = 30;
pub(super) const EC2_GROUPID: u16 = 31;
pub(super) const JSON_PATH: u16 = 32;
pub(super) const JSON_RAWTIME: u16 = 21;

/// The `aws_cloudtrail` source.
pub static SOURCE: SourceInfo = SourceInfo {
    name: "aws_cloudtrail",
    fields: &FIELDS,
    type_field: Some("ct.name"),
    type_path: Some(&["eventName"]),
    second_field: Some(("ct.user.identitytype", &["userIdentity", "type"])),
    missing: &[],
};
