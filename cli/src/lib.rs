//! airlockctl
