//! Astronomy for the lunar calendar: when new moons happen and where the sun stands.
//!
//! The Vietnamese calendar is defined by two events, the true new moon (which starts a month)
//! and the sun's apparent longitude reaching a multiple of 30° (a major solar term, which
//! numbers the months and places the leap month). Both are computed here from Jean Meeus,
//! "Astronomical Algorithms" (2nd ed.): chapter 49 for the new moon, chapter 25 (low precision,
//! about 0.01°) for the sun. Meeus works in dynamical time (TT); civil days are in universal
//! time, so ΔT is applied with the Espenak-Meeus polynomial fits. All moments are Julian days.

use std::f64::consts::PI;

/// Julian day of the J2000.0 epoch (2000-01-01 12:00 TT).
const J2000: f64 = 2_451_545.0;

/// Days in a Julian century.
const JULIAN_CENTURY: f64 = 36_525.0;

/// Mean length of a synodic month in days (Meeus 49.1).
pub(crate) const SYNODIC_MONTH: f64 = 29.530_588_861;

/// Julian ephemeris day of the mean new moon with k = 0 (2000-01-06).
pub(crate) const NEW_MOON_EPOCH: f64 = 2_451_550.097_66;

/// Sine of an angle given in degrees.
fn sin_deg(degrees: f64) -> f64 {
    (degrees * PI / 180.0).sin()
}

/// The moment, in Julian ephemeris days (TT), of the true new moon number `k`, where `k = 0`
/// is the new moon of 2000-01-06 and `k` counts lunations (Meeus chapter 49). After ΔT, the
/// universal times are within a minute of the JPL DE421 ephemeris over 1900-2053 (12 s on
/// average, the largest gaps around 1900).
pub(crate) fn new_moon_jde(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1_236.85;
    let t2 = t * t;
    let t3 = t2 * t;
    let t4 = t3 * t;

    // Mean phase (49.1).
    let mean = NEW_MOON_EPOCH + SYNODIC_MONTH * k + 0.000_154_37 * t2 - 0.000_000_150 * t3
        + 0.000_000_000_73 * t4;

    // Eccentricity of the earth's orbit (47.6) and the fundamental arguments (49.4-49.7).
    let e = 1.0 - 0.002_516 * t - 0.000_007_4 * t2;
    let m = 2.5534 + 29.105_356_70 * k - 0.000_001_4 * t2 - 0.000_000_11 * t3;
    let mp =
        201.5643 + 385.816_935_28 * k + 0.010_758_2 * t2 + 0.000_012_38 * t3 - 0.000_000_058 * t4;
    let f =
        160.7108 + 390.670_502_84 * k - 0.001_611_8 * t2 - 0.000_002_27 * t3 + 0.000_000_011 * t4;
    let omega = 124.7746 - 1.563_755_88 * k + 0.002_067_2 * t2 + 0.000_002_15 * t3;

    // Periodic terms for the new moon.
    let periodic = -0.407_20 * sin_deg(mp)
        + 0.172_41 * e * sin_deg(m)
        + 0.016_08 * sin_deg(2.0 * mp)
        + 0.010_39 * sin_deg(2.0 * f)
        + 0.007_39 * e * sin_deg(mp - m)
        - 0.005_14 * e * sin_deg(mp + m)
        + 0.002_08 * e * e * sin_deg(2.0 * m)
        - 0.001_11 * sin_deg(mp - 2.0 * f)
        - 0.000_57 * sin_deg(mp + 2.0 * f)
        + 0.000_56 * e * sin_deg(2.0 * mp + m)
        - 0.000_42 * sin_deg(3.0 * mp)
        + 0.000_42 * e * sin_deg(m + 2.0 * f)
        + 0.000_38 * e * sin_deg(m - 2.0 * f)
        - 0.000_24 * e * sin_deg(2.0 * mp - m)
        - 0.000_17 * sin_deg(omega)
        - 0.000_07 * sin_deg(mp + 2.0 * m)
        + 0.000_04 * sin_deg(2.0 * mp - 2.0 * f)
        + 0.000_04 * sin_deg(3.0 * m)
        + 0.000_03 * sin_deg(mp + m - 2.0 * f)
        + 0.000_03 * sin_deg(2.0 * mp + 2.0 * f)
        - 0.000_03 * sin_deg(mp + m + 2.0 * f)
        + 0.000_03 * sin_deg(mp - m + 2.0 * f)
        - 0.000_02 * sin_deg(mp - m - 2.0 * f)
        - 0.000_02 * sin_deg(3.0 * mp + m)
        + 0.000_02 * sin_deg(4.0 * mp);

    // Additional corrections from the planetary arguments A1-A14.
    let planetary: [(f64, f64, f64); 14] = [
        (0.000_325, 299.77, 0.107_408),
        (0.000_165, 251.88, 0.016_321),
        (0.000_164, 251.83, 26.651_886),
        (0.000_126, 349.42, 36.412_478),
        (0.000_110, 84.66, 18.206_239),
        (0.000_062, 141.74, 53.303_771),
        (0.000_060, 207.14, 2.453_732),
        (0.000_056, 154.84, 7.306_860),
        (0.000_047, 34.52, 27.261_239),
        (0.000_042, 207.19, 0.121_824),
        (0.000_040, 291.34, 1.844_379),
        (0.000_037, 161.72, 24.198_154),
        (0.000_035, 239.56, 25.513_099),
        (0.000_023, 331.55, 3.592_518),
    ];
    let additional: f64 = planetary
        .iter()
        .enumerate()
        .map(|(i, &(coefficient, a0, rate))| {
            // Only A1 has a T² term.
            let quadratic = if i == 0 { -0.009_173 * t2 } else { 0.0 };
            coefficient * sin_deg(a0 + rate * k + quadratic)
        })
        .sum();

    mean + periodic + additional
}

/// The sun's apparent geocentric longitude in degrees, in `[0, 360)`, at the Julian ephemeris
/// day `jde` (Meeus chapter 25, low precision: about 0.01°, a quarter of an hour of the sun's
/// motion).
pub(crate) fn sun_apparent_longitude(jde: f64) -> f64 {
    let t = (jde - J2000) / JULIAN_CENTURY;
    let t2 = t * t;
    // Geometric mean longitude (25.2) and mean anomaly (25.3).
    let l0 = 280.466_46 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let m = 357.529_11 + 35_999.050_29 * t - 0.000_153_7 * t2;
    // Equation of the centre.
    let c = (1.914_602 - 0.004_817 * t - 0.000_014 * t2) * sin_deg(m)
        + (0.019_993 - 0.000_101 * t) * sin_deg(2.0 * m)
        + 0.000_289 * sin_deg(3.0 * m);
    let true_longitude = l0 + c;
    // Nutation and aberration.
    let omega = 125.04 - 1_934.136 * t;
    let apparent = true_longitude - 0.005_69 - 0.004_78 * sin_deg(omega);
    apparent.rem_euclid(360.0)
}

/// ΔT = TT − UT in seconds for a decimal year, from the polynomial fits of Espenak and Meeus
/// (NASA Five Millennium Canon of Solar Eclipses), within a second or so over 1900-2020 and
/// an extrapolation of a few seconds' error beyond. Outside 1860-2150 the long-term parabola is
/// used, which keeps far dates meaningful without being accurate.
pub(crate) fn delta_t_seconds(year: f64) -> f64 {
    let long_term = |y: f64| {
        let u = (y - 1820.0) / 100.0;
        -20.0 + 32.0 * u * u
    };
    match year {
        y if y < 1860.0 => long_term(y),
        y if y < 1900.0 => {
            let t = y - 1860.0;
            7.62 + 0.5737 * t - 0.251_754 * t.powi(2) + 0.016_806_68 * t.powi(3)
                - 0.000_447_362_4 * t.powi(4)
                + t.powi(5) / 233_174.0
        }
        y if y < 1920.0 => {
            let t = y - 1900.0;
            -2.79 + 1.494_119 * t - 0.059_893_9 * t.powi(2) + 0.006_196_6 * t.powi(3)
                - 0.000_197 * t.powi(4)
        }
        y if y < 1941.0 => {
            let t = y - 1920.0;
            21.20 + 0.844_93 * t - 0.076_100 * t.powi(2) + 0.002_093_6 * t.powi(3)
        }
        y if y < 1961.0 => {
            let t = y - 1950.0;
            29.07 + 0.407 * t - t.powi(2) / 233.0 + t.powi(3) / 2_547.0
        }
        y if y < 1986.0 => {
            let t = y - 1975.0;
            45.45 + 1.067 * t - t.powi(2) / 260.0 - t.powi(3) / 718.0
        }
        y if y < 2005.0 => {
            let t = y - 2000.0;
            63.86 + 0.3345 * t - 0.060_374 * t.powi(2)
                + 0.001_727_5 * t.powi(3)
                + 0.000_651_814 * t.powi(4)
                + 0.000_023_735_99 * t.powi(5)
        }
        y if y < 2050.0 => {
            let t = y - 2000.0;
            62.92 + 0.322_17 * t + 0.005_589 * t.powi(2)
        }
        y if y < 2150.0 => long_term(y) - 0.5628 * (2150.0 - y),
        y => long_term(y),
    }
}

/// The decimal year of a Julian day, precise enough for ΔT.
pub(crate) fn decimal_year(jd: f64) -> f64 {
    2000.0 + (jd - J2000) / 365.2425
}

/// Converts a Julian ephemeris day (TT) to a Julian day in universal time.
pub(crate) fn tt_to_ut(jde: f64) -> f64 {
    jde - delta_t_seconds(decimal_year(jde)) / 86_400.0
}

/// Converts a Julian day in universal time to a Julian ephemeris day (TT).
pub(crate) fn ut_to_tt(jd: f64) -> f64 {
    jd + delta_t_seconds(decimal_year(jd)) / 86_400.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meeus example 49.a: the new moon of 1977 February is at JDE 2443192.65118.
    #[test]
    fn new_moon_matches_meeus_example() {
        let jde = new_moon_jde(-283);
        assert!((jde - 2_443_192.651_18).abs() < 0.000_01, "{jde}");
    }

    /// Meeus example 25.a: on 1992 October 13.0 TD the sun's apparent longitude is 199.90895°.
    #[test]
    fn sun_longitude_matches_meeus_example() {
        let longitude = sun_apparent_longitude(2_448_908.5);
        assert!((longitude - 199.908_95).abs() < 0.001, "{longitude}");
    }

    #[test]
    fn delta_t_is_continuous_enough_and_plausible() {
        // Published values: about 29 s in 1950, 64 s in 2000.
        assert!((delta_t_seconds(1950.0) - 29.07).abs() < 0.5);
        assert!((delta_t_seconds(2000.0) - 63.86).abs() < 0.5);
        for year in 1861..2200 {
            let y = year as f64;
            let jump = (delta_t_seconds(y) - delta_t_seconds(y - 0.001)).abs();
            assert!(jump < 3.0, "ΔT jumps by {jump} s at {year}");
        }
    }
}
