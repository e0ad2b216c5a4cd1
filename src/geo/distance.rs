//! Great-circle distance between two points on the Earth.

/// Mean Earth radius in kilometres (IUGG mean radius R1).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point in degrees of latitude (north positive) and longitude (east positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

/// Great-circle distance in kilometres by the haversine formula, which stays accurate for
/// small distances (unlike the spherical law of cosines) and is exact enough on a sphere for
/// choosing a data center.
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A point as a unit vector from the Earth's centre. Of two points, the one nearer a third
/// along the surface is the one whose vector has the larger dot product with the third's (the
/// great-circle distance is `R·acos(dot)`, which falls as the dot product rises), so once the
/// vectors are known, ordering by distance costs three multiplications a pair and no
/// trigonometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit([f64; 3]);

impl Unit {
    /// The vector of `p`.
    pub fn of(p: Point) -> Unit {
        let (sin_lat, cos_lat) = p.lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = p.lon.to_radians().sin_cos();
        Unit([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat])
    }

    /// The cosine of the angle between two points: 1 for the same point, -1 for antipodes.
    pub fn closeness(self, other: Unit) -> f64 {
        self.0[0] * other.0[0] + self.0[1] * other.0[1] + self.0[2] * other.0[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closeness_orders_points_as_distance_does() {
        let points = [
            p(52.37, 4.90),
            p(38.95, -77.45),
            p(1.35, 103.82),
            p(-33.87, 151.21),
            p(-17.7, 178.0),
            p(-13.8, -172.1),
            p(64.1, -21.9),
            p(50.11, 8.68),
            p(50.12, 8.69),
            p(0.0, 180.0),
            p(-90.0, 0.0),
        ];
        for &from in &points {
            let mut by_km = points.to_vec();
            by_km.sort_by(|a, b| distance_km(from, *a).total_cmp(&distance_km(from, *b)));
            let mut by_unit = points.to_vec();
            by_unit.sort_by(|a, b| {
                Unit::of(from).closeness(Unit::of(*b)).total_cmp(&Unit::of(from).closeness(Unit::of(*a)))
            });
            assert_eq!(by_km, by_unit, "from {from:?}");
        }
    }

    fn p(lat: f64, lon: f64) -> Point {
        Point { lat, lon }
    }

    #[test]
    fn known_distances() {
        // Amsterdam - Ashburn, Amsterdam - Singapore, within 0.5% of published figures.
        let ams = p(52.37, 4.90);
        let iad = p(38.95, -77.45);
        let sin = p(1.35, 103.82);
        let d = distance_km(ams, iad);
        assert!((d - 6230.0).abs() < 40.0, "{d}");
        let d = distance_km(ams, sin);
        assert!((d - 10480.0).abs() < 60.0, "{d}");
        assert_eq!(distance_km(ams, ams), 0.0);
        // Across the antimeridian: Fiji to Samoa is about 1150 km, not 39000.
        let d = distance_km(p(-17.7, 178.0), p(-13.8, -172.1));
        assert!(d < 1200.0, "{d}");
        // Antipodes: half the circumference.
        let d = distance_km(p(0.0, 0.0), p(0.0, 180.0));
        assert!((d - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }
}
