//! External command validators (being written).
