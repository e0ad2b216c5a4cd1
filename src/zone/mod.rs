//! Zone files -> an immutable zone set.

pub mod lexer;
pub mod name;
pub mod rdata;
