//! Packages: discover e-model packages under a directory tree and read their JSON/INI dialects
//! into [`EModel`]s (parameters, distributions, mechanisms per location, protocols, features).

pub mod formula;
pub mod ini;
pub mod json;
