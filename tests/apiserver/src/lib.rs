#![forbid(unsafe_code)]
//! An in-memory Kubernetes API server for Portico's end-to-end tests and local sandbox.
//!
//! A real HTTP server on loopback that speaks enough of the Kubernetes API, faithfully, for
//! kube-rs controllers and a real `kubectl` to work against it unchanged: discovery, built-in
//! kinds (in JSON or protobuf) plus any CRD's kinds, one resourceVersion counter, list/watch with
//! bookmarks and `410 Gone`, selectors and pagination, the four patch types, the status subresource,
//! finalizers, namespace deletion, ownerReference garbage collection, CRD schema validation, and
//! fault injection. What it leaves out is listed in its README.

pub mod error;
pub mod faults;
pub mod patch;
pub mod proto;
pub mod rbac;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod upstream;

mod discovery;
mod http;
mod openapi;
mod resources;
mod reviews;
mod store;
mod time;
mod watch;
mod writes;

pub use faults::Failure;
pub use server::{ApiServer, Options, kubeconfig_for};
