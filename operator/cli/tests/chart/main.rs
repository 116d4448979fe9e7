//! The Helm chart (`helm/portico`), tested with Helm's own library and the in-memory API server:
//! value sets lint and render, typos are refused, the Pod passes restricted Pod Security, the
//! rendered manifests install with a real kubectl, the persona roles aggregate as documented,
//! and `portico run` works under exactly the RBAC the chart renders, every rule of it needed.

mod helm;
mod install;
mod pss;
mod rbac;
mod values;
