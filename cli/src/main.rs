//! airlockctl binary
fn main() {}
