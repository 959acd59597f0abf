//! Built-in validators (being written).
