//! The image supply chain around Harrier's scanner ([`harrier_image`]).
//!
//! - [`push`]: an ECR push, read from CloudTrail's `PutImage` or EventBridge's "ECR Image
//!   Action", with who pushed it.
//! - [`results`]: the image database: one scan per digest, where each tag points (and where it
//!   pointed before), and the pushes still to be scanned (a durable queue: a push is recorded
//!   before its source is acknowledged).
//! - [`verdict`]: a scan reduced to what decides: malware, critical vulnerabilities that have a
//!   fix, practice findings, each a readable reason.
//! - [`watch`]: a push taken through the database and the scanner into alerts that carry the
//!   repository, tag, digest and pusher, and the entities that join the pusher's incident.
//! - [`admission`]: Kubernetes' AdmissionReview v1 read (Pods and the workloads that make
//!   them), judged by a policy, answered.
//! - [`inventory`]: the images that run: a Kubernetes pod list, and (feature `aws`) ECS tasks
//!   on every cluster, Fargate included.
//! - [`scanner`]: what pulls and scans an image by reference (a registry, with ECR
//!   credentials under feature `aws`), behind a trait the tests can also implement.
#![deny(missing_docs)]

pub mod admission;
pub mod inventory;
pub mod push;
pub mod results;
pub mod scanner;
pub mod verdict;
pub mod watch;
