//! The Falco rule language: YAML items, conditions, exceptions, overrides.

pub mod condition;
pub mod exceptions;
pub mod loader;
mod rule_item;
mod versions;
