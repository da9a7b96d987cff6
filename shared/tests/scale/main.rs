//! Scale-down planner, terminate planner and WEKA model decoding, on pure inputs.

#![allow(clippy::unwrap_used)]

mod common;
mod decode;
mod leaving;
mod proptest_scale;
mod scale_down;
mod terminate;
