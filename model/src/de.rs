//! Private serde helpers reproducing Jackson's handling of JSON `null` for fields Baton
//! stores as non-optional values.

use serde::{Deserialize, Deserializer};

/// `null` → the type's zero value (`0`, `false`, `""`, empty collection), as Jackson
/// does for Java primitives and as Baton does for collections Conductor initialises.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `null` → 1: for boxed Conductor fields whose getter or initialiser yields 1.
pub(crate) fn null_as_one<'de, D>(deserializer: D) -> Result<i32, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<i32>::deserialize(deserializer)?.unwrap_or(1))
}
