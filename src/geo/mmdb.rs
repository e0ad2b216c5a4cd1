//! Reading location records from a MaxMind DB file, leniently.
//!
//! Two layouts are in use: GeoIP2/GeoLite2 (`country.iso_code`, `continent.code`,
//! `location.latitude`, `subdivisions[0].iso_code`) and the flat DB-IP / ip-location-db one
//! (`country_code`, `latitude`, `longitude`). Databases differ in the types they store
//! (coordinates as double, float or string), and `maxminddb` refuses a record whose field
//! has another type than the struct says, so records are walked by hand: a field of an
//! unexpected type is ignored, never an error. Strings are borrowed from the database, so a
//! lookup allocates nothing.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::code::Code;

/// The fields of one database record that locating needs.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RawLocation {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<Code>,
    /// Continent code (AF AN AS EU NA OC SA).
    pub continent: Option<Code>,
    /// The first (largest) subdivision's ISO 3166-2 code, without the country part.
    pub subdivision: Option<Code>,
    /// Latitude of the record, when the database has coordinates.
    pub latitude: Option<f64>,
    /// Longitude of the record.
    pub longitude: Option<f64>,
}

impl<'de> serde::Deserialize<'de> for RawLocation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawLocation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a location record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLocation, A::Error> {
        let mut out = RawLocation::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0 {
                "country_code" => out.country = out.country.or(map.next_value::<Text<'de>>()?.code()),
                "latitude" => out.latitude = map.next_value::<Number>()?.0,
                "longitude" => out.longitude = map.next_value::<Number>()?.0,
                "country" => {
                    let f = map.next_value::<Fields<'de>>()?;
                    out.country = f.iso_code.or(out.country);
                }
                "continent" => out.continent = map.next_value::<Fields<'de>>()?.code,
                "location" => {
                    let f = map.next_value::<Fields<'de>>()?;
                    out.latitude = f.latitude.or(out.latitude);
                    out.longitude = f.longitude.or(out.longitude);
                }
                "subdivisions" => out.subdivision = map.next_value::<FirstSubdivision>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLocation, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawLocation::default())
    }

    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawLocation, E> {
        Ok(RawLocation::default())
    }
}

/// A map key, borrowed.
struct Key<'a>(&'a str);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Key<'de>, E> {
                Ok(Key(""))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any value; kept when it is a string.
struct Text<'a>(Option<&'a str>);

impl Text<'_> {
    fn code(&self) -> Option<Code> {
        self.0.and_then(Code::new)
    }
}

impl<'de> serde::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor::<Text<'de>>::new())
    }
}

/// Any value; kept when it is a number, or a string holding one.
struct Number(Option<f64>);

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor::<Number>::new())
    }
}

/// What a lenient scalar visitor builds from each kind of value.
trait FromAny<'de>: Sized {
    fn none() -> Self;
    fn from_str(_: &'de str) -> Self {
        Self::none()
    }
    fn from_f64(_: f64) -> Self {
        Self::none()
    }
}

impl<'de> FromAny<'de> for Text<'de> {
    fn none() -> Self {
        Text(None)
    }
    fn from_str(s: &'de str) -> Self {
        Text(Some(s))
    }
}

impl FromAny<'_> for Number {
    fn none() -> Self {
        Number(None)
    }
    fn from_str(s: &str) -> Self {
        Number(s.trim().parse().ok().filter(|v: &f64| v.is_finite()))
    }
    fn from_f64(v: f64) -> Self {
        Number(Some(v).filter(|v| v.is_finite()))
    }
}

struct AnyVisitor<T>(std::marker::PhantomData<T>);

impl<T> AnyVisitor<T> {
    fn new() -> Self {
        AnyVisitor(std::marker::PhantomData)
    }
}

impl<'de, T: FromAny<'de>> Visitor<'de> for AnyVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_str(v))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::from_f64(v))
    }
    fn visit_f32<E: de::Error>(self, v: f32) -> Result<T, E> {
        Ok(T::from_f64(f64::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::from_f64(v as f64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::from_f64(v as f64))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::none())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(T::none())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::none())
    }
}

/// The fields of a nested map the layouts use (`country`, `continent`, `location`, a
/// subdivision); a value that is not a map gives all `None`.
#[derive(Default)]
struct Fields<'a> {
    iso_code: Option<Code>,
    code: Option<Code>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut out = Fields::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0 {
                        "iso_code" => out.iso_code = map.next_value::<Text<'de>>()?.code(),
                        "code" => out.code = map.next_value::<Text<'de>>()?.code(),
                        "latitude" => out.latitude = map.next_value::<Number>()?.0,
                        "longitude" => out.longitude = map.next_value::<Number>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fields<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Fields::default())
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Fields<'de>, E> {
                Ok(Fields::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The ISO code of the first element of `subdivisions`, the rest skipped.
struct FirstSubdivision(Option<Code>);

impl<'de> serde::Deserialize<'de> for FirstSubdivision {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FirstSubdivision;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of subdivisions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstSubdivision, A::Error> {
                let first = seq.next_element::<Fields<'de>>()?.and_then(|f| f.iso_code);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstSubdivision(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstSubdivision, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FirstSubdivision(None))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<FirstSubdivision, E> {
                Ok(FirstSubdivision(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<FirstSubdivision, E> {
                Ok(FirstSubdivision(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<FirstSubdivision, E> {
                Ok(FirstSubdivision(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<FirstSubdivision, E> {
                Ok(FirstSubdivision(None))
            }
        }
        d.deserialize_any(V)
    }
}
