//! IdP metadata in, SP metadata out (to be written).
